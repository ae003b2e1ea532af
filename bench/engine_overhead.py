"""The copy engine's own client CPU per small object, with no wire and no disk.

    python bench/engine_overhead.py                    # 2,000 x 4 KiB, MEMORY -> MEMORY
    python bench/engine_overhead.py --base /work/main  # that checkout's engine beside this one's

Copies the objects between two MEMORY providers, in a fresh process per
round and checkout (the checkouts alternate, so machine noise hits both),
and prints the median CPU-µs per object of each stage:

- ``copy()``: the whole call, on its default thread pool;
- ``sync()``: the same into an empty prefix (every copy stamped with the
  source's etag);
- ``listing``: ``copy(dry_run=True)``: the listing, the plan and the
  batches, nothing copied;
- ``run_batch``: one batch of every object on the calling thread: the
  per-object copy alone, no listing and no executor;
- ``drivers``: the drivers' own ``read_object`` + ``put_object`` in a loop:
  the two calls any copy must make.

"The batch path adds" is ``copy()`` minus ``drivers``; of it, the
per-object copy is ``run_batch`` minus ``drivers``, the rest the listing
and the executor's round trips.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if os.environ.get("BB_BASE"):  # a worker of --base: that checkout's bucketbridge
    sys.path.insert(0, os.environ["BB_BASE"])
else:
    import harness  # noqa: F401  (puts this checkout first on sys.path)

STAGES = ("copy()", "sync()", "listing", "run_batch", "drivers")


def measure(objects: int, size: int) -> dict[str, float]:
    """Each stage's CPU-µs per object in this process (the lower of two runs)."""
    import importlib

    from bucketbridge import CloudProviderFactory, Location, ProviderList, copy, sync

    engine = importlib.import_module("bucketbridge.sync")  # the module, not the function
    from bucketbridge.drivers.records import Body, ReadOptions, WriteOptions

    factory = CloudProviderFactory()
    source = factory.create_provider(ProviderList.MEMORY, {})
    target = factory.create_provider(ProviderList.MEMORY, {})
    bucket = source.storage.buckets.create("source")
    payload = os.urandom(size)
    for index in range(objects):
        bucket.objects.create(f"small/{index:05d}.dat").upload(payload)
    target.storage.buckets.create("target")
    names = [f"small/{index:05d}.dat" for index in range(objects)]
    origin = Location(source, "source", "small/")
    runs = iter(range(1_000_000))

    def into() -> Location:
        return Location(target, "target", f"r{next(runs)}/")

    def drivers() -> None:
        prefix = f"l{next(runs)}/"
        for name in names:
            stream = source.driver.read_object("source", name, ReadOptions())
            data = b"".join(stream)
            stream.close()
            body = Body.of_bytes(data)
            target.driver.put_object("target", prefix + name, body, WriteOptions("x"))

    def one_batch() -> None:
        entries = tuple(engine._entries(origin))  # listed untimed: see "listing"
        batch = engine.Batch(
            source=origin,
            destination=into(),
            copies=entries,
            deletes=(),
            overwrite="always",
            record_source_etag=False,
            config=None,
        )
        started = time.process_time()
        result = engine.run_batch(batch)
        spent[0] = time.process_time() - started
        assert not result.failures and len(result.copied) == objects, result.failures[:3]

    stages: dict[str, Callable[[], Any]] = {
        "copy()": lambda: copy(origin, into(), batch_objects=objects).raise_for_failures(),
        "sync()": lambda: sync(origin, into(), batch_objects=objects).raise_for_failures(),
        "listing": lambda: copy(origin, into(), dry_run=True, batch_objects=objects),
        "run_batch": one_batch,
        "drivers": drivers,
    }
    spent = [0.0]
    stages["copy()"]()  # warm: imports, caches, the pool's first threads
    best = dict.fromkeys(STAGES, float("inf"))
    for _ in range(2):
        for stage in STAGES:
            started = time.process_time()
            spent[0] = -1.0
            stages[stage]()
            took = spent[0] if spent[0] >= 0 else time.process_time() - started
            best[stage] = min(best[stage], took / objects * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes per checkout")
    parser.add_argument("--base", help="another checkout, measured beside this one")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        print(json.dumps(measure(options.objects, options.size)))
        return
    checkouts: dict[str, str | None] = {"this": None}
    if options.base:
        checkouts["base"] = str(Path(options.base).resolve())
    figures: dict[str, list[dict[str, float]]] = {name: [] for name in checkouts}
    argv = [sys.executable, __file__, "--worker", "--objects", str(options.objects)]
    argv += ["--size", str(options.size)]
    for _ in range(options.rounds):
        for name, path in checkouts.items():
            env = {k: v for k, v in os.environ.items() if k != "BB_BASE"}
            if path is not None:
                env["BB_BASE"] = path
            out = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
            if out.returncode:
                raise SystemExit(f"{name}: {out.stderr}")
            figures[name].append(json.loads(out.stdout))
    print(
        f"{options.objects} x {options.size} B, MEMORY -> MEMORY, CPU-µs per object,"
        f" medians of {options.rounds} processes (load average {os.getloadavg()[0]:.1f})"
    )
    print(f"{'':10}" + "".join(f"{stage:>11}" for stage in STAGES) + "  batch path adds")
    for name, rounds in figures.items():
        medians = {stage: statistics.median(r[stage] for r in rounds) for stage in STAGES}
        cells = "".join(f"{medians[stage]:>11.1f}" for stage in STAGES)
        adds = medians["copy()"] - medians["drivers"]
        print(f"{name:10}{cells}  {adds:.0f} µs/object")
    for name, rounds in figures.items():
        medians = {stage: statistics.median(r[stage] for r in rounds) for stage in STAGES}
        print(
            f"{name}: copy() {medians['copy()']:.0f} µs/object, drivers alone"
            f" {medians['drivers']:.0f} µs/object: the batch path adds"
            f" {medians['copy()'] - medians['drivers']:.0f} µs/object (per-object copy"
            f" {medians['run_batch'] - medians['drivers']:.0f}, listing {medians['listing']:.0f})"
        )


if __name__ == "__main__":
    main()
