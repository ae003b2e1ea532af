"""The bucketbridge command, run as a user would run it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from bucketbridge import CloudProviderFactory, ProviderList


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bucketbridge.cli", *args]


def test_demo_runs_with_no_configuration(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    env.pop("LOCAL_ROOT", None)
    result = subprocess.run(
        _cli("demo"), capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "identical to the source: True" in out
    assert "-> HTTP 200, 1900 bytes" in out
    assert "the object now holds b'Hello world!'" in out
    assert "deleted bucket demo-" in out
    root = tmp_path / "data" / "bucketbridge"
    assert root.is_dir()
    assert [p.name for p in root.iterdir() if not p.name.startswith(".")] == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_honours_urls_signed_by_other_processes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    port = _free_port()
    server = subprocess.Popen(
        _cli("serve", "--root", str(root), "--port", str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "bucketbridge serve did not start"
                time.sleep(0.1)
        provider = CloudProviderFactory().create_provider(
            ProviderList.LOCAL,
            {"local_root": str(root), "local_server_url": f"http://127.0.0.1:{port}"},
        )
        bucket = provider.storage.buckets.create("served")
        obj = bucket.objects.create("file.txt").upload(b"served content")
        url = obj.generate_url(expires_in=60)
        assert url.startswith(f"http://127.0.0.1:{port}/served/file.txt?")
        assert requests.get(url, timeout=10).content == b"served content"
        put_url = bucket.objects.create("new.txt").generate_url(expires_in=60, writable=True)
        assert requests.put(put_url, data=b"from afar", timeout=10).status_code == 200
        assert bucket.objects.get("new.txt") is not None
        assert requests.get(url.replace("file.txt", "new.txt"), timeout=10).status_code == 403
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            _cli("serve", "--root", str(tmp_path / "root"), "--port", str(port)),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0]
    assert "serving" not in result.stderr
