"""The page-cache regime a download-to-disk row runs in, and a probe that shows it.

This VM hands idle memory back to its host (virtio-balloon free-page
reporting, a DAMON pageout rule: /work/shared/research/data-path.md). A page
freed moments ago is still backed by the host and costs ~2 µs to touch; a
page the guest has reported (or DAMON paged out and the kernel then reported)
must be faulted in by the host again, ~11 µs. So the page cache a download
writes grows either into recently used memory (**warm**) or into reclaimed
memory (**cold**), and the same client can run 4x apart. Each row names its
regime, and the harness puts the machine in it just before the timer:

- warm: the worker, after its imports and client, writes a file of the
  object's size next to the destination and deletes it; the allocator hands
  those just-freed pages to the download's page cache (freed pages are
  reused last-in first-out, and nothing reports them within the second
  before the timer starts);
- cold: the driver drops the page cache (``echo 3 > /proc/sys/vm/drop_caches``,
  root only), reads the download source once through the server (so the
  server serves it from memory, as in warm rows: the cold regime is the
  client's, not the server's disk), then waits until the kernel's
  free-page reporting is quiet (``reported_kib`` of this kernel's
  ``page_reporting`` module, else MemFree) — the freed memory has then gone
  back to the host.

``python bench/regime.py`` measures a plain 1 MiB ``pwrite`` loop and ``cp``
in each regime, alternating, so one can check that the regimes still differ
on the machine at hand (they depend on the host, not on this code).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

MiB = 1024 * 1024
PAGE = 4096
REGIMES = ("warm", "cold")
SHM = "/dev/shm"
REPORTED = Path("/sys/module/page_reporting/parameters/reported_kib")
DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def make_warm(directory: Path, size: int) -> None:
    """Write and delete ``size`` bytes in ``directory``: the next ``size``
    bytes of page cache land in pages the host still backs."""
    path = directory / f".warm-{os.getpid()}"
    block = bytes(MiB)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for offset in range(0, max(size, MiB), MiB):
            os.pwrite(fd, block, offset)
    finally:
        os.close(fd)
        path.unlink()


def _mem_free_kib() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemFree:"):
                return int(line.split()[1])
    raise RuntimeError("no MemFree in /proc/meminfo")


def _reported_kib() -> int | None:
    try:
        return int(REPORTED.read_text())
    except (OSError, ValueError):
        return None


def make_cold(prime: Callable[[], None], *, drop_caches: bool, settle_max: float) -> str:
    """Put the machine in the cold regime; returns a note for the row when
    it could not be done fully ('' when it was)."""
    notes = []
    os.sync()
    if drop_caches:
        try:
            DROP_CACHES.write_text("3")
        except OSError:
            notes.append("caches not dropped: not root")
    else:
        notes.append("caches not dropped")
    prime()
    if settle_max <= 0:
        notes.append("not settled")
    elif not settle(settle_max):
        notes.append(f"reporting still busy after {settle_max:.0f} s")
    return f" ({'; '.join(notes)})" if notes else ""


def settle(limit: float, quiet: float = 2.0, step: float = 0.25) -> bool:
    """Wait until free-page reporting has been quiet for ``quiet`` seconds,
    at most ``limit`` seconds; True if it was. Where the kernel has no
    reporting counter, until MemFree stopped rising (MemFree moves with
    every process on a shared machine, so it is only the fallback)."""
    counter = _reported_kib() is not None
    slack = 0 if counter else 16 * 1024

    def level() -> int:
        return (_reported_kib() or 0) if counter else _mem_free_kib()

    deadline = time.monotonic() + limit
    last = level()
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(step)
        now = level()
        if now - last > slack:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet:
            return True
        last = now
    return False


# --- the probe: do the regimes differ on this machine right now? -----------


def _pwrite_loop(path: Path, size: int) -> float:
    block = os.urandom(MiB)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        start = time.perf_counter()
        for offset in range(0, size, MiB):
            os.pwrite(fd, block, offset)
        return time.perf_counter() - start
    finally:
        os.close(fd)


def _touch(size: int) -> float:
    """Seconds to fault in ``size`` bytes of fresh anonymous memory, a page
    at a time: the regime itself, without a filesystem in the way."""
    import mmap

    area = mmap.mmap(-1, size)
    try:
        area.madvise(mmap.MADV_NOHUGEPAGE)
        start = time.perf_counter()
        for offset in range(0, size, PAGE):
            area[offset] = 1
        return time.perf_counter() - start
    finally:
        area.close()


def _cp(source: Path, target: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["cp", str(source), str(target)], check=True)
    return time.perf_counter() - start


def probe(size: int, rounds: int, workdir: str | None, drop: bool) -> str:
    work = Path(tempfile.mkdtemp(prefix="bench-regime-", dir=workdir))
    try:
        source = work / "source.bin"
        with open(source, "wb") as handle:
            for _ in range(0, size, MiB):
                handle.write(os.urandom(MiB))
        target = work / "target.bin"
        times: dict[tuple[str, str], list[float]] = {}

        def prime() -> None:
            with open(source, "rb") as handle:
                while handle.read(8 * MiB):
                    pass

        for number in range(rounds):
            for name in REGIMES if number % 2 == 0 else REGIMES[::-1]:
                for tool, run in (
                    ("touch pages", lambda: _touch(size // 2)),
                    ("pwrite 1 MiB", lambda: _pwrite_loop(target, size)),
                    ("cp", lambda: _cp(source, target)),
                ):
                    target.unlink(missing_ok=True)
                    if name == "cold":
                        make_cold(prime, drop_caches=drop, settle_max=30.0)
                    else:
                        make_warm(work, size)
                    times.setdefault((name, tool), []).append(run())
                    os.sync()
        lines = [
            f"{size // MiB} MiB written into {work.parent} (fresh memory: {size // MiB // 2} MiB"
            f" touched), each after its own regime set-up; medians of {rounds}:"
        ]
        pages = size // 2 // PAGE
        for tool in ("touch pages", "pwrite 1 MiB", "cp"):
            medians = {name: statistics.median(times[(name, tool)]) for name in REGIMES}
            if tool == "touch pages":
                cells = ", ".join(f"{n} {s / pages * 1e6:.1f} µs/page" for n, s in medians.items())
            else:
                cells = ", ".join(f"{n} {size / MiB / s:,.0f} MiB/s" for n, s in medians.items())
            ratio = medians["warm"] / medians["cold"]
            lines.append(f"  {tool:13s} {cells}; cold/warm speed {ratio:.2f}")
        return "\n".join(lines)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="do the page-cache regimes differ here?")
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--no-drop-caches", action="store_true")
    args = parser.parse_args()
    print(probe(args.size_mib * MiB, args.rounds, args.workdir, not args.no_drop_caches))


if __name__ == "__main__":
    main()
