"""LOCAL provider throughput against cp, and peak memory of large transfers.

    python bench/bench_local.py                    # 1 GiB, 5 rounds, 2 GiB memory check
    python bench/bench_local.py --size-mib 256 --rounds 3 --memory-size-mib 512

Each round times, alternating so that machine noise hits all alike:
``cp`` of the file, ``upload_from_file`` of it, ``cp`` back out, and
``download_to_file``. Every destination already exists (an untimed first
round makes them), so cp and bucketbridge both pay for replacing a file:
on ext4 that costs freeing the old blocks and flushing the new ones, which is
what makes the replace crash-safe. Medians and the ratio of our throughput to
cp's are printed. Peak memory is the max RSS of a fresh process that uploads and then
downloads a file of ``--memory-size-mib``, both through ``upload_from_file`` /
``download_to_file`` and through ``upload``/``save_content`` of streams (the
generic part engine), against the RSS of the same process before transferring.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# the checkout this script is in, not whichever bucketbridge pip installed
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bucketbridge import CloudProviderFactory, ProviderList  # noqa: E402

MiB = 1024 * 1024


def _make_file(path: str, size: int) -> None:
    block = os.urandom(8 * MiB)
    with open(path, "wb") as handle:
        for offset in range(0, size, len(block)):
            handle.write(block[: min(len(block), size - offset)])


def _timed(action: Callable[[], object]) -> float:
    os.sync()  # start each step with no writeback left over from the previous one
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _cp(source: str, target: str) -> None:
    subprocess.run(["cp", source, target], check=True)


def throughput(size_mib: int, rounds: int, work: str) -> None:
    size = size_mib * MiB
    source = os.path.join(work, "source.bin")
    _make_file(source, size)
    provider = CloudProviderFactory().create_provider(
        ProviderList.LOCAL, {"local_root": os.path.join(work, "root")}
    )
    bucket = provider.storage.buckets.create("bench")
    obj = bucket.objects.create("big.bin")
    times: dict[str, list[float]] = {"cp in": [], "upload": [], "cp out": [], "download": []}
    stored = os.path.join(work, "root", "bench", "big.bin")
    for round_number in range(rounds + 1):
        if round_number == 1:  # round 0 only made the destinations exist
            times = {name: [] for name in times}
        times["cp in"].append(_timed(lambda: _cp(source, os.path.join(work, "cp-copy.bin"))))
        times["upload"].append(_timed(lambda: obj.upload_from_file(source)))
        times["cp out"].append(_timed(lambda: _cp(stored, os.path.join(work, "cp-out.bin"))))
        times["download"].append(
            _timed(lambda: obj.download_to_file(os.path.join(work, "down.bin")))
        )
    print(f"\n{size_mib} MiB, {rounds} rounds (median seconds, MiB/s)")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, seconds in medians.items():
        print(f"  {name:10s} {seconds:7.3f} s  {size_mib / seconds:8.0f} MiB/s")
    print(f"  upload   / cp: {medians['cp in'] / medians['upload']:.2f}x cp's throughput")
    print(f"  download / cp: {medians['cp out'] / medians['download']:.2f}x cp's throughput")
    provider.close()


MEMORY_CHILD = r"""
import io, os, resource, sys
from bucketbridge import CloudProviderFactory, ProviderList, TransferConfig
work, size, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
provider = CloudProviderFactory().create_provider(
    ProviderList.LOCAL, {"local_root": os.path.join(work, "memroot")})
bucket = provider.storage.buckets.get("mem") or provider.storage.buckets.create("mem")
obj = bucket.objects.create(mode + ".bin")
source = os.path.join(work, "memsource.bin")
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if mode == "files":
    obj.upload_from_file(source)
    obj.download_to_file(os.path.join(work, "memout.bin"))
else:
    with open(source, "rb") as handle:
        obj.upload(handle)
    with open(os.path.join(work, "memout.bin"), "wb") as handle:
        obj.save_content(handle)
assert os.path.getsize(os.path.join(work, "memout.bin")) == size
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(baseline // 1024, peak // 1024)
"""


def peak_memory(size_mib: int, work: str) -> None:
    size = size_mib * MiB
    _make_file(os.path.join(work, "memsource.bin"), size)
    print(f"\npeak RSS moving {size_mib} MiB each way (MiB; process before the transfer)")
    for mode in ("files", "streams"):
        result = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, work, str(size), mode],
            cwd=ROOT,  # the child imports bucketbridge from this checkout too
            check=True,
            capture_output=True,
            text=True,
        )
        baseline, peak = map(int, result.stdout.split())
        print(f"  {mode:8s} peak {peak:5d} MiB (baseline {baseline} MiB)")
    os.unlink(os.path.join(work, "memout.bin"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory-size-mib", type=int, default=2048)
    parser.add_argument("--dir", default=None, help="scratch directory (default: a temp dir)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="bb-bench-", dir=args.dir)
    try:
        throughput(args.size_mib, args.rounds, work)
        peak_memory(args.memory_size_mib, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"\n(bench process peak RSS {own_peak} MiB)")


if __name__ == "__main__":
    main()
