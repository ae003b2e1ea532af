"""Where the batch rows spend their time: client CPU, server CPU, wall.

    python bench/batch_walls.py s3                      # 2,000 x 4 KiB, up and down, 5 rounds
    python bench/batch_walls.py azure --rounds 3 --directions down
    python bench/batch_walls.py gcs --directions down   # (fake-gcs-server refuses obstore's PUT)
    python bench/batch_walls.py s3 --base /tmp/old-checkout   # + that checkout's lean plane

On the provider's bench server (SeaweedFS, Azurite, fake-gcs-server), as
bench_<provider>.py runs it, each round runs every contender of the batch
rows (``bucketbridge lean``: ``copy()`` on a pool of 16; ``obstore`` on a
pool of 16, bench/peers.py) in a fresh process, rotated, and prints its
wall time, its own CPU (the client) and the CPU the server's processes
spent meanwhile: on two shared cores their sum is what the wall cannot go
below, so whichever costs more per object is the lever.
``--base DIR`` adds ``base lean``: the lean plane of the bucketbridge in
DIR (e.g. ``git archive`` of an older commit), to compare two versions of
the code side by side in one run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness

BASE = "base lean"
if os.environ.get("BB_BASE"):  # a worker of --base: that checkout's bucketbridge
    sys.path.insert(0, os.environ["BB_BASE"])

import peers  # noqa: E402
import psutil  # noqa: E402

CONTENDERS = (peers.LEAN, "obstore")
PROVIDERS = ("s3", "azure", "gcs")
"""Those with an obstore store: its bench module (bench_<name>.py) starts the server."""


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["contender"] == "obstore":
        bench = importlib.import_module(f"bench_{spec['bench']}")
        action = peers.obstore_action(spec, bench._obstore_store(spec["server"]))
    else:
        action = peers.bucketbridge_action(spec)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    action()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    import bucketbridge

    return {"wall": wall, "cpu": cpu, "from": str(Path(bucketbridge.__file__).parents[1])}


def fill(started: dict[str, Any], root: Path, count: int, size: int) -> None:
    made = peers.provider(started, "sdk")
    small = made.storage.buckets.create(harness.SMALL_BUCKET)
    harness.in_pool(
        16,
        count,
        lambda i: small.objects.create(harness.small_key("small", i)).upload(
            harness.small_payload(i, size)
        ),
    )
    from bucketbridge import CloudProviderFactory, ProviderList

    local = CloudProviderFactory().create_provider(ProviderList.LOCAL, {"local_root": str(root)})
    batch = local.storage.buckets.create(harness.BATCH_SOURCE)
    for index in range(count):
        batch.objects.create(harness.small_key("small", index)).upload(
            harness.small_payload(index, size)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("provider", nargs="?", choices=PROVIDERS, default="s3")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--directions", default="up,down")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--base", help="another checkout's bucketbridge, as 'base lean'")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        print(json.dumps(worker(json.loads(options.worker))))
        return
    contenders = options.contenders.split(",") + ([BASE] if options.base else [])
    bench = importlib.import_module(f"bench_{options.provider}")
    with tempfile.TemporaryDirectory(prefix="bench-walls-") as name:
        work = Path(name)
        with (
            harness.removed_after(harness.local_root(work)) as root,
            bench.server(work) as started,
        ):
            fill(started, root, options.objects, 4 * harness.KiB)
            servers = psutil.Process().children(recursive=True)

            def server_cpu() -> float:
                return sum(sum(process.cpu_times()[:2]) for process in servers)

            figures: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
            for number in range(options.rounds):
                for direction in options.directions.split(","):
                    shift = number % len(contenders)
                    for contender in contenders[shift:] + contenders[:shift]:
                        tag = contender.replace(" ", "-")
                        spec = {
                            "contender": peers.LEAN if contender == BASE else contender,
                            "bench": options.provider,
                            "scenario": f"batch-{direction}",
                            "key": f"walls-{tag}-{number}",
                            "server": started,
                            "local_root": str(root),
                            "small": options.objects,
                            "small_size": 4 * harness.KiB,
                            "width": options.width,
                            "path": str(work / "unused"),
                        }
                        argv = [sys.executable, __file__, "--worker", json.dumps(spec)]
                        served = server_cpu()
                        env = dict(os.environ)
                        if contender == BASE:
                            env["BB_BASE"] = str(Path(options.base).resolve())
                        out = subprocess.run(argv, capture_output=True, text=True, env=env)
                        if out.returncode:
                            raise SystemExit(f"{contender} {direction}: {out.stderr}")
                        served = server_cpu() - served
                        result = json.loads(out.stdout)
                        figures.setdefault((direction, contender), []).append(
                            (result["wall"], result["cpu"], served)
                        )
                        print(
                            f"round {number + 1} {direction:4s} {contender:18s}"
                            f" wall {result['wall']:6.3f} s  client {result['cpu']:5.2f}"
                            f"  server {served:5.2f} CPU-s  load {os.getloadavg()[0]:.1f}"
                            + (f"  ({result['from']})" if number == 0 else ""),
                            flush=True,
                        )
            print("\nmedians (wall s, client CPU-s, server CPU-s):")
            for (direction, contender), rows in figures.items():
                wall, cpu, served = (
                    statistics.median(column) for column in zip(*rows, strict=True)
                )
                print(
                    f"  {direction:4s} {contender:18s} {wall:6.3f}  {cpu:5.2f}  {served:5.2f}"
                    f"  (sum {cpu + served:5.2f})"
                )


if __name__ == "__main__":
    main()
