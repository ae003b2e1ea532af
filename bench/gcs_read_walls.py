"""Where bench_gcs.py's batch-down row spends its time per object (issue 13).

    python bench/gcs_read_walls.py            # 1,000 x 4 KiB, 5 alternating rounds

On fake-gcs-server (files, as bench_gcs.py runs it), on one thread, side by
side: the client CPU and the emulator's CPU per 4 KiB read, for the
driver's read (a JSON API media GET pinned with ``ifGenerationMatch``, with
a Range header), the same request bare through ``http.client`` with and
without the Range header, and the XML API GET obstore sends. If the
emulator's CPU per call differs between the forms, the request's form is
part of the row's wall on two shared cores.
"""

from __future__ import annotations

import http.client
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gcs_walls import filled_emulator

from bucketbridge.drivers.records import ReadOptions

OBJECTS, SIZE, ROUNDS = 1000, 4096, 5


def main() -> None:
    names = [f"small/{i:05d}.dat" for i in range(OBJECTS)]
    with filled_emulator(names, SIZE) as (endpoint_url, provider, _, emulator_cpu):
        driver = provider.driver
        listed = {
            info.key: info
            for info in driver.list_objects("walls", prefix=None, marker=None, limit=1000).items
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


if __name__ == "__main__":
    main()
