"""Client CPU per key of iterating a bucket: this checkout against another, side by side.

    python bench/list_per_key.py --base /path/to/other/checkout            # local, s3, swift
    python bench/list_per_key.py --base ../main --providers swift --objects 2000

Per provider, one server and one bucket of ``--objects`` keys (stored with the
SDK plane). Each round runs a fresh process per checkout, the checkouts
alternated round by round; a process iterates ``bucket.objects`` once to warm
up, then ``--listings`` times, and reports its median wall time and CPU
(user + system, every thread of the process: the reader threads of a LOCAL
listing count). The lean data plane where the provider has one. Printed:
medians over the rounds, and CPU-µs per key. A noisy machine moves both
checkouts alike; compare the two lines, not the figures across runs.
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

BUCKET = "per-key"

LISTER = r"""
import json, resource, statistics, sys, time
checkout, server, listings = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
sys.path[:0] = [checkout, checkout + "/bench"]
import peers
made = peers.provider(server, None if server["provider"] == "local" else "lean")
bucket = made.storage.buckets.get(sys.argv[4])

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

keys = len(list(bucket.objects))
walls, cpus = [], []
for _ in range(listings):
    wall, used = time.perf_counter(), cpu()
    assert len(list(bucket.objects)) == keys
    walls.append(time.perf_counter() - wall)
    cpus.append(cpu() - used)
print(json.dumps({"keys": keys, "wall": statistics.median(walls), "cpu": statistics.median(cpus)}))
"""


def _listing(checkout: str, server: dict[str, Any], listings: int) -> dict[str, Any]:
    argv = [sys.executable, "-c", LISTER, checkout, json.dumps(server), str(listings), BUCKET]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(provider: str, checkouts: dict[str, str], options: argparse.Namespace) -> None:
    module = __import__(f"bench_{provider}")
    with tempfile.TemporaryDirectory() as work, module.server(Path(work)) as server:
        made = peers.provider(server, None if server["provider"] == "local" else "sdk")
        bucket = made.storage.buckets.create(BUCKET)
        harness.in_pool(
            16, options.objects, lambda i: bucket.objects.create(f"list/{i:06d}.dat").upload(b"x")
        )
        made.close()
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in checkouts}
        for number in range(options.rounds):
            order = list(checkouts.items())
            for name, checkout in order if number % 2 == 0 else order[::-1]:
                runs[name].append(_listing(checkout, server, options.listings))
        for name, results in runs.items():
            keys = results[0]["keys"]
            wall = statistics.median(r["wall"] for r in results)
            cpu = statistics.median(r["cpu"] for r in results)
            print(
                f"{provider:6s} {name:5s} {keys:,} keys  wall {wall:6.3f} s  CPU {cpu:6.3f} s"
                f"  {cpu / keys * 1e6:5.1f} CPU-us/key",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the other checkout (its root directory)")
    parser.add_argument("--providers", default="local,s3,swift")
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--listings", type=int, default=5, help="timed listings per process")
    options = parser.parse_args()
    checkouts = {"base": os.path.abspath(options.base), "this": str(ROOT)}
    for provider in options.providers.split(","):
        measure(provider, checkouts, options)


if __name__ == "__main__":
    main()
