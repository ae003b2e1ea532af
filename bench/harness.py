"""What every bench script shares: fresh processes, rounds, regimes, medians, tables.

A script declares its rows (:class:`Row`: a scenario, a page-cache regime,
the contenders, the reference) and a ``make_action(spec)`` that builds one
contender's measured call; :func:`main` does the rest:

- every measurement runs in a fresh process (``script --worker SPEC``), which
  builds its client untimed, then reports the call's wall time, its client
  CPU-seconds (user+sys of the measuring process, or of the child for
  external commands such as curl and cp) and its peak RSS above the
  process's own baseline (imports and clients not counted);
- contenders are rotated round by round, so machine noise hits all alike;
- medians, and each contender's speed relative to the row's reference
  measured in the same run (reference time / contender time: above 1.0 is
  faster than the reference);
- download-to-disk rows run in a named page-cache regime (see
  :mod:`regime`), printed beside every figure; ``find`` and ``list`` are
  measured warm: each after one untimed run of itself;
- ``--quick`` (small sizes, one round) is what the smoke test runs;
  ``--markdown`` prints the table for ``bench/results.md``;
- ``--tls`` (scripts whose server can serve https itself): the server
  speaks https with a certificate of a test CA made for the run, and every
  contender verifies it (:func:`tls_environment`), or, where bucketbridge
  cannot be given the CA (``Bench.tls_unverified`` says why), none does.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
for _path in (str(BENCH), str(ROOT)):  # this checkout's bucketbridge, whatever pip installed
    if _path not in sys.path:
        sys.path.insert(0, _path)

import regime  # noqa: E402

if TYPE_CHECKING:  # cryptography: imported only by a --tls run's driver
    from tests.servers.certs import Certificates

MiB = 1024 * 1024
KiB = 1024

# scenarios and what their figure means
TRANSFERS = ("download", "download-shm", "upload")
# Rows that read what the server (or LOCAL's root) keeps on disk, key by key:
# each measurement follows one untimed run of itself. Without it, the first
# contender after a cold row (drop_caches) paid for everyone's disk reads --
# LOCAL's list row measured 10,000 random sidecar reads for whichever
# contender the rotation put first.
WARMED_FIRST = ("find", "list")
SCENARIOS = (
    "download",
    "download-shm",
    "upload",
    "find",
    "list",
    "small-up",
    "small-down",
    "batch-up",
    "batch-down",
    "sync",
)
BATCHES = ("batch-up", "batch-down")


@dataclass(frozen=True)
class External:
    """A contender that is a command (curl, cp): timed as a child process,
    its CPU and peak memory are the child's own."""

    argv: list[str]


Action = Callable[[], object] | External


class Failed(Exception):
    """A contender that failed or fetched wrong bytes: its cell says so, the
    other contenders go on (a driver may be mid-way through a change), and
    the script exits non-zero after printing the table."""


@dataclass
class Row:
    """One row group of the table: a scenario in one regime, its contenders
    (in the order shown), the reference its ratios are taken against, and the
    contenders that cannot run it here with the reason (printed as n/a)."""

    scenario: str
    contenders: list[str]
    reference: str
    regime: str = "-"
    na: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.scenario if self.regime == "-" else f"{self.scenario} ({self.regime})"


@dataclass
class Sizes:
    size: int  # bytes of the big object
    objects: int  # keys of the listing
    small: int  # small objects up and down
    small_size: int
    find_calls: int
    width: int  # thread-pool width of the small-object rows
    rounds: int


FULL = Sizes(512 * MiB, 10_000, 2_000, 4 * KiB, 300, 16, 5)
QUICK = Sizes(4 * MiB, 40, 40, 4 * KiB, 10, 8, 1)


@dataclass
class Bench:
    """What a script supplies: its name, its server, how to fill it, its
    rows, how to build a measured call, and versions of its peers/server.

    ``server(work)`` is a context manager giving a JSON-able dict of
    parameters every worker gets (``spec["server"]``); ``prepare(server,
    source, sizes)`` stores the download source, the listing and the small
    objects; ``prime(spec)`` reads the download source through the server
    once, so a cold-regime row measures the client, not the server's disk;
    ``check(server, spec, source)`` verifies what a measurement stored or
    fetched (round 1)."""

    name: str
    server: Callable[[Path], AbstractContextManager[dict[str, Any]]]
    prepare: Callable[[dict[str, Any], Path, Sizes], None]
    rows: Callable[[Sizes], list[Row]]
    make_action: Callable[[dict[str, Any]], Action]
    prime: Callable[[dict[str, Any]], None]
    versions: Callable[[dict[str, Any]], dict[str, str]]
    check: Callable[[dict[str, Any], dict[str, Any], Path], None] | None = None
    tls_server: Callable[[Path, Certificates], AbstractContextManager[dict[str, Any]]] | None = None
    """``server`` over https with the given certificate (``--tls``); its
    dict adds ``ca_file`` (None when certificates go unverified). None:
    this script has no ``--tls``."""
    tls_unverified: str = ""
    """Why this script's ``--tls`` run verifies no certificate, on every
    contender alike (never mixed); empty: every contender verifies."""


# --- keys and paths every script uses the same way -------------------------

DATA_BUCKET = "bench-data"
LIST_BUCKET = "bench-list"
SMALL_BUCKET = "bench-small"
SOURCE_KEY = "download-source.bin"
BATCH_SOURCE = "bench-batch"  # the LOCAL bucket the batch rows copy from
LOCAL_ROOT = "batch-local"  # its root's name
SHM = Path("/dev/shm")


def local_root(work: Path) -> Path:
    """The LOCAL provider's root of the batch rows, which both contenders'
    files are read from and written to: on tmpfs (``/dev/shm``, named after
    the work directory) where there is one, else in the work directory.

    This VM's root filesystem is ext4 without a journal, whose inode
    allocator skips every inode freed in the last ~5 minutes
    (``recently_deleted``, checked one by one): after a row's 2,000 files
    are removed, each file the next measurement creates costs up to ~300
    CPU-µs of kernel time, against ~10 on tmpfs, and how much depends on
    what was deleted before it (bench/results.md, session 15). On tmpfs the
    batch rows compare the clients, not that history."""
    if _is_tmpfs(SHM):
        return SHM / f"{work.name}-{LOCAL_ROOT}"
    return work / LOCAL_ROOT


@contextmanager
def removed_after(root: Path) -> Iterator[Path]:
    """``root`` (a :func:`local_root`), removed on leaving: on tmpfs it is
    not inside the work directory that is."""
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@functools.cache
def _is_tmpfs(path: Path) -> bool:
    try:
        mounts = Path("/proc/mounts").read_text()
    except OSError:
        return False
    return any(
        fields[1] == str(path) and fields[2] == "tmpfs"
        for fields in (line.split() for line in mounts.splitlines())
        if len(fields) > 2
    )


def list_key(index: int) -> str:
    return f"list/{index:05d}.dat"


def small_key(prefix: str, index: int) -> str:
    return f"{prefix}/{index:05d}.dat"


def small_payload(index: int, size: int) -> bytes:
    return (index.to_bytes(4, "big") * (size // 4 + 1))[:size]


# --- the worker: one measurement in a fresh process -----------------------


def _status_mib(name: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {name} in /proc/self/status")


def _reset_peak_rss() -> None:
    """Forget the peak so far (imports of an SDK alone peak above 100 MiB),
    so the peak measured is the call's; Linux 4.0+."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def run_worker(bench: Bench, spec: dict[str, Any]) -> dict[str, Any]:
    action = bench.make_action(spec)  # imports, clients: not timed
    calls = int(spec.get("calls", 1))
    if calls > 1 and not isinstance(action, External):
        action()  # open the connection: the per-call latency is what is compared
    if spec["regime"] == "warm":
        regime.make_warm(Path(spec["path"]).parent, spec["size"])
    before = _status_mib("VmRSS")
    _reset_peak_rss()
    times: list[float] = []
    if isinstance(action, External):
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(action.argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = _cpu(after) - _cpu(children)
        peak = after.ru_maxrss / 1024  # the command's whole peak: it has no baseline to take
    else:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(calls):
            start = time.perf_counter()
            action()
            times.append(time.perf_counter() - start)
        cpu = _cpu(resource.getrusage(resource.RUSAGE_SELF)) - _cpu(usage)
        peak = max(0.0, _status_mib("VmHWM") - before)
    return {"seconds": statistics.median(times), "cpu": cpu / calls, "peak_mib": peak}


# --- the driver: server, data, rounds, table -------------------------------


@dataclass
class Options:
    sizes: Sizes
    scenarios: list[str]
    contenders: list[str] | None
    regimes: list[str]
    markdown: bool
    quick: bool
    workdir: str | None
    drop_caches: bool
    tls: bool = False


def parse(argv: Sequence[str], bench: Bench) -> Options:
    parser = argparse.ArgumentParser(
        prog=f"bench_{bench.name}.py", description=f"{bench.name}: bench/harness.py's rows"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one round (smoke)")
    parser.add_argument("--size-mib", type=int, help="the big object (default 512)")
    parser.add_argument("--rounds", type=int, help="rounds (default 5)")
    parser.add_argument("--objects", type=int, help="keys listed (default 10,000)")
    parser.add_argument("--small", type=int, help="small objects up and down (default 2,000)")
    parser.add_argument("--width", type=int, help="thread-pool width for small objects (16)")
    parser.add_argument("--find-calls", type=int, help="calls per find measurement (300)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument(
        "--contenders",
        default=None,
        help="comma list (default: all); 'targets': those issue 13's targets compare",
    )
    parser.add_argument(
        "--regimes", default="warm,cold", help="of the download-to-disk rows (/dev/shm: warm)"
    )
    parser.add_argument("--markdown", action="store_true", help="print the results.md table")
    parser.add_argument("--workdir", default=None, help="scratch directory (default: /tmp)")
    parser.add_argument(
        "--no-drop-caches",
        action="store_true",
        help="cold regime without drop_caches (implied by --quick)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve over https (a test CA made for the run; every contender verifies)",
    )
    parser.add_argument("--list-rows", action="store_true", help="print the rows and exit")
    args = parser.parse_args(argv)
    if args.tls and bench.tls_server is None:
        parser.error(f"bench_{bench.name}.py has no --tls (its server is not served over https)")
    base = QUICK if args.quick else FULL
    sizes = Sizes(
        size=(args.size_mib * MiB) if args.size_mib else base.size,
        objects=args.objects or base.objects,
        small=args.small or base.small,
        small_size=base.small_size,
        find_calls=args.find_calls or base.find_calls,
        width=args.width or base.width,
        rounds=args.rounds or base.rounds,
    )
    scenarios = [s for s in args.scenarios.split(",") if s]
    regimes = [r for r in args.regimes.split(",") if r]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown or set(regimes) - set(regime.REGIMES):
        parser.error(f"choose scenarios from {SCENARIOS}, regimes from {regime.REGIMES}")
    options = Options(
        sizes=sizes,
        scenarios=scenarios,
        contenders=args.contenders.split(",") if args.contenders else None,
        regimes=regimes,
        markdown=args.markdown,
        quick=args.quick,
        workdir=args.workdir,
        drop_caches=not (args.no_drop_caches or args.quick),
        tls=args.tls,
    )
    if args.list_rows:
        for row in select_rows(bench, options):
            na = "; ".join(f"{c}: n/a ({why})" for c, why in row.na.items())
            print(f"{row.label}: {', '.join(row.contenders)} vs {row.reference}  {na}")
        raise SystemExit(0)
    return options


def select_rows(bench: Bench, options: Options) -> list[Row]:
    rows = []
    for row in bench.rows(options.sizes):
        if row.scenario not in options.scenarios:
            continue
        if row.scenario == "download" and row.regime not in options.regimes:
            continue
        if options.contenders == ["targets"]:
            row.contenders = [c for c in row.contenders if _in_targets(row, c)]
        elif options.contenders is not None:
            row.contenders = [c for c in row.contenders if c in options.contenders]
        if row.contenders:
            rows.append(row)
    return rows


def _in_targets(row: Row, contender: str) -> bool:
    """Whether issue 13's targets need ``contender`` on ``row`` (``--contenders
    targets``): the library, obstore, curl or cp, and the row's SDK (its last
    contender), which stands in where obstore cannot run."""
    return contender in (LIBRARY, "bucketbridge", *NOT_SDKS) or contender == row.contenders[-1]


def main(bench: Bench, argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        print(json.dumps(run_worker(bench, json.loads(argv[1]))))
        return
    options = parse(argv, bench)
    from tests.servers.process import ServerStartError  # the test kit needs no pytest

    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(dir=options.workdir, prefix=f"bench-{bench.name}-") as d:
            work = Path(d)
            source = work / "source.bin"
            make_file(source, options.sizes.size)
            with removed_after(local_root(work)), _serve(bench, options, work) as server:
                bench.prepare(server, source, options.sizes)
                results, failures = _rounds(bench, options, server, source, work)
                versions = {**package_versions(), **bench.versions(server)}
    except ServerStartError as error:
        raise SystemExit(f"bench_{bench.name}: {error}") from None
    elapsed = time.monotonic() - started
    rows = select_rows(bench, options)
    report = Report(bench.name, options, rows, results, failures, versions, elapsed)
    if options.tls:
        report.transport = "https (TLS with a test CA made for the run; " + (
            f"certificates NOT verified by any contender: {bench.tls_unverified})"
            if bench.tls_unverified
            else "every contender verifies the certificate)"
        )
    print(report.markdown() if options.markdown else report.text())
    if failures:
        raise SystemExit(3)


def _serve(bench: Bench, options: Options, work: Path) -> AbstractContextManager[dict[str, Any]]:
    """The script's server, over https with a CA made now if ``--tls``."""
    if not options.tls or bench.tls_server is None:
        return bench.server(work)
    from tests.servers import certs

    made = certs.make(Path(tempfile.mkdtemp(prefix="tls-", dir=work)))
    # the workers inherit it: every library's own way of trusting the CA
    os.environ.update(tls_environment(made.ca_file))
    return bench.tls_server(work, made)


def tls_environment(ca_file: Path) -> dict[str, str]:
    """What makes each library trust the run's CA, certificate checks left
    on: the lean plane's default SSL context and urllib (``SSL_CERT_FILE``,
    read by OpenSSL), botocore (the SDK plane, boto3), requests
    (google-cloud-storage) and curl. obstore takes it in its client options
    (``root_certificate``: peers.obstore_client_options); bucketbridge's
    providers by ``ca_bundle`` in their config (each script's server)."""
    return {
        name: str(ca_file)
        for name in ("SSL_CERT_FILE", "AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
    }


Results = dict[tuple[str, str], list[dict[str, Any]]]
Failures = dict[tuple[str, str], str]


def _rounds(
    bench: Bench, options: Options, server: dict[str, Any], source: Path, work: Path
) -> tuple[Results, Failures]:
    results: Results = {}
    failures: Failures = {}
    rows = select_rows(bench, options)
    for number in range(options.sizes.rounds):
        for row in rows:
            runnable = [c for c in row.contenders if c not in row.na]
            shift = number % max(1, len(runnable))
            for contender in runnable[shift:] + runnable[:shift]:
                if (row.label, contender) in failures:
                    continue
                spec = _spec(row, contender, server, options, source, work, number)
                try:
                    result = _measure(bench, spec, server, options)
                    if number == 0 and bench.check is not None:
                        bench.check(server, spec, source)
                except Failed as failure:
                    failures[(row.label, contender)] = str(failure)
                    print(f"{row.label} {contender} FAILED: {failure}", file=sys.stderr)
                    continue
                finally:
                    _cleanup(spec)
                results.setdefault((row.label, contender), []).append(result)
                print(
                    f"round {number + 1} {row.label:22s} {contender:20s}"
                    f" {result['seconds']:9.4f} s  cpu {result['cpu']:7.4f} s"
                    f"  peak {result['peak_mib']:6.0f} MiB  [{result['regime']}]",
                    file=sys.stderr,
                    flush=True,
                )
    return results, failures


def _spec(
    row: Row,
    contender: str,
    server: dict[str, Any],
    options: Options,
    source: Path,
    work: Path,
    number: int,
) -> dict[str, Any]:
    sizes = options.sizes
    path, key = str(source), SOURCE_KEY
    if row.scenario == "download":
        path = str(work / "downloads" / f"{contender}.bin")
    elif row.scenario == "download-shm":
        path = str(Path(regime.SHM) / f"bench-{os.getpid()}-{contender}.bin")
    elif row.scenario == "upload":
        key = f"upload-{contender}.bin"
    elif row.scenario in ("find",):
        key = list_key(sizes.objects // 2)
    elif row.scenario == "small-up":
        key = f"up-{contender.replace(' ', '-')}-{number}"
    elif row.scenario == "small-down":
        key = "small"
    elif row.scenario == "batch-up":  # the prefix copied to
        key = f"batch-{contender.replace(' ', '-')}-{number}"
    elif row.scenario == "batch-down":  # the LOCAL bucket copied to
        key = f"down-{contender.replace(' ', '-')}-{number}"
    elif row.scenario == "sync":  # a destination prefix of its own: every run copies all
        key = f"sync-{contender.replace(' ', '-')}-{number}"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return {
        "scenario": row.scenario,
        "contender": contender,
        "regime": row.regime,
        "server": server,
        "key": key,
        "path": path,
        "size": sizes.size,
        "objects": sizes.objects,
        "small": sizes.small,
        "small_size": sizes.small_size,
        "width": sizes.width,
        "calls": sizes.find_calls if row.scenario == "find" else 1,
        "local_root": str(local_root(work)),
    }


def _measure(
    bench: Bench, spec: dict[str, Any], server: dict[str, Any], options: Options
) -> dict[str, Any]:
    note = ""
    if spec["regime"] == "cold":
        # no file of the last measurement may be left to free warm pages
        note = regime.make_cold(
            lambda: bench.prime(spec),
            drop_caches=options.drop_caches,
            settle_max=0.0 if options.quick else 30.0,
        )
    elif spec["scenario"] in TRANSFERS:
        os.sync()  # no writeback left over from the previous measurement
    command = [sys.executable, str(Path(sys.argv[0]).resolve()), "--worker", json.dumps(spec)]
    if spec["scenario"] in WARMED_FIRST:
        subprocess.run(command, capture_output=True, check=False, cwd=ROOT)
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        print(done.stderr[-4000:], file=sys.stderr)
        lines = (done.stderr or done.stdout or "no output").strip().splitlines()
        raise Failed(f"exit {done.returncode}: {lines[-1][:200]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["regime"] = spec["regime"] + note
    return result


def _cleanup(spec: dict[str, Any]) -> None:
    if spec["scenario"] in ("download", "download-shm"):
        Path(spec["path"]).unlink(missing_ok=True)
    elif spec["scenario"] == "batch-down":
        shutil.rmtree(Path(spec["local_root"]) / spec["key"], ignore_errors=True)


# --- data -----------------------------------------------------------------


def make_file(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        for offset in range(0, size, 64 * MiB):
            handle.write(os.urandom(min(64 * MiB, size - offset)))


def same_content(one: Path, other: Path) -> bool:
    with open(one, "rb") as first, open(other, "rb") as second:
        while True:
            a, b = first.read(16 * MiB), second.read(16 * MiB)
            if a != b:
                return False
            if not a:
                return True


def expect(got: int, wanted: int, what: str = "results") -> None:
    if got != wanted:
        raise SystemExit(f"expected {wanted} {what}, got {got}")


def in_pool(width: int, count: int, call: Callable[[int], object]) -> None:
    """``call(i)`` for every i < count on ``width`` threads; errors raise."""
    with ThreadPoolExecutor(width) as pool:
        for _ in pool.map(call, range(count)):
            pass


def check_download(spec: dict[str, Any], source: Path) -> None:
    if spec["scenario"] not in ("download", "download-shm"):
        return
    target = Path(spec["path"])
    if not target.is_file():
        raise Failed(f"left no file at {target}")
    if not same_content(target, source):
        raise Failed("downloaded different bytes")


# --- versions and machine ---------------------------------------------------

PACKAGES = (
    "boto3",
    "botocore",
    "obstore",
    "azure-storage-blob",
    "google-cloud-storage",
    "python-swiftclient",
)


def package_versions() -> dict[str, str]:
    found = {"bucketbridge": git_revision(), "python": platform.python_version()}
    for name in PACKAGES:
        with suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def git_revision() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "?"
    return revision + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def command_version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0].strip() if text else "?"


def machine() -> str:
    with open("/proc/meminfo") as meminfo:
        total = int(meminfo.readline().split()[1]) // 1024
    return (
        f"{os.cpu_count()} cores, {total / 1024:.1f} GiB memory, Linux {platform.release()},"
        f" load average {os.getloadavg()[0]:.2f}"
    )


# --- issue 13's targets -----------------------------------------------------

LIBRARY = "bucketbridge lean"  # the contender the targets are about


def library_of(row: Row) -> str:
    """The contender the targets are about on ``row`` (LOCAL has no planes)."""
    return LIBRARY if LIBRARY in row.contenders else "bucketbridge"


NOT_SDKS = ("obstore", "curl", "cp")  # a row's last contender that is no SDK


@dataclass(frozen=True)
class Target:
    """One of issue 13's targets: ``LIBRARY`` on ``label`` at least ``ratio``
    times as fast as the first of ``peers`` that ran ("sdk": the script's
    SDK, which stands in where obstore has no store or the emulator refuses
    it, as README.md says), and within ``cpu`` / ``peak`` where given."""

    label: str
    peers: tuple[str, ...]
    ratio: float
    cpu: float | None = None  # CPU-seconds
    peak: float | None = None  # MiB


TARGETS = (
    Target("download (warm)", ("obstore", "sdk"), 1.0),
    Target("download (cold)", ("obstore", "sdk"), 1.0),
    Target("download-shm (warm)", ("curl",), 0.9),
    Target("upload", ("obstore",), 1.0, cpu=0.3, peak=64.0),
    Target("upload", ("sdk",), 1.0),
    Target("find", ("obstore", "sdk"), 1.0),
    Target("list", ("obstore", "sdk"), 1.0),
    Target("batch-up", ("obstore",), 1.0),
    Target("batch-down", ("obstore",), 1.0),
)


# --- the table --------------------------------------------------------------


@dataclass
class Report:
    name: str
    options: Options
    rows: list[Row]
    results: Results
    failures: Failures
    versions: dict[str, str]
    elapsed: float
    transport: str = "http"

    def _cells(self, row: Row) -> Iterator[list[str]]:
        sizes = self.options.sizes
        ref_runs = self.results.get((row.label, row.reference))
        reference = statistics.median(r["seconds"] for r in ref_runs) if ref_runs else None
        for contender in row.contenders:
            if contender in row.na:
                yield [row.label, contender, "n/a", "", "", "", "", row.na[contender]]
                continue
            failure = self.failures.get((row.label, contender))
            if failure is not None:
                yield [row.label, contender, "failed", "", "", "", "", failure.replace("|", "/")]
                continue
            runs = self.results[(row.label, contender)]
            seconds = statistics.median(r["seconds"] for r in runs)
            cpu = statistics.median(r["cpu"] for r in runs)
            peak = max(r["peak_mib"] for r in runs)
            regimes = sorted({r["regime"] for r in runs})
            ratio = f"{reference / seconds:.2f}x" if reference else "-"
            if row.scenario in TRANSFERS:
                shown, rate = f"{seconds:.3f} s", f"{sizes.size / MiB / seconds:,.0f} MiB/s"
                cpu_shown = f"{cpu:.2f} CPU-s"
            elif row.scenario == "find":
                shown, rate = f"{seconds * 1000:.2f} ms", f"{1 / seconds:,.0f} calls/s"
                cpu_shown = f"{cpu * 1e6:,.0f} CPU-µs/call"
            elif row.scenario == "list":
                shown, rate = f"{seconds:.3f} s", f"{sizes.objects / seconds:,.0f} keys/s"
                cpu_shown = f"{cpu:.2f} CPU-s"
            elif row.scenario == "sync":  # ``--objects`` objects copied
                shown, rate = f"{seconds:.3f} s", f"{sizes.objects / seconds:,.0f} objects/s"
                cpu_shown = f"{cpu:.2f} CPU-s"
            else:
                shown, rate = f"{seconds:.3f} s", f"{sizes.small / seconds:,.0f} objects/s"
                cpu_shown = f"{cpu:.2f} CPU-s"
            note = "" if regimes == [row.regime] else "regime: " + ", ".join(regimes)
            yield [row.label, contender, shown, rate, ratio, cpu_shown, f"{peak:.0f} MiB", note]

    def _header(self) -> list[str]:
        sizes = self.options.sizes
        mode = " (--quick)" if self.options.quick else ""
        return [
            f"{self.name}{mode}: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {machine()}",
            f"{sizes.size // MiB} MiB object, {sizes.objects:,} keys listed, {sizes.small:,} x"
            f" {sizes.small_size // KiB} KiB small objects on {sizes.width} threads,"
            f" find: median of {sizes.find_calls} calls; medians of {sizes.rounds} round(s),"
            f" a fresh process each, contenders rotated; {self.elapsed:.0f} s in all;"
            f" over {self.transport}; the batch rows' LOCAL files "
            + ("on tmpfs" if _is_tmpfs(SHM) else "in the work directory"),
            "versions: " + ", ".join(f"{k} {v}" for k, v in self.versions.items()),
            "vs ref = the reference's time / the contender's (above 1.00x: faster);"
            " peak = RSS above the process's baseline (external commands: their whole RSS)",
        ]

    def _median(self, label: str, contender: str, field: str = "seconds") -> float | None:
        runs = self.results.get((label, contender))
        return statistics.median(r[field] for r in runs) if runs else None

    def targets(self) -> list[list[str]]:
        """Issue 13's targets beside what this run measured: target, measured, verdict."""
        rows = {row.label: row for row in self.rows}
        found = []
        for target in TARGETS:
            row = rows.get(target.label)
            if row is None:
                continue
            library = library_of(row)
            sdk = row.contenders[-1]
            has_sdk = not (sdk in NOT_SDKS or sdk.startswith("bucketbridge"))
            named = [sdk if p == "sdk" else p for p in target.peers if p != "sdk" or has_sdk]
            # the peers this script has (LOCAL: cp for curl, no SDK), in order
            peers = [p for p in named if p in row.contenders] or [
                {"curl": "cp"}.get(p, p) for p in named if {"curl": "cp"}.get(p) in row.contenders
            ]
            if not peers:
                continue
            ran = [p for p in peers if self._median(target.label, p) is not None]
            if not ran:  # e.g. obstore has no Swift store
                reasons = "; ".join(
                    row.na.get(p) or self.failures.get((target.label, p), "not run") for p in peers
                )
                found.append([f"{target.label}: >= {target.ratio:.1f}x {peers[0]}", reasons, "n/a"])
                continue
            peer = ran[0]
            why = "" if peer == peers[0] else f" ({peers[0]} n/a here)"
            wanted = f"{target.label}: >= {target.ratio:.1f}x {peer}{why}"
            ours = self._median(target.label, library)
            theirs = self._median(target.label, peer)
            if ours is None or theirs is None or peer == library:
                failure = self.failures.get((target.label, library), "not measured")
                found.append([wanted, failure.replace("|", "/")[:80], "-"])
                continue
            ratio = theirs / ours
            measured, met = f"{ratio:.2f}x", ratio >= target.ratio
            if target.cpu is not None:
                cpu = self._median(target.label, library, "cpu") or 0.0
                wanted += f", <= {target.cpu} CPU-s"
                measured += f", {cpu:.2f} CPU-s"
                met = met and cpu <= target.cpu
            if target.peak is not None:
                peak = max(r["peak_mib"] for r in self.results[(target.label, library)])
                wanted += f", <= {target.peak:.0f} MiB peak"
                measured += f", {peak:.0f} MiB"
                met = met and peak <= target.peak
            found.append([wanted, measured, "met" if met else "missed"])
        return found

    def text(self) -> str:
        lines = ["", *self._header(), ""]
        for row in self.rows:
            lines.append(f"{row.label}: reference {row.reference}")
            for cells in self._cells(row):
                lines.append("  " + "  ".join(f"{c:>14s}" for c in cells[1:]).rstrip())
        library = library_of(self.rows[0]) if self.rows else LIBRARY
        lines += ["", f"issue 13's targets for {library}:"]
        lines += [f"  {verdict:7s} {want}: {got}" for want, got, verdict in self.targets()]
        return "\n".join(lines)

    def markdown(self) -> str:
        head = self._header()
        lines = [f"### {head[0]}", "", *(f"{line}  " for line in head[1:]), ""]
        lines += [
            "| row | contender | median | rate | vs ref | client CPU | peak | note |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in self.rows:
            for cells in self._cells(row):
                label = f"{cells[0]} — ref {row.reference}"
                if cells[1] == row.reference:
                    cells[1] = f"**{cells[1]}**"
                lines.append("| " + " | ".join([label, *cells[1:]]) + " |")
        library = library_of(self.rows[0]) if self.rows else LIBRARY
        lines += ["", f"Issue 13's targets for {library} ({self.name}, this run):", ""]
        lines += ["| target | measured | |", "|---|---|---|"]
        lines += [f"| {want} | {got} | {verdict} |" for want, got, verdict in self.targets()]
        return "\n".join(lines)
