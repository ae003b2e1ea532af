"""Where the batch rows' time goes: client and server CPU of ``copy()`` of small objects.

    python bench/profile_batch.py s3                 # 2,000 x 4 KiB, LOCAL -> server -> LOCAL
    python bench/profile_batch.py gcs --rounds 3     # s3 (SeaweedFS), azure (Azurite), gcs
    python bench/profile_batch.py s3 --profile       # cProfile (CPU) of one pass, on one thread
    python bench/profile_batch.py gcs --held-ab --rounds 10   # held calls off/on, round by round
    python bench/profile_batch.py gcs --tls --windows 8,1 --directions down --rounds 5

Each round copies the objects up (a LOCAL bucket to the server, as the
``batch-up`` row) and back down (``batch-down``) on a thread pool of
``--width``, and prints the wall time, this process's CPU (the client) and
the CPU of the server processes it started (the server): on two shared
cores, their sum is what the wall cannot go below. Run it from two
checkouts one after the other to compare code side by side.

``--held-ab`` compares in one process: odd rounds let the GIL go around
every system call as before, even rounds keep it through the calls that
never wait (the pool's idle poll; a LOCAL put's calls on tmpfs, see
drivers/local/beneath.holds_gil), and each line adds the context switches
an object (getrusage): the same machine, load and server, so the two
arms differ only in that.

``--tls`` serves the server over https (its own TLS, a CA made for the
run, as bench/harness.py's ``--tls``), and both verify the certificate:
GCS by the environment (``SSL_CERT_FILE``), S3 by ``ca_bundle``. ``--windows 8,1``
runs each round once per ``multiplex_window`` (a provider each, one
server): 1 is the blocking path, one request per thread; the window
only changes the reads, so ``--directions down`` reads a prefix stored
once before the rounds.
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import os
import pstats
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import harness  # (puts this checkout first on sys.path; the LOCAL root on tmpfs)
import psutil

from bucketbridge import CloudProviderFactory, Location, ProviderList, copy
from bucketbridge.dataplane import pool as pool_module


class Inline(Executor):
    """Runs each batch on the calling thread: what cProfile can see."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:
            future.set_exception(error)
        return future


def start(
    provider: str, work: Path, stack: ExitStack, *, tls: bool = False
) -> tuple[ProviderList, dict[str, Any]]:
    """Start the server; the provider id and config that reach it."""
    made = None
    if tls:
        if provider == "azure":
            raise SystemExit("profile_batch: no --tls for azure (Azurite is not served over https)")
        from tests.servers import certs

        (work / "tls").mkdir()
        made = certs.make(work / "tls")
        os.environ.update(harness.tls_environment(made.ca_file))
    if provider == "s3":
        from tests.servers.seaweedfs import start_seaweedfs

        server = stack.enter_context(start_seaweedfs(work / "server", tls=made))
        return ProviderList.AWS, server.config(**({"ca_bundle": str(made.ca_file)} if made else {}))
    if provider == "azure":
        from tests.servers.azurite import start_azurite

        server = stack.enter_context(start_azurite(work / "server", in_memory=False))
        return ProviderList.AZURE, server.config()
    from tests.servers.fake_gcs import start_fake_gcs

    server = stack.enter_context(start_fake_gcs(work / "server", in_memory=False, tls=made))
    return ProviderList.GCP, server.config()


def server_cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("provider", choices=["s3", "azure", "gcs"])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="cProfile one pass on one thread")
    parser.add_argument("--held-ab", action="store_true", help="held calls off/on, round by round")
    parser.add_argument("--tls", action="store_true", help="the server over https")
    parser.add_argument(
        "--windows", default="", help="multiplex_window of each arm, e.g. 8,1 (default: config's)"
    )
    parser.add_argument("--directions", default="up,down", help="up, down or both")
    parser.add_argument(
        "--batch-objects", type=int, default=0, help="copy()'s batch_objects (default: as the rows)"
    )
    options = parser.parse_args()
    windows = [int(w) for w in options.windows.split(",") if w] or [None]
    directions = [d for d in options.directions.split(",") if d]
    # as bench/peers.py, unless given
    batch = options.batch_objects or max(1, -(-options.objects // (4 * options.width)))
    figures: dict[str, list[tuple[float, float, float]]] = {}  # arm -> (wall, client, server)
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as name, ExitStack() as stack:
        work = Path(name)
        provider_id, config = start(options.provider, work, stack, tls=options.tls)
        factory = CloudProviderFactory()
        remotes = {
            window: factory.create_provider(
                provider_id, config if window is None else {**config, "multiplex_window": window}
            )
            for window in windows
        }
        remote = remotes[windows[0]]
        servers = psutil.Process().children(recursive=True)
        root = stack.enter_context(harness.removed_after(harness.local_root(work)))
        local = factory.create_provider(ProviderList.LOCAL, {"local_root": str(root)})
        source = local.storage.buckets.create("batch-source")
        payload = os.urandom(options.size)
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda i: source.objects.create(f"small/{i:05d}.dat").upload(payload),
                    range(options.objects),
                )
            )
        remote.storage.buckets.create("batch-remote")
        if "up" not in directions:  # what the downs read: stored once, untimed
            seeded = copy(
                Location(local, "batch-source", "small/"), Location(remote, "batch-remote", "seed/")
            )
            seeded.raise_for_failures()
        rounds = 1 if options.profile else options.rounds
        held_poll = pool_module._held_poll
        for number in range(rounds):
            arm = ""
            if options.held_ab:
                held = number % 2 == 1
                arm = f" held={held}"
                _hold(local, held_poll, held)
            for window in windows:
                remote = remotes[window]
                label = arm + ("" if window is None else f" window={window}")
                prefix = f"r{number}-{window}/" if "up" in directions else "seed/"
                for direction in directions:
                    if direction == "up":
                        origin = Location(local, "batch-source", "small/")
                        target = Location(remote, "batch-remote", prefix)
                    else:
                        # a bucket name takes no "None": the config's window is 0 here
                        down = f"batch-down-{number}-{window or 0}"
                        local.storage.buckets.create(down)
                        origin = Location(remote, "batch-remote", prefix)
                        target = Location(local, down)
                    if options.profile:
                        _profile(direction, origin, target, batch)
                        continue
                    measured = _measure(origin, target, batch, options.width, servers)
                    figures.setdefault(f"{direction}{label}", []).append(measured[:3])
                    wall, cpu, served, switches, system, faults = measured
                    print(
                        f"{options.provider} {direction} round {number + 1}{label}:"
                        f" wall {wall:.2f} s, client {cpu:.2f} CPU-s"
                        f" ({cpu / options.objects * 1e6:.0f} µs/object, {system:.2f} s of it"
                        f" system, {switches / options.objects:.1f} context switches and"
                        f" {faults / options.objects:.1f} page faults/object),"
                        f" server {served:.2f} CPU-s, load average {os.getloadavg()[0]:.0f}",
                        flush=True,
                    )
    transport = "https" if options.tls else "http"
    for arm, runs in figures.items():
        wall, cpu, served = (statistics.median(run[i] for run in runs) for i in range(3))
        print(
            f"median of {len(runs)}, {options.provider} {arm} over {transport}: wall {wall:.2f} s,"
            f" client {cpu / options.objects * 1e6:.0f} CPU-µs/object,"
            f" server {served / options.objects * 1e6:.0f} CPU-µs/object"
        )


def _profile(direction: str, origin: Location, target: Location, batch: int) -> None:
    """cProfile of one pass on one thread (client CPU)."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    report = copy(origin, target, executor=Inline(), batch_objects=batch)
    profiler.disable()
    report.raise_for_failures()
    print(f"==== {direction}: cProfile of client CPU, one thread")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(40)


def _measure(
    origin: Location, target: Location, batch: int, width: int, servers: list[psutil.Process]
) -> tuple[float, float, float, int, float, int]:
    """One copy on ``width`` threads: wall, client CPU-s, server CPU-s, context
    switches, the client's system CPU-s and its minor page faults."""
    served = server_cpu(servers)
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu, wall = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(width) as pool:
        report = copy(origin, target, executor=pool, batch_objects=batch)
    report.raise_for_failures()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    served = server_cpu(servers) - served
    after = resource.getrusage(resource.RUSAGE_SELF)
    switches = (after.ru_nvcsw + after.ru_nivcsw) - (before.ru_nvcsw + before.ru_nivcsw)
    system = after.ru_stime - before.ru_stime
    faults = after.ru_minflt - before.ru_minflt
    return wall, cpu, served, switches, system, faults


def _hold(local: Any, held_poll: Any, held: bool) -> None:
    """The held calls on (as shipped) or off: the LOCAL driver's publish
    calls, and the pool's idle poll through a libc ``poll`` that lets the
    GIL go, as ``select.poll`` does."""
    local.driver._held = held and local.driver._fast
    if held_poll is None:
        return
    if held:
        pool_module._held_poll = held_poll
        return
    released = ctypes.CDLL(None, use_errno=True).poll
    released.restype, released.argtypes = held_poll.restype, held_poll.argtypes
    pool_module._held_poll = released


if __name__ == "__main__":
    main()
