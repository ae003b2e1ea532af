"""Where bench_gcs.py's find and list rows spend their time (issue 13).

    python bench/gcs_walls.py                 # 10,000 keys, 7 alternating rounds

On fake-gcs-server (files, as bench_gcs.py runs it), side by side in one
process, medians:

- list: ``wire.list_page`` of 10,000 keys beside the same page fetched by a
  bare ``urllib`` GET (the emulator's own time: if they match, the emulator
  is the wall), and the client CPU of decoding that page into records with
  ``json`` + dicts (before) and with msgspec (drivers/gcs/pages.py);
- list, by page size: the driver's walk (``list_ahead``) of the 10,000
  keys in one page and in pages of 5,000 and 1,000, beside obstore's
  listing (the XML API), each with the client's and the emulator's CPU:
  fake-gcs-server reads the whole bucket for every page, so the page count,
  not the bytes, sets its cost;
- find: the client CPU of ``head_object`` beside a bare ``http.client``
  GET + ``json.loads`` of the same resource (the floor of a Python client),
  a bare XML API HEAD and obstore's ``head`` (which sends it), each with
  the emulator's CPU per call and the wall per call: which side a gap in
  the find row is.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import obstore
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bucketbridge import ProviderList
from bucketbridge.drivers.gcs.driver import info_of
from bucketbridge.drivers.gcs.pages import decode_page, info_of_listed
from bucketbridge.provider import CloudProvider
from bucketbridge.resources import Bucket
from tests.servers.fake_gcs import start_fake_gcs
from tests.servers.providers import provider_factory

KEYS, ROUNDS, FINDS = 10_000, 7, 500


def _median(call: Callable[[], object], clock: Callable[[], float], times: int = 1) -> float:
    spent = []
    for _ in range(ROUNDS):
        start = clock()
        for _ in range(times):
            call()
        spent.append((clock() - start) / times)
    return statistics.median(spent)


class Walls(NamedTuple):
    """A filled emulator: its address, a provider on it, the bucket, and the
    emulator's CPU-seconds so far (every process it runs)."""

    endpoint_url: str
    provider: CloudProvider
    bucket: Bucket
    emulator_cpu: Callable[[], float]


@contextmanager
def filled_emulator(names: Iterable[str], size: int) -> Iterator[Walls]:
    """fake-gcs-server on files (as bench_gcs.py runs it), its bucket "walls"
    holding ``names`` of ``size`` bytes each, stored on 16 threads."""
    with (
        tempfile.TemporaryDirectory() as work,
        start_fake_gcs(Path(work), in_memory=False) as server,
        provider_factory(ProviderList.GCP, lambda **config: config) as make,
    ):
        provider = make(**server.config())
        bucket = provider.storage.buckets.create("walls")
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda name: bucket.objects.create(name).upload(b"x" * size), names))
        emulator = psutil.Process().children(recursive=True)

        def emulator_cpu() -> float:
            return sum(sum(process.cpu_times()[:2]) for process in emulator)

        yield Walls(server.endpoint_url, provider, bucket, emulator_cpu)


def obstore_store(endpoint_url: str) -> Any:
    """obstore's store for the bucket "walls", as bench_gcs.py makes it."""
    from obstore.store import GCSStore

    account = json.dumps(
        {
            "gcs_base_url": endpoint_url,
            "disable_oauth": True,
            "client_email": "",
            "private_key": "",
            "private_key_id": "",
        }
    )
    return GCSStore(
        "walls",
        config={"google_service_account_key": account},
        client_options={"allow_http": True},
    )


def main() -> None:
    names = [f"list/{i:05d}.dat" for i in range(KEYS)]
    with filled_emulator(names, 100) as (endpoint_url, provider, bucket, emulator_cpu):
        wire = provider.driver.wire  # type: ignore[attr-defined]
        url = f"{endpoint_url}/storage/v1/b/walls/o?maxResults={KEYS}"
        page = urllib.request.urlopen(url).read()
        rows = {
            "list: bare urllib GET of the page (s)": (
                lambda: urllib.request.urlopen(url).read(),
                time.perf_counter,
            ),
            "list: wire.list_page (s)": (
                lambda: wire.list_page(
                    "walls", prefix=None, start_offset=None, page_token=None, max_results=KEYS
                ),
                time.perf_counter,
            ),
            "list: decode json + info_of (CPU-s)": (
                lambda: [info_of(item) for item in json.loads(page)["items"]],
                time.process_time,
            ),
            "list: decode msgspec + info_of_listed (CPU-s)": (
                lambda: [info_of_listed(item) for item in decode_page(page, "x").items],
                time.process_time,
            ),
        }
        for name, (call, clock) in rows.items():
            print(f"{name:48s} {_median(call, clock):8.3f}")
        store = obstore_store(endpoint_url)
        driver = provider.driver
        walks: dict[str, Callable[[], int]] = {
            f"list: list_ahead, pages of {size}": lambda size=size: sum(
                len(page) for page in driver.list_ahead("walls", prefix=None, limit=size)
            )
            for size in (KEYS, KEYS // 2, 1000)
        }
        walks["list: obstore.list (XML API)"] = lambda: sum(
            len(batch) for batch in obstore.list(store, chunk_size=1000)
        )
        for name, walk in walks.items():
            served = emulator_cpu()
            cpu = _median(walk, time.process_time)
            served = (emulator_cpu() - served) / ROUNDS
            print(f"{name:48s} {cpu:8.3f} CPU-s client, emulator {served:6.3f} CPU-s")
        host = endpoint_url.split("//", 1)[1]
        connection = http.client.HTTPConnection(host)
        path = "/storage/v1/b/walls/o/list%2F00001.dat"

        def bare() -> object:
            connection.request("GET", path)
            return json.loads(connection.getresponse().read())

        def xml_head() -> object:
            connection.request("HEAD", "/walls/list/00001.dat")
            return connection.getresponse().read()

        for name, call in (
            ("find: bare http.client GET + json.loads", bare),
            ("find: bare http.client XML HEAD (obstore's)", xml_head),
            ("find: driver.head_object", lambda: driver.head_object("walls", "list/00001.dat")),
            ("find: obstore.head", lambda: obstore.head(store, "list/00001.dat")),
        ):
            served = emulator_cpu()
            cpu = _median(call, time.process_time, FINDS) * 1e6
            served = (emulator_cpu() - served) / (FINDS * ROUNDS) * 1e6
            wall = _median(call, time.perf_counter, FINDS) * 1e6
            print(
                f"{name:48s} {cpu:8.1f} CPU-µs/call, emulator {served:6.1f} CPU-µs/call,"
                f" wall {wall:6.1f} µs/call"
            )
        bucket.delete(delete_contents=True)


if __name__ == "__main__":
    main()
