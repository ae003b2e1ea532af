"""S3 on SeaweedFS: bucketbridge against boto3 and obstore.

    python bench/bench_s3.py                          # 1 GiB, 10,000 keys, 5 rounds
    python bench/bench_s3.py --size-mib 256 --rounds 3
    python bench/bench_s3.py --scenarios list,find    # only some scenarios

It starts its own SeaweedFS (the test fixture's, signatures enforced) on free
loopback ports and times, in alternating order every round so that machine
noise hits all clients alike:

- upload: ``upload_from_file`` / boto3 ``upload_file`` (its transfer manager,
  default TransferConfig) / obstore ``put`` of the file path;
- download: ``download_to_file`` / boto3 ``download_file`` / obstore ``get``
  streamed into a file; every download is checked byte for byte in round 1;
- list: every key of a bucket of ``--objects`` keys: ``list(bucket.objects)`` /
  the ``list_objects_v2`` paginator / ``obstore.list``;
- find: one key of that bucket: ``objects.find(name=...)`` / boto3
  ``head_object`` / ``obstore.head`` (per call, the median of 50).

Each measurement runs in a fresh process, which reports its time and its peak
RSS above what it held before the transfer began (the import and client cost
is not counted). Printed: medians, bucketbridge's ratio to each peer
(throughput for transfers, speed for list/find; above 1.0 is faster), and the
peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MiB = 1024 * 1024
CLIENTS = ("bucketbridge", "boto3", "obstore")
SCENARIOS = ("upload", "download", "list", "find")
DATA_BUCKET = "bench-data"
LIST_BUCKET = "bench-list"
SOURCE_KEY = "download-source.bin"
FIND_CALLS = 50


# --- the worker: one measurement in a fresh process -----------------------


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> None:
    """Forget the peak so far (importing boto3 alone peaks above 100 MiB), so
    the peak measured is the transfer's; Linux 4.0+."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def _bucketbridge(args: argparse.Namespace) -> Callable[[], object]:
    from bucketbridge import CloudProviderFactory, ProviderList

    provider = CloudProviderFactory().create_provider(
        ProviderList.AWS,
        {
            "aws_access_key": args.access_key,
            "aws_secret_key": args.secret_key,
            "s3_endpoint_url": args.endpoint,
        },
    )
    data = provider.storage.buckets.get(DATA_BUCKET)
    listed = provider.storage.buckets.get(LIST_BUCKET)
    assert data is not None and listed is not None
    if args.scenario == "upload":
        return lambda: data.objects.create(args.key).upload_from_file(args.path)
    if args.scenario == "download":

        def download() -> None:
            obj = data.objects.get(args.key)
            assert obj is not None
            obj.download_to_file(args.path)

        return download
    if args.scenario == "list":
        return lambda: _expect(len(list(listed.objects)), args.objects)
    return lambda: _expect(len(listed.objects.find(name=args.key)), 1)


def _boto3(args: argparse.Namespace) -> Callable[[], object]:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        aws_access_key_id=args.access_key,
        aws_secret_access_key=args.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    if args.scenario == "upload":
        return lambda: client.upload_file(args.path, DATA_BUCKET, args.key)
    if args.scenario == "download":
        return lambda: client.download_file(DATA_BUCKET, args.key, args.path)
    if args.scenario == "list":

        def paginate() -> None:
            keys = [
                item["Key"]
                for page in client.get_paginator("list_objects_v2").paginate(Bucket=LIST_BUCKET)
                for item in page.get("Contents", [])
            ]
            _expect(len(keys), args.objects)

        return paginate
    return lambda: client.head_object(Bucket=LIST_BUCKET, Key=args.key)


def _obstore(args: argparse.Namespace) -> Callable[[], object]:
    import obstore
    from obstore.store import S3Store

    def store(bucket: str) -> Any:
        return S3Store(
            bucket,
            endpoint=args.endpoint,
            access_key_id=args.access_key,
            secret_access_key=args.secret_key,
            region="us-east-1",
            client_options={"allow_http": True},
        )

    data, listed = store(DATA_BUCKET), store(LIST_BUCKET)
    if args.scenario == "upload":
        return lambda: obstore.put(data, args.key, Path(args.path))
    if args.scenario == "download":

        def download() -> None:
            with open(args.path, "wb") as target:
                for chunk in obstore.get(data, args.key).stream(min_chunk_size=8 * MiB):
                    target.write(chunk)

        return download
    if args.scenario == "list":

        def list_all() -> None:
            _expect(
                sum(len(batch) for batch in obstore.list(listed, chunk_size=1000)), args.objects
            )

        return list_all
    return lambda: obstore.head(listed, args.key)


def _expect(got: int, wanted: int) -> None:
    if got != wanted:
        raise SystemExit(f"expected {wanted} results, got {got}")


def worker(args: argparse.Namespace) -> None:
    make = {"bucketbridge": _bucketbridge, "boto3": _boto3, "obstore": _obstore}[args.client]
    action = make(args)
    calls = FIND_CALLS if args.scenario == "find" else 1
    if args.scenario == "find":
        action()  # open the connection: the per-call latency is what is compared
    before = _status_mib("VmRSS")
    _reset_peak_rss()
    cpu_before = os.times()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    cpu_after = os.times()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    print(
        json.dumps(
            {
                "seconds": statistics.median(times),
                "peak_mib": max(0.0, _status_mib("VmHWM") - before),
                "cpu_seconds": cpu / calls,
            }
        )
    )


# --- the driver: server, data, rounds, table -------------------------------


def _measure(common: list[str], scenario: str, client: str, key: str, path: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "worker", *common]
    command += ["--scenario", scenario, "--client", client, "--key", key, "--path", path]
    if scenario in ("upload", "download"):
        os.sync()  # no writeback left over from the previous step
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{client} {scenario} failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _make_file(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        for offset in range(0, size, 64 * MiB):
            handle.write(os.urandom(min(64 * MiB, size - offset)))


def _same_content(one: Path, other: Path) -> bool:
    with open(one, "rb") as first, open(other, "rb") as second:
        while True:
            a, b = first.read(16 * MiB), second.read(16 * MiB)
            if a != b:
                return False
            if not a:
                return True


def _prepare(server: Any, source: Path, objects: int) -> None:
    import boto3
    from botocore.config import Config

    client = server.boto3_client()

    filler = boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=32),
    )
    for bucket in (DATA_BUCKET, LIST_BUCKET):
        client.create_bucket(Bucket=bucket)
    client.upload_file(str(source), DATA_BUCKET, SOURCE_KEY)
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda i: filler.put_object(Bucket=LIST_BUCKET, Key=_list_key(i), Body=b"x"),
                range(objects),
            )
        )
    print(f"filled {LIST_BUCKET} with {objects} keys in {time.monotonic() - started:.1f} s")


def _list_key(index: int) -> str:
    return f"list/{index:05d}.dat"


def _table(
    results: dict[tuple[str, str], list[dict[str, Any]]],
    size_mib: int,
    scenarios: list[str],
    objects: int,
) -> str:
    lines = [
        "| scenario | client | median | speed | bucketbridge ratio | peak memory | CPU s |",
        "|---|---|---|---|---|---|---|",
    ]
    for scenario in scenarios:
        ours = statistics.median(r["seconds"] for r in results[(scenario, "bucketbridge")])
        for client in CLIENTS:
            runs = results[(scenario, client)]
            seconds = statistics.median(r["seconds"] for r in runs)
            peak = max(r["peak_mib"] for r in runs)
            cpu = statistics.median(r["cpu_seconds"] for r in runs)
            if scenario in ("upload", "download"):
                speed = f"{size_mib / seconds:.0f} MiB/s"
                shown = f"{seconds:.2f} s"
            elif scenario == "list":
                speed = f"{objects / seconds:,.0f} keys/s"
                shown = f"{seconds:.3f} s"
            else:
                speed = f"{1 / seconds:,.0f} calls/s"
                shown = f"{seconds * 1000:.2f} ms"
            ratio = "—" if client == "bucketbridge" else f"{seconds / ours:.2f}x"
            lines.append(
                f"| {scenario} | {client} | {shown} | {speed} | {ratio} | {peak:.0f} MiB |"
                f" {cpu:.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--workdir", default=None, help="default: a temporary directory")
    options = parser.parse_args()
    scenarios = [s for s in options.scenarios.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {SCENARIOS}")

    # the test kit needs no pytest: pip install -e '.[bench]' is enough
    from tests.servers.process import ServerStartError

    try:
        _run(options, scenarios)
    except ServerStartError as error:
        raise SystemExit(f"bench_s3: {error}") from None


def _run(options: argparse.Namespace, scenarios: list[str]) -> None:
    from tests.servers.seaweedfs import start_seaweedfs

    with tempfile.TemporaryDirectory(dir=options.workdir, prefix="bench-s3-") as work_dir:
        work = Path(work_dir)
        source = work / "source.bin"
        _make_file(source, options.size_mib * MiB)
        with start_seaweedfs(work / "seaweedfs") as server:
            _prepare(server, source, options.objects)
            common = [
                "--endpoint", server.endpoint_url,
                "--access-key", server.access_key,
                "--secret-key", server.secret_key,
                "--objects", str(options.objects),
            ]  # fmt: skip
            results: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for round_number in range(options.rounds):
                # rotate the order each round so no client always goes first
                order = CLIENTS[round_number % 3 :] + CLIENTS[: round_number % 3]
                for scenario in scenarios:
                    for client in order:
                        key, path = _target(scenario, client, source, work, options.objects)
                        result = _measure(common, scenario, client, key, path)
                        results.setdefault((scenario, client), []).append(result)
                        checked = scenario == "download" and round_number == 0
                        if checked and not _same_content(Path(path), source):
                            raise SystemExit(f"{client} downloaded different bytes")
                        print(
                            f"round {round_number + 1} {scenario:8s} {client:12s}"
                            f" {result['seconds']:8.3f} s  peak {result['peak_mib']:6.0f} MiB",
                            flush=True,
                        )
            print()
            print(
                f"{options.size_mib} MiB object, {options.objects} keys,"
                f" medians of {options.rounds} rounds; ratio = peer time / bucketbridge time"
            )
            print(_table(results, options.size_mib, scenarios, options.objects))


def _target(scenario: str, client: str, source: Path, work: Path, objects: int) -> tuple[str, str]:
    if scenario == "upload":
        return f"upload-{client}.bin", str(source)
    if scenario == "download":
        return SOURCE_KEY, str(work / f"download-{client}.bin")
    return _list_key(objects // 2), ""


def _worker_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    for name in ("endpoint", "access-key", "secret-key", "scenario", "client", "key", "path"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--objects", type=int, required=True)
    worker(parser.parse_args(argv))


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        _worker_main(sys.argv[2:])
    else:
        main()
