"""Where bench_gcs.py's batch-down row spends its time per object (issue 13).

    python bench/gcs_read_walls.py            # 1,000 x 4 KiB, 5 alternating rounds

On fake-gcs-server (files, as bench_gcs.py runs it), side by side, medians:

- on one thread, the client CPU and the emulator's CPU per 4 KiB read, for
  the driver's read (a JSON API media GET pinned with ``ifGenerationMatch``,
  with a Range header), the same request bare through ``http.client`` with
  and without the Range header, and the XML API GET obstore sends. If the
  emulator's CPU per call differs between the forms, the request's form is
  part of the row's wall on two shared cores;
- on 16 threads (the batch rows' width), wall, client CPU and emulator CPU
  per object of: the read ``copy()`` makes of a listed object (one media
  GET), a read of an object no listing described (``objects.get``, then the
  media GET: what the small-down row's ``iter_content`` makes), obstore's
  GET of the same objects, and ``copy()`` of the prefix to a LOCAL bucket
  (the batch-down row). The copy's client CPU beyond the listed read's is
  what the core's copy and the LOCAL driver's write cost, not the GCS read.
"""

from __future__ import annotations

import http.client
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gcs_walls import filled_emulator, obstore_store

from bucketbridge import CloudProviderFactory, Location, ProviderList, copy
from bucketbridge.drivers.records import ReadOptions

OBJECTS, SIZE, ROUNDS, WIDTH = 2000, 4096, 5, 16


def main() -> None:
    names = [f"small/{i:05d}.dat" for i in range(OBJECTS)]
    with filled_emulator(names, SIZE) as (endpoint_url, provider, _, emulator_cpu):
        driver = provider.driver
        listed = {
            info.key: info
            for info in driver.list_objects("walls", prefix=None, marker=None, limit=OBJECTS).items
        }
        generations = {key: (info.revision or "").split("/")[0] for key, info in listed.items()}
        host = endpoint_url.split("//", 1)[1]
        connection = http.client.HTTPConnection(host)

        def driver_read(name: str) -> None:
            options = ReadOptions(chunk_size=65536, listed=listed[name])
            stream = driver.read_object("walls", name, options)
            buffer = bytearray(SIZE)
            stream.readinto(buffer)
            stream.close()

        def bare(name: str, ranged: bool) -> None:
            path = f"/download/storage/v1/b/walls/o/{name.replace('/', '%2F')}"
            query = f"?alt=media&ifGenerationMatch={generations[name]}"
            headers = {"range": f"bytes=0-{SIZE - 1}"} if ranged else {}
            connection.request("GET", path + query, headers=headers)
            connection.getresponse().read()

        def xml_get(name: str) -> None:
            connection.request("GET", f"/walls/{name}")
            connection.getresponse().read()

        forms: dict[str, Callable[[str], None]] = {
            "driver.read_object (JSON media, ranged, pinned)": driver_read,
            "bare http.client, the same request": lambda name: bare(name, True),
            "bare http.client, no Range header": lambda name: bare(name, False),
            "bare http.client XML API GET (obstore's)": xml_get,
        }
        client: dict[str, list[float]] = {name: [] for name in forms}
        served: dict[str, list[float]] = {name: [] for name in forms}
        for _ in range(ROUNDS):
            for name, call in forms.items():
                before, cpu = emulator_cpu(), time.process_time()
                for key in names:
                    call(key)
                client[name].append((time.process_time() - cpu) / OBJECTS * 1e6)
                served[name].append((emulator_cpu() - before) / OBJECTS * 1e6)
        for name in forms:
            print(
                f"{name:50s} client {statistics.median(client[name]):6.1f} CPU-µs/read,"
                f" emulator {statistics.median(served[name]):6.1f} CPU-µs/read"
            )
        on_threads(endpoint_url, provider, names, listed, emulator_cpu)


def on_threads(
    endpoint_url: str,
    provider: Any,
    names: list[str],
    listed: dict[str, Any],
    emulator_cpu: Callable[[], float],
) -> None:
    """The second table: each form on WIDTH threads, as the batch rows run."""
    import obstore

    driver = provider.driver
    store = obstore_store(endpoint_url)

    def read(name: str, hint: Any) -> None:
        stream = driver.read_object("walls", name, ReadOptions(chunk_size=65536, listed=hint))
        buffer = bytearray(SIZE)
        if stream.readinto(buffer) != SIZE:
            raise AssertionError(f"{name}: short read")
        stream.close()

    work = tempfile.mkdtemp(prefix="gcs-read-walls-")
    local = CloudProviderFactory().create_provider(ProviderList.LOCAL, {"local_root": work})
    copies = iter(range(ROUNDS * 10))

    def copied() -> None:
        bucket = f"down-{next(copies)}"
        local.storage.buckets.create(bucket)
        with ThreadPoolExecutor(WIDTH) as pool:
            report = copy(
                Location(provider, "walls", "small/"),
                Location(local, bucket),
                executor=pool,
                batch_objects=max(1, len(names) // (4 * WIDTH)),
            )
        report.raise_for_failures()

    def threads(call: Callable[[str], object]) -> Callable[[], None]:
        def run() -> None:
            with ThreadPoolExecutor(WIDTH) as pool:
                for _ in pool.map(call, names):
                    pass

        return run

    def obstore_copied() -> None:
        """bench/peers.py's batch-down peer: a listing, then GET and write each file."""
        target = Path(work) / f"obstore-{next(copies)}"
        target.mkdir()
        found = [m["path"] for page in obstore.list(store, prefix="small/") for m in page]

        def down(name: str) -> None:
            (target / name.split("/", 1)[1]).write_bytes(obstore.get(store, name).bytes())

        with ThreadPoolExecutor(WIDTH) as pool:
            for _ in pool.map(down, found):
                pass

    forms: dict[str, Callable[[], None]] = {
        "listed read (copy's: the media GET alone)": threads(lambda n: read(n, listed[n])),
        "unlisted read (objects.get + media GET)": threads(lambda n: read(n, None)),
        "obstore GET (.bytes())": threads(lambda n: obstore.get(store, n).bytes()),
        "copy() of the prefix to a LOCAL bucket": copied,
        "obstore: list, GET, write each file": obstore_copied,
    }
    figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in forms}
    try:
        for _ in range(ROUNDS):
            for name, call in forms.items():
                before, cpu, wall = emulator_cpu(), time.process_time(), time.perf_counter()
                call()
                figures[name].append(
                    (
                        time.perf_counter() - wall,
                        (time.process_time() - cpu) / len(names) * 1e6,
                        (emulator_cpu() - before) / len(names) * 1e6,
                    )
                )
    finally:
        local.close()
        shutil.rmtree(work, ignore_errors=True)  # the copies: ~80 MB a run
    print(f"\non {WIDTH} threads, {len(names)} objects, medians of {ROUNDS}:")
    for name, rounds in figures.items():
        wall, client, served = (statistics.median(r[i] for r in rounds) for i in range(3))
        print(
            f"{name:45s} wall {wall:6.3f} s, client {client:6.1f} CPU-µs/object,"
            f" emulator {served:6.1f} CPU-µs/object"
        )


if __name__ == "__main__":
    main()
