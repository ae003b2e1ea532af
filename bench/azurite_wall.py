"""Is Azurite or the client the wall? Client CPU beside Azurite's CPU, per row.

    python bench/azurite_wall.py                       # upload 256 MiB, find, list 10,000
    python bench/azurite_wall.py --size-mib 64 --objects 2000 --rounds 1

Issue 13's Azure rows (upload, find, list) side by side on one Azurite
(blobs in files, as bench_azure.py): bucketbridge's lean plane, the SDK
(``upload_blob(max_concurrency=8)``, ``get_blob_properties``, paged
``list_blobs``) and obstore, rotated round by round. Each figure is a
median: the wall time, this process's CPU-seconds (every thread: the
client's whole cost) and the CPU-seconds the Azurite process spent in the
same interval (read from /proc). Where Azurite's CPU is several times the
client's, the server is the wall and cutting client CPU moves nothing but
the share of the two cores left to it.

Azurite runs ``--loose`` (as bench_azure.py), so bucketbridge's default
(``azure_checksum = auto``) sends each block's CRC-64, which Azurite then
ignores: the client's cost is real, the server's check is not made (Azure
makes it). ``--strict`` runs Azurite in its default mode instead, where the
default falls back to MD5 and Azurite verifies it. ``--md5`` adds
``azure_checksum=md5`` (what the parts' MD5 costs the client, and Azurite's
check of it). ``--no-checksum`` adds a bucketbridge variant whose parts are
neither hashed nor sent with a checksum (a measurement only: that variant's
etags are wrong). ``--no-list-metadata`` adds a listing without
``include=metadata`` (what Azurite spends on metadata; its records lack
user metadata, a measurement only). ``--small N`` adds N 4 KiB Put Blobs
from 16 threads (bench_azure.py's small-up and batch-up rows' requests).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's bucketbridge
sys.path.insert(0, str(ROOT / "bench"))  # harness

MiB = 1024 * 1024
HEADS = 500
Row = dict[str, Callable[[], object]]


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def azurite_pid(port: int) -> int:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"azurite" in part for part in command) and str(port).encode() in command:
            return int(entry)
    raise RuntimeError(f"no Azurite process listening on port {port}")


def without_checksum() -> Callable[[], None]:
    """Parts neither hashed nor verified; returns the undo."""
    from bucketbridge.drivers.azure import checksums, wire

    hashed = dict(checksums.TOKEN_OF)
    put_block = wire.AzureWire.put_block

    def unverified(
        self: Any, bucket: str, key: str, block: str, body: Any, *_: Any, **__: Any
    ) -> Any:
        return put_block(self, bucket, key, block, body)

    checksums.TOKEN_OF["md5"] = lambda body: "0" * 32
    checksums.TOKEN_OF["crc64"] = lambda body: "0" * 16
    wire.AzureWire.put_block = unverified  # type: ignore[method-assign]

    def undo() -> None:
        checksums.TOKEN_OF.update(hashed)
        wire.AzureWire.put_block = put_block  # type: ignore[method-assign]

    return undo


def without_listed_metadata() -> Callable[[], None]:
    """List Blobs pages asked for without ``include=metadata`` (records
    then lack user metadata and a multipart blob's etag: a measurement of
    what that costs Azurite, not a correct listing); returns the undo."""
    from bucketbridge.drivers.azure import wire

    send = wire.AzureWire._send

    def plain(self: Any, request: Any, bucket: str, key: str | None) -> Any:
        if ("include", "metadata") in request.query:
            request.query.remove(("include", "metadata"))
        return send(self, request, bucket, key)

    wire.AzureWire._send = plain  # type: ignore[method-assign]

    def undo() -> None:
        wire.AzureWire._send = send  # type: ignore[method-assign]

    return undo


def rows(
    server: Any,
    source: Path,
    objects: int,
    no_checksum: bool,
    md5: bool,
    no_meta: bool,
    small: int,
) -> dict[str, Row]:
    import obstore
    from azure.storage.blob import BlobServiceClient
    from obstore.store import AzureStore

    from bucketbridge import CloudProviderFactory, ProviderList

    provider = CloudProviderFactory().create_provider(ProviderList.AZURE, server.config())
    data, listed = (provider.storage.buckets.create(name) for name in ("wall-data", "wall-list"))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: listed.objects.create(f"key/{i:06d}").upload(b"x"), range(objects)))
    service = BlobServiceClient.from_connection_string(
        server.connection_string, max_block_size=16 * MiB, max_single_put_size=32 * MiB
    )

    def store(container: str) -> Any:
        return AzureStore(
            container,
            account_name=server.account,
            account_key=server.account_key,
            endpoint=server.endpoint_url,
            client_options={"allow_http": True},
        )

    def sdk_upload() -> None:
        with open(source, "rb") as body:
            service.get_blob_client("wall-data", "sdk").upload_blob(
                body, overwrite=True, max_concurrency=8
            )

    def unhashed_upload() -> None:
        undo = without_checksum()
        try:
            data.objects.create("lean-no-checksum").upload_from_file(str(source))
        finally:
            undo()

    def listed_without_metadata() -> int:
        undo = without_listed_metadata()
        try:
            return len(list(listed.objects))
        finally:
            undo()

    head = service.get_blob_client("wall-list", "key/000007")
    data_store, list_store = store("wall-data"), store("wall-list")
    upload: Row = {
        "bucketbridge lean": lambda: data.objects.create("lean").upload_from_file(str(source)),
        "azure-storage-blob": sdk_upload,
        "obstore": lambda: obstore.put(
            data_store, "obstore", source, chunk_size=16 * MiB, max_concurrency=8
        ),
    }
    if no_checksum:
        upload["bucketbridge lean, no checksum"] = unhashed_upload
    if md5:
        config = {**server.config(), "azure_checksum": "md5"}
        hashing = CloudProviderFactory().create_provider(ProviderList.AZURE, config)
        md5_data = hashing.storage.buckets.get("wall-data")
        assert md5_data is not None
        upload["bucketbridge lean, MD5"] = lambda: md5_data.objects.create(
            "lean-md5"
        ).upload_from_file(str(source))
    listing: Row = {
        "bucketbridge lean": lambda: len(list(listed.objects)),
        "azure-storage-blob": lambda: sum(
            1 for _ in service.get_container_client("wall-list").list_blobs()
        ),
        "obstore": lambda: sum(len(page) for page in obstore.list(list_store)),
    }
    if no_meta:
        listing["bucketbridge lean, no metadata"] = listed_without_metadata
    return {
        "upload": upload,
        "find": {
            "bucketbridge lean": lambda: [
                listed.objects.find(name="key/000007") for _ in range(HEADS)
            ],
            "azure-storage-blob": lambda: [head.get_blob_properties() for _ in range(HEADS)],
            "obstore": lambda: [obstore.head(list_store, "key/000007") for _ in range(HEADS)],
        },
        "list": listing,
        **({"small-up": small_up(server, data, store, service, small)} if small else {}),
    }


def small_up(server: Any, data: Any, store: Any, service: Any, count: int) -> Row:
    """``count`` 4 KiB objects put from 16 threads (bench_azure.py's
    small-up; its batch-up sends the same Put Blobs through copy())."""
    import obstore
    from harness import in_pool, small_payload

    payloads = [small_payload(i, 4096) for i in range(count)]
    data_store = store("wall-data")
    container = service.get_container_client("wall-data")
    return {
        "bucketbridge lean": lambda: in_pool(
            16, count, lambda i: data.objects.create(f"lean/{i:05d}").upload(payloads[i])
        ),
        "azure-storage-blob": lambda: in_pool(
            16,
            count,
            lambda i: container.upload_blob(f"sdk/{i:05d}", payloads[i], overwrite=True),
        ),
        "obstore": lambda: in_pool(
            16, count, lambda i: obstore.put(data_store, f"obstore/{i:05d}", payloads[i])
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--small",
        type=int,
        default=0,
        help="add a small-up row: this many 4 KiB objects put from 16 threads",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="Azurite in its default mode (refuses the CRC-64: the default falls back to MD5)",
    )
    parser.add_argument("--md5", action="store_true", help="add azure_checksum=md5")
    parser.add_argument(
        "--no-checksum", action="store_true", help="add parts sent with no checksum (etags wrong)"
    )
    parser.add_argument(
        "--no-list-metadata",
        action="store_true",
        help="add a listing without include=metadata (records then incomplete)",
    )
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="azurite-wall-"))
    try:  # the source file and Azurite's blobs: gigabytes a run, never left behind
        measure(options, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(options: argparse.Namespace, work: Path) -> None:
    from tests.servers.azurite import start_azurite

    source = work / "source.bin"
    with open(source, "wb") as out:
        for _ in range(options.size_mib):
            out.write(os.urandom(MiB))
    with start_azurite(work / "azurite", in_memory=False, loose=not options.strict) as server:
        pid = azurite_pid(int(server.endpoint_url.rsplit(":", 1)[1].split("/")[0]))
        table = rows(
            server,
            source,
            options.objects,
            options.no_checksum,
            options.md5,
            options.no_list_metadata,
            options.small,
        )
        print(
            f"Azurite pid {pid}; {options.size_mib} MiB, {options.objects} keys,"
            f" {HEADS} HEADs, medians of {options.rounds} round(s); load {os.getloadavg()[0]:.1f};"
            f" Azurite {'strict' if options.strict else '--loose'}"
        )
        for name, contenders in table.items():
            for call in contenders.values():  # warm: connections, the page cache
                call()
            figures: dict[str, list[tuple[float, float, float]]] = {who: [] for who in contenders}
            order = list(contenders)
            for round_ in range(options.rounds):
                for who in order[round_ % len(order) :] + order[: round_ % len(order)]:
                    server_cpu, client_cpu, wall = (
                        process_cpu(pid),
                        time.process_time(),
                        time.perf_counter(),
                    )
                    contenders[who]()
                    figures[who].append(
                        (
                            time.perf_counter() - wall,
                            time.process_time() - client_cpu,
                            process_cpu(pid) - server_cpu,
                        )
                    )
            scale, unit = (1000 / HEADS, "ms a call") if name == "find" else (1.0, "s")
            if name == "small-up":
                scale, unit = 1000 / options.small, "ms a PUT"
            print(f"{name} ({unit}; CPU in the same unit)")
            for who, measured in figures.items():
                wall, client, azurite = (
                    statistics.median(column) * scale for column in zip(*measured, strict=True)
                )
                print(
                    f"  {who:26s} wall {wall:8.3f}  client CPU {client:7.3f}"
                    f"  Azurite CPU {azurite:7.3f}"
                    f"  ({azurite / max(client, 1e-9):.1f}x the client's)"
                )


if __name__ == "__main__":
    main()
