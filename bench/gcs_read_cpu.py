"""Client CPU of the GCS driver's 4 KiB read on 16 threads: this checkout against another.

    python bench/gcs_read_cpu.py --base /path/to/other/checkout
    python bench/gcs_read_cpu.py --base ../main --rounds 5 --passes 5 --objects 2000

One fake-gcs-server (objects in files, as bench_gcs.py runs it) holding
``--objects`` objects of 4 KiB. Each round runs a fresh process per
checkout, the checkouts alternated round by round; a process lists the
objects once (the hints ``copy()`` passes its reads), reads each one once
to warm up, then ``--passes`` times on a ``--width`` thread pool, each
read the driver's ``read_object`` into a buffer as ``copy()`` makes it:

- ``listed``: with the listing's record (``copy()``'s read: one media GET
  pinned to the live generation);
- ``unlisted``: without one (``objects.get``, then the media GET);
- ``faked``: ``listed`` with the exchange faked (:mod:`bench_faked`): the
  request's head is made as the client makes it, but nothing is sent and a
  canned response comes back. What is left is the Python the driver and
  the client run around the socket, warm in the CPU's caches: the steadiest
  figure on a shared machine, the smallest too (a real exchange's system
  calls and context switches leave the next read's code and data cold).

Printed: medians over the rounds of each process's median pass, as wall
time, client CPU-µs an object (user + system of the whole process, and
each: the system time is the sockets' system calls, mostly) and the
emulator's CPU-µs an object (measured around the process by this one). This
isolates the GCS read: no core copy, no LOCAL write. Compare the two lines
of one run, not figures across runs: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import harness  # noqa: E402
import peers  # noqa: E402
import psutil  # noqa: E402

BUCKET = "reads"
SIZE = 4096

READER = r"""
import json, resource, statistics, sys, time
from concurrent.futures import ThreadPoolExecutor
checkout, server, passes, width, form, faking = sys.argv[1:7]
sys.path[:0] = [checkout, checkout + "/bench"]
sys.path.append(faking)  # this checkout's bench/, for bench_faked
import peers
from bench_faked import fake
from bucketbridge.drivers.records import ReadOptions
driver = peers.provider(json.loads(server), "lean").driver
listed = {
    info.key: info
    for info in driver.list_objects("reads", prefix=None, marker=None, limit=100_000).items
}
hints = {key: (info if form != "unlisted" else None) for key, info in listed.items()}
if form == "faked":
    fake(driver, listed)

def read(key):
    stream = driver.read_object("reads", key, ReadOptions(chunk_size=65536, listed=hints[key]))
    buffer = bytearray(4096)
    if stream.readinto(buffer) != 4096:
        raise AssertionError(key)
    stream.close()

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime

walls, users, systems = [], [], []
with ThreadPoolExecutor(int(width)) as pool:
    for number in range(int(passes) + 1):
        wall, (user, system) = time.perf_counter(), cpu()
        for _ in pool.map(read, hints):
            pass
        if number:  # the first pass warms the connections up
            walls.append(time.perf_counter() - wall)
            users.append(cpu()[0] - user)
            systems.append(cpu()[1] - system)
print(json.dumps({"objects": len(hints), "wall": statistics.median(walls),
                  "user": statistics.median(users), "system": statistics.median(systems)}))
"""


def _emulator_cpu(processes: list[psutil.Process]) -> float:
    return sum(sum(process.cpu_times()[:2]) for process in processes)


def _reads(
    checkout: str, server: dict[str, Any], options: argparse.Namespace, form: str
) -> dict[str, Any]:
    argv = [
        sys.executable,
        "-c",
        READER,
        checkout,
        json.dumps(server),
        str(options.passes),
        str(options.width),
        form,
        str(ROOT / "bench"),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the other checkout (its root directory)")
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--passes", type=int, default=3, help="timed passes per process")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--forms", default="listed,unlisted,faked")
    options = parser.parse_args()
    checkouts = {"base": os.path.abspath(options.base), "this": str(ROOT)}
    module = __import__("bench_gcs")
    with tempfile.TemporaryDirectory() as work, module.server(Path(work)) as server:
        made = peers.provider(server, "lean")
        bucket = made.storage.buckets.create(BUCKET)
        body = b"x" * SIZE
        harness.in_pool(
            16, options.objects, lambda i: bucket.objects.create(f"small/{i:05d}.dat").upload(body)
        )
        made.close()
        emulator = psutil.Process().children(recursive=True)
        print(os.popen("uptime").read().strip(), flush=True)
        for form in options.forms.split(","):
            runs: dict[str, list[tuple[float, ...]]] = {name: [] for name in checkouts}
            _reads(str(ROOT), server, options, form)  # untimed: the emulator warms up
            for number in range(options.rounds):
                order = list(checkouts.items())
                for name, checkout in order if number % 2 == 0 else order[::-1]:
                    before = _emulator_cpu(emulator)
                    result = _reads(checkout, server, options, form)
                    # the emulator's CPU over the whole process (listing and
                    # warm-up pass included): per object of every read it served
                    served = (_emulator_cpu(emulator) - before) / (
                        result["objects"] * (options.passes + 1)
                    )
                    objects = result["objects"]
                    user, system = result["user"] / objects, result["system"] / objects
                    runs[name].append((result["wall"], user + system, user, system, served))
            for name, results in runs.items():
                wall, client, user, system, served = (
                    statistics.median(r[i] for r in results) for i in range(5)
                )
                print(
                    f"{form:8s} {name:4s} {options.objects:,} x 4 KiB on {options.width} threads:"
                    f" wall {wall:6.3f} s, client {client * 1e6:6.1f} CPU-µs/object"
                    f" (user {user * 1e6:5.1f}, system {system * 1e6:5.1f}),"
                    f" emulator {served * 1e6:6.1f} CPU-µs/object",
                    flush=True,
                )
        print(os.popen("uptime").read().strip(), flush=True)


if __name__ == "__main__":
    main()
