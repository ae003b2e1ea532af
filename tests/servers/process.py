"""Running a server program as a child process, for tests and benchmarks.

No pytest here: ``bench/`` imports this module too. A failure to start is a
:class:`ServerStartError` whose message carries the tail of the server's log;
the pytest fixtures turn it into a failed test (tests/servers/backend.py).

A server runs in its own process group (its own session), so that stopping it
reaches every process it forks; :func:`run_server` stops the whole group with
SIGTERM and, after a grace period, SIGKILL. So that no server outlives its
owner however the owner ends:

- a **watchdog** process per server (a few lines of Python in its own
  session) holds the read end of a pipe whose only write end is the owner's.
  When the owner dies, even by SIGKILL, the kernel closes that end and the
  watchdog stops the server's whole group. ``PR_SET_PDEATHSIG`` was the
  other candidate; it was not chosen because it signals only the direct
  child (not what it forks), fires when the *thread* that started the child
  ends rather than the process, and needs ``preexec_fn``, which is unsafe
  once threads are running. The watchdog costs one small Python process
  (about 10 MiB, 30 ms to start) per server;
- an **atexit** hook stops, at interpreter exit, every server still running,
  so a normal exit waits for them to end (their ports and sockets are free
  when the owner returns) instead of leaving the watchdog to do it after.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

Probe = Callable[[], bool]
"""Answers whether the server is ready; called until it says so."""

DEFAULT_READY_TIMEOUT = 60.0
DEFAULT_GRACE = 2.0


class ServerStartError(RuntimeError):
    """The server could not be started: missing program, early exit, or not
    ready in time. The message says which and how to fix it."""


# --- finding what to run ---------------------------------------------------


def find_program(name: str, install_hint: str) -> str:
    """The program installed beside this interpreter (pip's scripts folder,
    which need not be on PATH in a venv), else on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ServerStartError(f"{name!r} is not installed: run {install_hint}")
    return found


def require_module(module: str, install_hint: str) -> None:
    """Fail with the install step if a Python module the server runs is missing."""
    try:
        __import__(module)
    except ImportError as error:
        raise ServerStartError(f"{module!r} is not installed: run {install_hint}") from error


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports; the sockets stay bound until all are
    chosen so the kernel cannot hand out the same one twice."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


# --- readiness probes -------------------------------------------------------


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    """Something accepts TCP connections on the port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def tcp_probe(port: int, host: str = "127.0.0.1") -> Probe:
    return lambda: port_answers(port, host)


def http_probe(url: str, *, cafile: Path | None = None) -> Probe:
    """Ready when the URL answers HTTP at all: any status, an error status
    included, means the server parses requests. An https URL's certificate
    is verified, against ``cafile`` if given."""
    context = ssl.create_default_context(cafile=cafile) if cafile is not None else None

    def answers() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context):
                return True
        except urllib.error.HTTPError:
            return True
        except (OSError, ValueError):
            return False

    return answers


# --- the child process --------------------------------------------------------


@dataclass(eq=False)  # identity: a set of running servers holds them
class ServerProcess:
    """A running server: its process-group leader, its log and its watchdog."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    watchdog: subprocess.Popen[bytes] | None
    grace: float

    @property
    def pid(self) -> int:
        return self.process.pid

    def tail(self, lines: int = 30) -> str:
        return log_tail(self.log, lines)

    def stop(self) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL after the
        grace period (SeaweedFS ignores SIGTERM for longer than a test run
        should wait). Safe to call twice."""
        _running.discard(self)
        if self.process.poll() is None or _group_exists(self.pid):
            _signal_group(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + self.grace
            while time.monotonic() < deadline and _group_alive(self):
                time.sleep(0.05)
            _signal_group(self.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        self._dismiss_watchdog()

    def _dismiss_watchdog(self) -> None:
        watchdog, self.watchdog = self.watchdog, None
        if watchdog is None or watchdog.stdin is None:
            return
        # a byte before the end of the pipe means "stopped by its owner"
        with contextlib.suppress(OSError):
            watchdog.stdin.write(b"x")
            watchdog.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            watchdog.wait(timeout=5)


def log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def run_server(
    name: str,
    command: Sequence[str],
    *,
    log: Path,
    ready: Probe,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_READY_TIMEOUT,
    grace: float = DEFAULT_GRACE,
) -> Iterator[ServerProcess]:
    """Start ``command`` (output appended to ``log``), wait until ``ready()``
    is true, yield, then stop the server's whole process group."""
    server = start_server(name, command, log=log, cwd=cwd, env=env, grace=grace)
    try:
        wait_ready(server, ready, timeout)
        yield server
    finally:
        server.stop()


def start_server(
    name: str,
    command: Sequence[str],
    *,
    log: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    grace: float = DEFAULT_GRACE,
) -> ServerProcess:
    """Start the server in its own session, guarded by a watchdog; the
    caller must :meth:`ServerProcess.stop` it (``run_server`` does)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        try:
            process = subprocess.Popen(
                list(command),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )
        except OSError as error:
            raise ServerStartError(
                f"{name} could not be started ({command[0]}): {error}"
            ) from error
    server = ServerProcess(name, process, log, None, grace)
    _running.add(server)
    try:
        server.watchdog = _start_watchdog(process.pid, grace)
    except OSError:
        server.stop()
        raise
    return server


def wait_ready(server: ServerProcess, ready: Probe, timeout: float = DEFAULT_READY_TIMEOUT) -> None:
    """Poll ``ready`` until true; a server that exits or stays unready past
    ``timeout`` is stopped and reported with the end of its log."""
    deadline = time.monotonic() + timeout
    while True:
        code = server.process.poll()
        if code is not None:
            server.stop()
            raise ServerStartError(
                f"{server.name} exited with code {code} while starting; the end of"
                f" {server.log}:\n{server.tail()}"
            )
        if ready():
            return
        if time.monotonic() >= deadline:
            server.stop()
            raise ServerStartError(
                f"{server.name} was not ready after {timeout:.0f} s; the end of"
                f" {server.log}:\n{server.tail()}"
            )
        time.sleep(0.2)


# --- stopping: the group, the watchdog, at exit -------------------------------


_running: set[ServerProcess] = set()


@atexit.register
def _stop_all_at_exit() -> None:
    for server in list(_running):
        server.stop()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_processes_in_group(pgid: int) -> list[int]:
    """The processes of the group that still run. Zombies do not count: an
    orphan that died waits for init to reap it, which can take seconds.
    Where /proc is missing, the whole group counts while it exists."""
    proc = Path("/proc")
    if not proc.is_dir():
        return [pgid] if _group_exists(pgid) else []
    live = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended while we looked
        # "pid (command) state ppid pgrp ...": the command may hold spaces
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            live.append(int(entry.name))
    return live


def _group_alive(server: ServerProcess) -> bool:
    server.process.poll()  # reap the leader as soon as it exits
    return bool(live_processes_in_group(server.pid))


# Runs with ``python -c`` so that it needs nothing from this project. It reads
# its stdin: one byte means the owner stopped the server itself; the end of
# the pipe with no byte means the owner died, and the group must go.
_WATCHDOG = """\
import os, signal, sys, time
pgid, grace = int(sys.argv[1]), float(sys.argv[2])
if sys.stdin.buffer.read(1):
    sys.exit(0)
def send(sig):
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
if send(signal.SIGTERM):
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and send(0):
        time.sleep(0.1)
    send(signal.SIGKILL)
"""


def _start_watchdog(pgid: int, grace: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(pgid), str(grace)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # its own session: a Ctrl-C to the owner's terminal must not end it
        # before the owner's own clean-up has run
        start_new_session=True,
    )
