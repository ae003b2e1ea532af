"""Azure Blob on Azurite: bucketbridge against azure-storage-blob and obstore.

    python bench/bench_azure.py                          # 1 GiB, 10,000 blobs, 3 rounds
    python bench/bench_azure.py --size-mib 256 --rounds 2
    python bench/bench_azure.py --scenarios list         # only some scenarios

It starts its own Azurite (the test fixture's, shared key enforced, blobs on
disk under the work directory) and times, in alternating order every round:

- upload: ``upload_from_file`` / the SDK's ``upload_blob(max_concurrency=8)``
  of the open file / obstore ``put`` of the file path;
- download: ``download_to_file`` / the SDK's
  ``download_blob(max_concurrency=8).readinto(file)`` / obstore ``get``
  streamed into a file; every download is checked byte for byte in round 1;
- list: every blob of a container of ``--objects``: ``list(bucket.objects)`` /
  the SDK's paged ``list_blobs`` / ``obstore.list``.

Each measurement runs in a fresh process that reports its time and its peak
RSS above what it held before the transfer began. Printed: medians and
bucketbridge's ratio to each peer (peer time / bucketbridge time: above 1.0
bucketbridge is faster).
"""

from __future__ import annotations

import argparse
import json
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
sys.path.insert(0, str(ROOT / "bench"))

from bench_s3 import _make_file, _reset_peak_rss, _same_content, _status_mib  # noqa: E402

MiB = 1024 * 1024
CLIENTS = ("bucketbridge", "sdk", "obstore")
SCENARIOS = ("upload", "download", "list")
CONCURRENCY = 8
PART = 16 * MiB
DATA = "bench-data"
LISTED = "bench-list"
SOURCE_KEY = "download-source.bin"


# --- the worker: one measurement in a fresh process -----------------------


def _bucketbridge(args: argparse.Namespace) -> Callable[[], object]:
    from bucketbridge import CloudProviderFactory, ProviderList, TransferConfig

    provider = CloudProviderFactory().create_provider(
        ProviderList.AZURE,
        {
            "azure_connection_string": args.connection_string,
            "multipart_max_concurrency": CONCURRENCY,
        },
    )
    config = TransferConfig(part_size=PART, max_concurrency=CONCURRENCY)
    if args.scenario == "upload":
        obj = provider.storage.buckets.get(DATA).objects.create(args.key)  # type: ignore[union-attr]
        return lambda: obj.upload_from_file(args.path, config)
    if args.scenario == "download":
        source = provider.storage.buckets.get(DATA).objects.get(args.key)  # type: ignore[union-attr]
        return lambda: source.download_to_file(args.path, config)  # type: ignore[union-attr]
    bucket = provider.storage.buckets.get(LISTED)
    return lambda: _expect(len(list(bucket.objects)), args.objects)  # type: ignore[union-attr]


def _sdk(args: argparse.Namespace) -> Callable[[], object]:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(
        args.connection_string, max_block_size=PART, max_single_put_size=32 * MiB
    )
    if args.scenario == "upload":
        blob = service.get_blob_client(DATA, args.key)

        def upload() -> None:
            with open(args.path, "rb") as source:
                blob.upload_blob(source, overwrite=True, max_concurrency=CONCURRENCY)

        return upload
    if args.scenario == "download":
        blob = service.get_blob_client(DATA, args.key)

        def download() -> None:
            with open(args.path, "wb") as target:
                blob.download_blob(max_concurrency=CONCURRENCY).readinto(target)

        return download
    container = service.get_container_client(LISTED)

    def list_all() -> None:
        names = [b.name for page in container.list_blobs().by_page() for b in page]
        _expect(len(names), args.objects)

    return list_all


def _obstore(args: argparse.Namespace) -> Callable[[], object]:
    import obstore
    from obstore.store import AzureStore

    fields = dict(item.split("=", 1) for item in args.connection_string.split(";") if item)

    def store(container: str) -> Any:
        return AzureStore(
            container,
            account_name=fields["AccountName"],
            account_key=fields["AccountKey"],
            endpoint=fields["BlobEndpoint"],
            client_options={"allow_http": True},
        )

    if args.scenario == "upload":
        data = store(DATA)
        return lambda: obstore.put(data, args.key, Path(args.path), max_concurrency=CONCURRENCY)
    if args.scenario == "download":
        data = store(DATA)

        def download() -> None:
            with open(args.path, "wb") as target:
                for chunk in obstore.get(data, args.key).stream(min_chunk_size=8 * MiB):
                    target.write(chunk)

        return download
    listed = store(LISTED)
    return lambda: _expect(sum(len(page) for page in obstore.list(listed)), args.objects)


def _expect(got: int, wanted: int) -> None:
    if got != wanted:
        raise SystemExit(f"expected {wanted} results, got {got}")


def worker(args: argparse.Namespace) -> None:
    action = {"bucketbridge": _bucketbridge, "sdk": _sdk, "obstore": _obstore}[args.client](args)
    before = _status_mib("VmRSS")
    _reset_peak_rss()
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    peak = max(0.0, _status_mib("VmHWM") - before)
    print(json.dumps({"seconds": seconds, "peak_mib": peak}))


# --- the driver: server, data, rounds, table -------------------------------


def _measure(common: list[str], scenario: str, client: str, key: str, path: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "worker", *common]
    command += ["--scenario", scenario, "--client", client, "--key", key, "--path", path]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{client} {scenario} failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _prepare(connection_string: str, source: Path, objects: int) -> None:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection_string)
    for name in (DATA, LISTED):
        service.create_container(name)
    with open(source, "rb") as data:
        service.get_blob_client(DATA, SOURCE_KEY).upload_blob(data, max_concurrency=CONCURRENCY)
    container = service.get_container_client(LISTED)
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: container.upload_blob(f"list/{i:05d}.dat", b"x"), range(objects)))
    print(f"filled {LISTED} with {objects} blobs in {time.monotonic() - started:.1f} s")


def _table(results: dict[tuple[str, str], list[dict[str, Any]]], size_mib: int) -> str:
    lines = [f"{'scenario':10s} {'client':13s} {'median s':>9s} {'MiB/s':>8s} {'peak MiB':>9s}"]
    ratios: list[str] = []
    for scenario in SCENARIOS:
        ours = results.get((scenario, "bucketbridge"))
        for client in CLIENTS:
            runs = results.get((scenario, client))
            if not runs:
                continue
            seconds = statistics.median(r["seconds"] for r in runs)
            peak = max(r["peak_mib"] for r in runs)
            rate = f"{size_mib / seconds:8.0f}" if scenario != "list" else f"{'':8s}"
            lines.append(f"{scenario:10s} {client:13s} {seconds:9.3f} {rate} {peak:9.0f}")
            if ours and client != "bucketbridge":
                mine = statistics.median(r["seconds"] for r in ours)
                ratios.append(f"{scenario} vs {client}: {seconds / mine:.2f}x")
    return "\n".join([*lines, "", *ratios])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--workdir", default=None, help="default: a temporary directory")
    options = parser.parse_args()
    scenarios = [s for s in options.scenarios.split(",") if s]
    clients = tuple(c for c in options.clients.split(",") if c)
    if set(scenarios) - set(SCENARIOS) or set(clients) - set(CLIENTS):
        parser.error(f"choose scenarios from {SCENARIOS} and clients from {CLIENTS}")

    from tests.servers.azurite import start_azurite
    from tests.servers.process import ServerStartError

    with tempfile.TemporaryDirectory(dir=options.workdir, prefix="bench-azure-") as work_dir:
        work = Path(work_dir)
        source = work / "source.bin"
        _make_file(source, options.size_mib * MiB)
        try:
            server_context = start_azurite(work / "azurite", in_memory=False)
            server = server_context.__enter__()
        except ServerStartError as error:
            raise SystemExit(f"bench_azure: {error}") from None
        try:
            _prepare(server.connection_string, source, options.objects)
            common = ["--connection-string", server.connection_string]
            common += ["--objects", str(options.objects)]
            results: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for round_number in range(options.rounds):
                shift = round_number % len(clients)
                order = clients[shift:] + clients[:shift]
                for scenario in scenarios:
                    for client in order:
                        key = f"upload-{client}.bin" if scenario == "upload" else SOURCE_KEY
                        path = str(source)
                        if scenario == "download":
                            path = str(work / f"download-{client}.bin")
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
            print(
                f"\n{options.size_mib} MiB object, {options.objects} blobs, medians of"
                f" {options.rounds} rounds; ratio = peer time / bucketbridge time"
            )
            print(_table(results, options.size_mib))
        finally:
            server_context.__exit__(None, None, None)


def _worker_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    for name in ("connection-string", "scenario", "client", "key", "path"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--objects", type=int, required=True)
    worker(parser.parse_args(argv))


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        _worker_main(sys.argv[2:])
    else:
        main()
