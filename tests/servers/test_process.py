"""The child-process kit: start, readiness, the log tail on failure, and that
no server (nor anything it forks) outlives its owner, however the owner ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from tests.servers.process import (
    ServerStartError,
    find_program,
    free_ports,
    http_probe,
    live_processes_in_group,
    require_module,
    run_server,
)

ROOT = Path(__file__).resolve().parents[2]

# A server that ignores SIGTERM and forks a child that ignores it too, as a
# stubborn server with helpers would; both write their pids to the log.
STUBBORN = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    helper = subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
    print("leader", os.getpid(), "helper", helper.pid, flush=True)
    time.sleep(600)
    """
)


def _group_gone(pgid: int, within: float) -> bool:
    """Whether no process of the group runs any more within ``within`` s (an
    upper bound that proves "does not linger", not a speed)."""
    deadline = time.monotonic() + within
    while live_processes_in_group(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _pids_in_log(log: Path) -> list[int]:
    words = log.read_text().split()
    return [int(words[1]), int(words[3])]


def test_an_early_exit_is_reported_with_the_log_tail(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "print('config file is broken: line 3'); raise SystemExit(3)"]
    with (
        pytest.raises(ServerStartError) as failed,
        run_server("broken", command, log=tmp_path / "broken.log", ready=lambda: False),
    ):
        pass
    message = str(failed.value)
    assert "broken exited with code 3" in message
    assert "config file is broken: line 3" in message
    assert str(tmp_path / "broken.log") in message


def test_a_server_never_ready_is_stopped_and_reported(tmp_path: Path) -> None:
    log = tmp_path / "slow.log"
    with (
        pytest.raises(ServerStartError) as failed,
        run_server(
            "never-ready",
            [sys.executable, "-c", STUBBORN],
            log=log,
            ready=lambda: False,
            timeout=1.5,
            grace=0.3,
        ),
    ):
        pass
    message = str(failed.value)
    assert "never-ready was not ready after 2 s" in message  # 1.5 rounded
    assert "leader" in message and "helper" in message  # the tail of its log
    leader, _helper = _pids_in_log(log)
    assert _group_gone(leader, within=10)


def test_stop_ends_the_whole_group_even_what_ignores_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "stubborn.log"
    with run_server(
        "stubborn",
        [sys.executable, "-c", STUBBORN],
        log=log,
        ready=lambda: "helper" in log.read_text(),
        grace=0.3,
    ) as server:
        leader, helper = _pids_in_log(log)
        assert leader == server.pid
        assert os.getpgid(helper) == server.pid  # the helper is in the server's group
    assert _group_gone(leader, within=10)
    assert server.process.returncode == -signal.SIGKILL  # TERM was ignored, KILL was not


def _owner(tmp_path: Path, then: str) -> subprocess.Popen[str]:
    """A separate Python process that starts the stubborn server with the
    kit, prints the server's pid and then does ``then``."""
    log = tmp_path / "owned.log"
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from tests.servers.process import start_server, wait_ready
        log = Path({str(log)!r})
        server = start_server("owned", [sys.executable, "-c", {STUBBORN!r}], log=log, grace=0.3)
        wait_ready(server, lambda: "helper" in log.read_text())
        print(server.pid, flush=True)
        {then}
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )


def test_a_killed_owner_leaves_no_server_behind(tmp_path: Path) -> None:
    owner = _owner(tmp_path, "time.sleep(600)")
    assert owner.stdout is not None
    pgid = int(owner.stdout.readline())
    helper = _pids_in_log(tmp_path / "owned.log")[1]
    assert os.getpgid(helper) == pgid
    owner.send_signal(signal.SIGKILL)  # no atexit, no finally: only the watchdog is left
    owner.wait(timeout=10)
    assert _group_gone(pgid, within=15)


def test_an_owner_that_exits_without_stopping_stops_its_servers(tmp_path: Path) -> None:
    owner = _owner(tmp_path, "sys.exit(0)")
    assert owner.stdout is not None
    pgid = int(owner.stdout.readline())
    assert owner.wait(timeout=30) == 0
    # the atexit hook waited for the group to end before the owner exited
    assert _group_gone(pgid, within=0.5)


def test_http_probe_waits_for_an_http_answer(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}/"
    assert not http_probe(url)()  # nothing listens yet
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with run_server("http.server", command, log=tmp_path / "http.log", cwd=tmp_path,
                    ready=http_probe(url)):  # fmt: skip
        assert requests.get(url, timeout=10).status_code == 200
    assert not http_probe(url)()


def test_missing_programs_and_modules_name_the_install_step() -> None:
    with pytest.raises(ServerStartError, match=r"'no-such-server-x' is not installed: run pip x"):
        find_program("no-such-server-x", "pip x")
    with pytest.raises(ServerStartError, match=r"'no_such_module_x' is not installed: run pip y"):
        require_module("no_such_module_x", "pip y")


def test_free_ports_are_distinct() -> None:
    ports = free_ports(20)
    assert len(set(ports)) == 20 and all(1024 < port < 65536 for port in ports)
