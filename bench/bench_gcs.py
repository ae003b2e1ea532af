"""GCS on fake-gcs-server: bucketbridge against google-cloud-storage and obstore.

    python bench/bench_gcs.py                          # 1 GiB, 10,000 keys, 3 rounds
    python bench/bench_gcs.py --size-mib 256 --rounds 1 --scenarios upload,download

It starts its own fake-gcs-server (the test fixture's, objects in files) on a
free loopback port and times, in rotating order every round:

- upload: ``upload_from_file`` / the SDK's ``Blob.upload_from_filename`` (a
  resumable upload; ``transfer_manager.upload_chunks_concurrently`` needs the
  XML multipart API, which fake-gcs-server lacks) / obstore: not run (its
  XML PUT is refused by fake-gcs-server, 400 "invalid uploadType");
- download: ``download_to_file`` / ``transfer_manager.download_chunks_concurrently``
  (threads, 32 MiB chunks, 8 workers, so its memory is this process's) /
  obstore ``get`` streamed into a file; checked byte for byte in round 1;
- list: every key of a bucket of ``--objects`` keys: ``list(bucket.objects)`` /
  ``list(client.list_blobs(..., page_size=1000))`` / ``obstore.list``. GCS
  pages listings by 1000; fake-gcs-server answers a request without
  ``maxResults`` with every key at once, and scans the whole bucket for each
  request, so the SDK is given GCS's page size; obstore's own listing is left
  as it is (it asks for no page size, and gets one page here).

Each measurement runs in a fresh process, which reports its time and its peak
RSS above what it held before the transfer began. Printed: medians, the
peer's time over bucketbridge's (above 1.0: bucketbridge is faster), peak memory.
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
CLIENTS = ("bucketbridge", "sdk", "obstore")
SCENARIOS = ("upload", "download", "list")
SKIPPED = {("upload", "obstore")}  # see the module doc
DATA_BUCKET = "bench-data"
LIST_BUCKET = "bench-list"
SOURCE_KEY = "download-source.bin"
PROJECT = "bench"


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def _sdk_client(endpoint: str) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )


def _bucketbridge(args: argparse.Namespace) -> Callable[[], object]:
    from bucketbridge import CloudProviderFactory, ProviderList

    provider = CloudProviderFactory().create_provider(
        ProviderList.GCP,
        {"gcp_endpoint_url": args.endpoint, "gcp_anonymous": True, "gcp_project_name": PROJECT},
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
    return lambda: _expect(len(list(listed.objects)), args.objects)


def _sdk(args: argparse.Namespace) -> Callable[[], object]:
    from google.cloud.storage import transfer_manager

    client = _sdk_client(args.endpoint)
    if args.scenario == "upload":
        blob = client.bucket(DATA_BUCKET).blob(args.key, chunk_size=16 * MiB)
        return lambda: blob.upload_from_filename(args.path)
    if args.scenario == "download":
        blob = client.bucket(DATA_BUCKET).blob(args.key)
        return lambda: transfer_manager.download_chunks_concurrently(
            blob,
            args.path,
            chunk_size=32 * MiB,
            max_workers=8,
            worker_type=transfer_manager.THREAD,
        )
    # pages of 1000, as GCS serves them: without maxResults fake-gcs-server
    # answers every key in one page, and each request costs it a scan of the
    # whole bucket, so a paged client would be measured against a server quirk
    return lambda: _expect(len(list(client.list_blobs(LIST_BUCKET, page_size=1000))), args.objects)


def _obstore(args: argparse.Namespace) -> Callable[[], object]:
    import obstore
    from obstore.store import GCSStore

    # object_store reaches an emulator through these service-account fields
    key = json.dumps(
        {
            "gcs_base_url": args.endpoint,
            "disable_oauth": True,
            "client_email": "",
            "private_key": "",
            "private_key_id": "",
        }
    )

    def store(bucket: str) -> Any:
        return GCSStore(
            bucket,
            config={"google_service_account_key": key},
            client_options={"allow_http": True},
        )

    if args.scenario == "download":
        data = store(DATA_BUCKET)

        def download() -> None:
            with open(args.path, "wb") as target:
                for chunk in obstore.get(data, args.key).stream(min_chunk_size=8 * MiB):
                    target.write(chunk)

        return download
    listed = store(LIST_BUCKET)
    return lambda: _expect(
        sum(len(batch) for batch in obstore.list(listed, chunk_size=1000)), args.objects
    )


def _expect(got: int, wanted: int) -> None:
    if got != wanted:
        raise SystemExit(f"expected {wanted} results, got {got}")


def worker(args: argparse.Namespace) -> None:
    make = {"bucketbridge": _bucketbridge, "sdk": _sdk, "obstore": _obstore}[args.client]
    action = make(args)
    before = _status_mib("VmRSS")
    _reset_peak_rss()
    cpu_before = os.times()
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    cpu_after = os.times()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    peak = max(0.0, _status_mib("VmHWM") - before)
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "cpu_seconds": cpu}))


def _measure(common: list[str], scenario: str, client: str, key: str, path: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "worker", *common]
    command += ["--scenario", scenario, "--client", client, "--key", key, "--path", path]
    if scenario in ("upload", "download"):
        os.sync()
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


def _prepare(endpoint: str, source: Path, objects: int) -> None:
    client = _sdk_client(endpoint)
    for bucket in (DATA_BUCKET, LIST_BUCKET):
        client.create_bucket(bucket)
    client.bucket(DATA_BUCKET).blob(SOURCE_KEY, chunk_size=64 * MiB).upload_from_filename(
        str(source)
    )
    listed = client.bucket(LIST_BUCKET)
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: listed.blob(_list_key(i)).upload_from_string(b"x"), range(objects)))
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
        "| scenario | client | median | speed | peer time / ours | peak memory | CPU s |",
        "|---|---|---|---|---|---|---|",
    ]
    for scenario in scenarios:
        ours = statistics.median(r["seconds"] for r in results[(scenario, "bucketbridge")])
        for client in CLIENTS:
            if (scenario, client) in SKIPPED:
                lines.append(f"| {scenario} | {client} | not run (see the module doc) | | | | |")
                continue
            runs = results[(scenario, client)]
            seconds = statistics.median(r["seconds"] for r in runs)
            peak = max(r["peak_mib"] for r in runs)
            cpu = statistics.median(r["cpu_seconds"] for r in runs)
            if scenario == "list":
                speed = f"{objects / seconds:,.0f} keys/s"
            else:
                speed = f"{size_mib / seconds:.0f} MiB/s"
            ratio = "—" if client == "bucketbridge" else f"{seconds / ours:.2f}x"
            lines.append(
                f"| {scenario} | {client} | {seconds:.2f} s | {speed} | {ratio} |"
                f" {peak:.0f} MiB | {cpu:.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--workdir", default=None, help="default: a temporary directory")
    options = parser.parse_args()
    scenarios = [s for s in options.scenarios.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {SCENARIOS}")
    from tests.servers.process import ServerStartError

    try:
        _run(options, scenarios)
    except ServerStartError as error:
        raise SystemExit(f"bench_gcs: {error}") from None


def _run(options: argparse.Namespace, scenarios: list[str]) -> None:
    from tests.servers.fake_gcs import start_fake_gcs

    with tempfile.TemporaryDirectory(dir=options.workdir, prefix="bench-gcs-") as work_dir:
        work = Path(work_dir)
        source = work / "source.bin"
        _make_file(source, options.size_mib * MiB)
        with start_fake_gcs(work / "fake-gcs", in_memory=False) as server:
            _prepare(server.endpoint_url, source, options.objects)
            common = ["--endpoint", server.endpoint_url, "--objects", str(options.objects)]
            results: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for round_number in range(options.rounds):
                order = CLIENTS[round_number % 3 :] + CLIENTS[: round_number % 3]
                for scenario in scenarios:
                    for client in order:
                        if (scenario, client) in SKIPPED:
                            continue
                        key, path = _target(scenario, client, source, work, options.objects)
                        result = _measure(common, scenario, client, key, path)
                        results.setdefault((scenario, client), []).append(result)
                        first = round_number == 0
                        if (
                            first
                            and scenario == "download"
                            and not _same_content(Path(path), source)
                        ):
                            raise SystemExit(f"{client} downloaded different bytes")
                        if first and scenario == "upload":
                            _check_upload(server.endpoint_url, key, source)
                        print(
                            f"round {round_number + 1} {scenario:8s} {client:12s}"
                            f" {result['seconds']:8.3f} s  peak {result['peak_mib']:6.0f} MiB",
                            flush=True,
                        )
            print()
            print(
                f"{options.size_mib} MiB object, {options.objects} keys,"
                f" medians of {options.rounds} rounds"
            )
            print(_table(results, options.size_mib, scenarios, options.objects))


def _check_upload(endpoint: str, key: str, source: Path) -> None:
    """The uploaded object is the source, byte for byte (read back by the SDK)."""
    copy = source.with_name("uploaded-check.bin")
    _sdk_client(endpoint).bucket(DATA_BUCKET).blob(key).download_to_filename(str(copy))
    try:
        if not _same_content(copy, source):
            raise SystemExit(f"upload {key} stored different bytes")
    finally:
        copy.unlink()


def _target(scenario: str, client: str, source: Path, work: Path, objects: int) -> tuple[str, str]:
    if scenario == "upload":
        return f"upload-{client}.bin", str(source)
    if scenario == "download":
        return SOURCE_KEY, str(work / f"download-{client}.bin")
    return "", ""


def _worker_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    for name in ("endpoint", "scenario", "client", "key", "path"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--objects", type=int, required=True)
    worker(parser.parse_args(argv))


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        _worker_main(sys.argv[2:])
    else:
        main()
