"""The copy engine's own client CPU per small object, with no wire and no disk.

    python bench/engine_overhead.py      # 2,000 x 4 KiB, MEMORY -> MEMORY

Copies the objects between two MEMORY providers with ``copy()`` (one batch
on the calling thread), then the same objects with the drivers' own
``read_object`` + ``put_object`` in a loop: the difference is what the
batch path (listing, merge-join, batch, per-object copy) costs on top of
the two calls any copy must make. Run it from two checkouts to compare.
"""

from __future__ import annotations

import os
import time

import harness  # noqa: F401  (puts this checkout first on sys.path)

from bucketbridge import CloudProviderFactory, Location, ProviderList, copy
from bucketbridge.drivers.records import Body, ReadOptions, WriteOptions

OBJECTS, SIZE, ROUNDS = 2000, 4096, 5


def main() -> None:
    factory = CloudProviderFactory()
    source = factory.create_provider(ProviderList.MEMORY, {})
    target = factory.create_provider(ProviderList.MEMORY, {})
    bucket = source.storage.buckets.create("source")
    payload = os.urandom(SIZE)
    for index in range(OBJECTS):
        bucket.objects.create(f"small/{index:05d}.dat").upload(payload)
    target.storage.buckets.create("target")
    names = [f"small/{index:05d}.dat" for index in range(OBJECTS)]
    best_copy = best_loop = float("inf")
    for number in range(ROUNDS):
        cpu = time.process_time()
        copy(
            Location(source, "source", "small/"),
            Location(target, "target", f"c{number}/"),
            executor=None,
            batch_objects=OBJECTS,
        ).raise_for_failures()
        best_copy = min(best_copy, time.process_time() - cpu)
        cpu = time.process_time()
        for name in names:
            stream = source.driver.read_object("source", name, ReadOptions())
            data = b"".join(stream)
            stream.close()
            target.driver.put_object(
                "target", f"l{number}/{name}", Body.of_bytes(data), WriteOptions("x")
            )
        best_loop = min(best_loop, time.process_time() - cpu)
    per = (best_copy - best_loop) / OBJECTS * 1e6
    print(
        f"copy() {best_copy / OBJECTS * 1e6:.0f} µs/object, drivers alone"
        f" {best_loop / OBJECTS * 1e6:.0f} µs/object: the batch path adds {per:.0f} µs/object"
    )


if __name__ == "__main__":
    main()
