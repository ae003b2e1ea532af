"""Is the server or the client the wall of listing 10,000 keys? Side by side in one process.

    python bench/list_walls.py                    # azure, gcs, swift; 10,000 keys
    python bench/list_walls.py --providers swift --objects 2000 --rounds 3

Per provider, one server, one bucket of ``--objects`` keys, each contender
iterating it whole, rotated round by round: ``bucketbridge ahead`` (each
page requested while the one before is parsed: ``ListsAhead``),
``bucketbridge in turn`` (the same provider with ``lists_ahead`` switched
off: one ``list_objects`` page after another, as before it) and the
reference (obstore on Azure and GCS, swiftclient's full listing on Swift).
Each figure is a median: wall time, this process's CPU-seconds (the
client's, every thread) and the CPU-seconds the server's processes spent
meanwhile (this process's descendants, read from /proc).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's bucketbridge


def descendants_cpu() -> float:
    """CPU-seconds of every process below this one (the servers)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    me, total = os.getpid(), 0.0
    for pid in cpu:
        ancestor = parents.get(pid)
        while ancestor and ancestor != me:
            ancestor = parents.get(ancestor)
        if ancestor == me:
            total += cpu[pid]
    return total


@contextlib.contextmanager
def server(name: str, work: Path) -> Iterator[tuple[dict[str, Any], Callable[[str], Any]]]:
    """The provider config and the reference's lister of a bucket."""
    if name == "azure":
        import obstore
        from obstore.store import AzureStore

        from tests.servers.azurite import start_azurite

        with start_azurite(work, in_memory=False) as azurite:

            def obstore_azure(bucket: str) -> Any:
                store = AzureStore(
                    bucket,
                    account_name=azurite.account,
                    account_key=azurite.account_key,
                    endpoint=azurite.endpoint_url,
                    client_options={"allow_http": True},
                )
                return lambda: sum(len(page) for page in obstore.list(store, chunk_size=1000))

            yield azurite.config(), obstore_azure
    elif name == "gcs":
        import obstore
        from obstore.store import GCSStore

        from tests.servers.fake_gcs import start_fake_gcs

        with start_fake_gcs(work, in_memory=False) as gcs:
            account = json.dumps(
                {
                    "gcs_base_url": gcs.endpoint_url,
                    "disable_oauth": True,
                    "client_email": "",
                    "private_key": "",
                    "private_key_id": "",
                }
            )

            def obstore_gcs(bucket: str) -> Any:
                store = GCSStore(
                    bucket,
                    config={"google_service_account_key": account},
                    client_options={"allow_http": True},
                )
                return lambda: sum(len(page) for page in obstore.list(store, chunk_size=1000))

            yield gcs.config(), obstore_gcs
    else:
        from swiftclient.client import Connection

        from tests.servers.swift import start_swift

        with start_swift(work) as swift:
            url, token = swift.auth()

            def swiftclient(bucket: str) -> Any:
                conn = Connection(preauthurl=url, preauthtoken=token)
                return lambda: len(conn.get_container(bucket, full_listing=True)[1])

            yield swift.config(), swiftclient


PROVIDERS = {"azure": "AZURE", "gcs": "GCP", "swift": "OPENSTACK"}


def paged(kind: Any, config: dict[str, Any], size: int) -> Callable[[], int]:
    """Iteration with pages of ``size`` (the driver's own is ``list_page_size``)."""
    from bucketbridge import CloudProviderFactory

    provider = CloudProviderFactory().create_provider(kind, config)
    provider.features = dataclasses.replace(provider.features, list_page_size=size)
    bucket = provider.storage.buckets.get("walls-list")
    assert bucket is not None
    return lambda: len(list(bucket.objects))


def measure(name: str, objects: int, rounds: int, page_sizes: list[int]) -> None:
    from bucketbridge import CloudProviderFactory, ProviderList

    with tempfile.TemporaryDirectory() as work, server(name, Path(work)) as (config, reference):
        kind = getattr(ProviderList, PROVIDERS[name])
        ahead = CloudProviderFactory().create_provider(kind, config)
        in_turn = CloudProviderFactory().create_provider(kind, config)
        in_turn.features = dataclasses.replace(in_turn.features, lists_ahead=None)
        bucket = ahead.storage.buckets.create("walls-list")
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda i: bucket.objects.create(f"key/{i:06d}").upload(b"x"), range(objects)
                )
            )
        turn_bucket = in_turn.storage.buckets.get("walls-list")
        assert turn_bucket is not None
        contenders: dict[str, Callable[[], int]] = {
            "bucketbridge ahead": lambda: len(list(bucket.objects)),
            **{
                f"bucketbridge ahead, pages of {size}": paged(kind, config, size)
                for size in page_sizes
            },
            "bucketbridge in turn": lambda: len(list(turn_bucket.objects)),
            "reference (obstore)" if name != "swift" else "reference (swiftclient)": reference(
                "walls-list"
            ),
        }
        for call in contenders.values():  # warm: connections, the server's caches
            assert call() == objects
        figures: dict[str, list[tuple[float, float, float]]] = {who: [] for who in contenders}
        order = list(contenders)
        for round_ in range(rounds):
            for who in order[round_ % len(order) :] + order[: round_ % len(order)]:
                served, used, began = descendants_cpu(), time.process_time(), time.perf_counter()
                contenders[who]()
                figures[who].append(
                    (
                        time.perf_counter() - began,
                        time.process_time() - used,
                        descendants_cpu() - served,
                    )
                )
        print(f"{name}: {objects} keys, medians of {rounds}; load {os.getloadavg()[0]:.1f}")
        reference_wall = statistics.median(f[0] for f in figures[order[-1]])
        for who, measured in figures.items():
            wall, client, served = (
                statistics.median(column) for column in zip(*measured, strict=True)
            )
            print(
                f"  {who:26s} wall {wall:6.3f} s ({reference_wall / wall:4.2f}x ref)"
                f"  client CPU {client:6.3f}  server CPU {served:6.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", default="azure,gcs,swift")
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--page-sizes",
        default="",
        help="comma list: more contenders, reading ahead pages this large",
    )
    options = parser.parse_args()
    for name in options.providers.split(","):
        sizes = [int(size) for size in options.page_sizes.split(",") if size]
        measure(name, options.objects, options.rounds, sizes)


if __name__ == "__main__":
    main()
