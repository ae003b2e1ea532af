"""Client CPU of one small LOCAL write: ``put_object`` against the floor and obstore.

    python bench/local_small_write.py                  # 2,000 x 4 KiB, widths 1 and 16
    python bench/local_small_write.py --base ../other  # that checkout's driver beside this one's
    python bench/local_small_write.py --strace         # system calls an object, each contender
    python bench/local_small_write.py --profile        # cProfile of this checkout's puts

The contenders, each writing ``--count`` new 4 KiB objects into a new
directory of one bucket, as ``copy()`` into a LOCAL bucket does (the
batch-down row):

- ``this`` / ``base``: ``LocalDriver.put_object`` of a ``Body.of_bytes``,
  the call ``copy()`` makes for a small object (transfer.put_bytes);
- ``floor``: the same guarantees by hand in bare Python -- the parent
  resolved beneath the root without links (openat2), an unnamed file
  (O_TMPFILE), the bytes, their MD5, an fstat for the identity, the record
  set with fsetxattr, one linkat publishing it (fails if the key is taken;
  by the descriptor itself where the kernel allows it, as the driver does);
- ``floor-dir``: the floor with the parent directory opened once, not per
  object (what caching it would save);
- ``obstore``: obstore's LocalStore ``put`` of the same bytes (a named
  temporary file renamed into place; no MD5, no record).

Each round runs a fresh process per contender, contenders rotated round by
round; a process writes the objects twice untimed, then ``--passes`` times
into new directories, and reports its least CPU of a pass (user + system,
every thread: others' load only ever adds to it). Printed: medians over the
rounds, in CPU-µs an object. ``--dir /dev/shm`` takes the disk's
filesystem out: on this machine's ext4 (no journal) a new inode skips every
one freed in the last minute or more, so the system time of every writer
here moves with what anyone deleted lately. With
``--strace`` each contender runs once under ``strace -f -c`` with the
objects and once without; the difference over the count is what the
objects cost in system calls (one thread). A noisy machine moves every
contender alike: compare the lines of one run, not figures across runs.
With ``--base``, both checkouts' drivers also run alternated in one process
(``--count``/4 objects a pass, ``--rounds`` x 5 passes; thread CPU): the
steadiest comparison of the two on a loaded machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import harness

ROOT = harness.ROOT
CONTENDERS = ("this", "floor", "floor-dir", "obstore")

WORKER = r"""
import json, os, resource, statistics, sys, time
from concurrent.futures import ThreadPoolExecutor
contender, checkout, root, count, passes, width, warm = sys.argv[1:8]
count, passes, width, warm = int(count), int(passes), int(width), warm == "1"
payload = os.urandom(4096)

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime

if contender in ("this", "base"):
    sys.path.insert(0, checkout)
    from bucketbridge import CloudProviderFactory, ProviderList
    from bucketbridge.drivers.records import Body, WriteOptions, guess_content_type
    provider = CloudProviderFactory().create_provider(ProviderList.LOCAL, {"local_root": root})
    driver = provider.driver
    driver.create_bucket("bench", None)
    options = WriteOptions(content_type=guess_content_type("x/00000.dat"))

    def maker(prefix):
        def put(index):
            driver.put_object("bench", f"{prefix}/{index:05d}.dat", Body.of_bytes(payload), options)
        return put

elif contender in ("floor", "floor-dir"):
    import ctypes, hashlib, msgspec
    sys.path.insert(0, checkout)
    from bucketbridge.drivers.local import beneath  # openat2 and linkat, nothing else
    os.makedirs(os.path.join(root, "bench"), exist_ok=True)
    os.makedirs(os.path.join(root, "tmp"), exist_ok=True)
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    tmp_fd = os.open(os.path.join(root, "tmp"), os.O_RDONLY | os.O_DIRECTORY)
    encoder = msgspec.msgpack.Encoder()
    beneath.probe(tmp_fd)  # links by the descriptor itself where allowed, as the driver
    flags = os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC
    cached = contender == "floor-dir"

    def maker(prefix):
        os.makedirs(os.path.join(root, "bench", prefix), exist_ok=True)
        held = beneath.open_beneath(root_fd, f"bench/{prefix}", beneath.DIR_FLAGS)

        def put(index):
            name = f"{index:05d}.dat"
            parent = held if cached else beneath.open_beneath(
                root_fd, f"bench/{prefix}", beneath.DIR_FLAGS
            )
            fd = os.open(".", flags, 0o644, dir_fd=tmp_fd)
            try:
                os.write(fd, payload)
                etag = hashlib.md5(payload, usedforsecurity=False).digest()
                stat = os.fstat(fd)
                record = {"v": (stat.st_ino, stat.st_size, stat.st_mtime_ns), "e": etag}
                os.setxattr(fd, "user.bucketbridge", encoder.encode(record))
                beneath.link_fd(fd, parent, name)
            finally:
                os.close(fd)
                if not cached:
                    os.close(parent)
        return put

else:
    import obstore
    from obstore.store import LocalStore
    os.makedirs(os.path.join(root, "bench"), exist_ok=True)
    store = LocalStore(os.path.join(root, "bench"))

    def maker(prefix):
        def put(index):
            obstore.put(store, f"{prefix}/{index:05d}.dat", payload)
        return put

def run(prefix):
    put = maker(prefix)
    if width == 1:
        for index in range(count):
            put(index)
    else:
        with ThreadPoolExecutor(width) as pool:
            for _ in pool.map(put, range(count)):
                pass

if sys.argv[8:] == ["profile"]:
    import cProfile, pstats
    run("warm")
    profile = cProfile.Profile(time.thread_time)  # CPU, not wall: waits are not cost
    profile.enable()
    run("profiled")
    profile.disable()
    pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    raise SystemExit
if warm:  # two passes: the first of a process costs more in the kernel
    run("warm")
    run("warm2")
used = []
for number in range(passes):
    user, system = cpu()
    run(f"p{number}")
    after = cpu()
    used.append((after[0] - user + after[1] - system, after[1] - system))
# the least disturbed pass: on a shared machine, others' load only adds CPU
best = min(used) if used else (0.0, 0.0)
print(json.dumps({"cpu": best[0], "sys": best[1]}))
"""


def _worker(
    contender: str,
    checkout: str,
    root: str,
    options: argparse.Namespace,
    *rest: str,
    count: int | None = None,
    passes: int | None = None,
    width: int = 1,
    warm: bool = True,
    prefix: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        "-c",
        WORKER,
        contender,
        checkout,
        root,
        str(options.count if count is None else count),
        str(options.passes if passes is None else passes),
        str(width),
        "1" if warm else "0",
        *rest,
    ]
    done = subprocess.run([*(prefix or []), *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{contender}: {done.stderr[-3000:]}")
    return done


def measure(options: argparse.Namespace, checkouts: dict[str, str], width: int) -> None:
    names = list(checkouts)
    cpus: dict[str, list[float]] = {name: [] for name in names}
    systems: dict[str, list[float]] = {name: [] for name in names}
    # Every root is kept until the end: on ext4 without a journal (as here),
    # a new inode skips those freed in the last minute, one lookup each, so
    # a root removed between two processes made the next one's writes cost
    # up to ~250 sys-us more an object (perf: recently_deleted).
    with tempfile.TemporaryDirectory(dir=options.dir) as work:
        for number in range(options.rounds):
            order = names if number % 2 == 0 else names[::-1]
            for name in order:
                root = Path(work, f"{width}-{number}-{name}")
                root.mkdir()
                done = _worker(name, checkouts[name], str(root), options, width=width)
                result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
                cpus[name].append(result["cpu"])
                systems[name].append(result["sys"])
    floor = statistics.median(cpus["floor"]) if "floor" in cpus else None
    for name in names:
        per = statistics.median(cpus[name]) / options.count * 1e6
        system = statistics.median(systems[name]) / options.count * 1e6
        spread = [f"{value / options.count * 1e6:.1f}" for value in cpus[name]]
        against = f"  {per / (floor / options.count * 1e6):4.2f}x the floor" if floor else ""
        print(
            f"width {width:2d}  {name:9s} {per:6.1f} CPU-us/object ({system:5.1f} sys){against}"
            f"  (rounds: {', '.join(spread)})",
            flush=True,
        )


def _strace_counts(
    name: str, checkout: str, options: argparse.Namespace, count: int
) -> dict[str, int]:
    with tempfile.TemporaryDirectory(dir=options.dir) as work:
        out = Path(work, "strace.out")
        root = Path(work, "root")
        root.mkdir()
        _worker(
            name,
            checkout,
            str(root),
            options,
            count=count,
            passes=1,
            warm=False,
            prefix=["strace", "-f", "-c", "-o", str(out)],
        )
        calls: dict[str, int] = {}
        for line in out.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
                calls[fields[-1]] = int(fields[3])
        return calls


def strace(options: argparse.Namespace, checkouts: dict[str, str]) -> None:
    count = options.count
    for name, checkout in checkouts.items():
        base = _strace_counts(name, checkout, options, 0)
        run = _strace_counts(name, checkout, options, count)
        per = {k: (run.get(k, 0) - base.get(k, 0)) / count for k in base.keys() | run.keys()}
        shown = sorted(((v, k) for k, v in per.items() if abs(v) >= 0.05), reverse=True)
        total = sum(v for v, _ in shown)
        print(
            f"{name:9s} {total:5.1f} syscalls/object: "
            + ", ".join(f"{k} {v:.1f}" for v, k in shown),
            flush=True,
        )


SAME_PROCESS = r"""
import os, shutil, statistics, sys, tempfile, time
this, base, where, count, rounds = sys.argv[1:6]
count, rounds = int(count), int(rounds)
sys.path[:0] = [this, base]
from bucketbridge.drivers.local.driver import LocalDriver as This
from bucketbridge.drivers.records import Body, WriteOptions
from bucketbridge_base.drivers.local.driver import LocalDriver as Base
from bucketbridge_base.drivers import records as base_records
kit = (Body, WriteOptions)
payload = os.urandom(4096)
made = {}
for name, driver, records in (("base", Base, base_records), ("this", This, None)):
    body, options = kit if records is None else (records.Body, records.WriteOptions)
    root = tempfile.mkdtemp(dir=where)
    made[name] = (root, driver(root), body, options(content_type="application/octet-stream"))
    made[name][1].create_bucket("b", None)
cpus = {name: [] for name in made}
for number in range(rounds):
    for name, (root, driver, body, options) in (
        list(made.items()) if number % 2 else list(made.items())[::-1]
    ):
        os.mkdir(f"{root}/b/p{number}")
        start = time.thread_time()
        for index in range(count):
            driver.put_object("b", f"p{number}/{index:05d}.dat", body.of_bytes(payload), options)
        cpus[name].append((time.thread_time() - start) / count * 1e6)
for name, values in cpus.items():
    values.sort()
    low, quartile, median = values[0], values[len(values) // 4], statistics.median(values)
    print(f"one process  {name:5s} CPU-us/object: lowest {low:5.1f},"
          f" lower quartile {quartile:5.1f}, median {median:5.1f}")
for root, *_ in made.values():
    shutil.rmtree(root)
"""


def same_process(options: argparse.Namespace) -> None:
    """Both checkouts' drivers in one process, alternated pass by pass (the
    base's package copied in as ``bucketbridge_base``: its imports are
    relative): what differs between processes (memory placement, the
    machine's load at that moment) cancels."""
    with tempfile.TemporaryDirectory() as work:
        shutil.copytree(Path(options.base, "bucketbridge"), Path(work, "bucketbridge_base"))
        argv = [sys.executable, "-c", SAME_PROCESS, str(ROOT), work, options.dir or work]
        argv += [str(options.count // 4), str(options.rounds * 5)]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        print(done.stdout, end="", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base", help="another checkout (its root directory), measured beside this one"
    )
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--passes", type=int, default=5, help="timed passes a process")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--widths", default="1,16")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument(
        "--dir", default=None, help="where the roots go (default: the system's tmp)"
    )
    parser.add_argument("--strace", action="store_true", help="count system calls instead")
    parser.add_argument("--profile", action="store_true", help="cProfile this checkout's puts")
    options = parser.parse_args()
    checkouts = {name: str(ROOT) for name in options.contenders.split(",")}
    if options.base:
        checkouts = {"base": os.path.abspath(options.base), **checkouts}
    if options.profile:
        with tempfile.TemporaryDirectory(dir=options.dir) as work:
            print(_worker("this", str(ROOT), work, options, "profile").stdout)
        return
    if options.strace:
        strace(options, checkouts)
        return
    if options.base:
        same_process(options)
    print(
        f"{options.count:,} x 4 KiB new objects a pass, {options.passes} passes a process, "
        f"{options.rounds} rounds; load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    for width in (int(width) for width in options.widths.split(",")):
        measure(options, checkouts, width)


if __name__ == "__main__":
    main()
