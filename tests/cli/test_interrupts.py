"""A cp killed mid-transfer leaves nothing partial: SIGTERM unwinds and
aborts; after SIGKILL the library finds the open upload and aborts it."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import CloudProvider
from tests.cli.conftest import Cli

SIZE = 60 * 1024 * 1024  # 12 parts of 5 MiB, one in flight at a time


def _wait_for_open_upload(provider: CloudProvider, bucket: str, process: Any) -> None:
    deadline = time.monotonic() + 60
    target = provider.storage.buckets.get(bucket)
    assert target is not None
    while not list(target.objects.incomplete_uploads()):
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "the upload never started"
        time.sleep(0.05)


def _wait_for_open_file_in(directory: Path, process: Any) -> None:
    """Until the process holds a file open in ``directory``: its download's
    scratch file (nameless with O_TMPFILE, but /proc shows where it lives)."""
    deadline = time.monotonic() + 60
    fds = Path(f"/proc/{process.pid}/fd")
    while True:
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "the download never started"
        try:
            links = [os.readlink(fd) for fd in fds.iterdir()]
        except OSError:  # an fd closed while we looked
            links = []
        if any(link.startswith(str(directory)) for link in links):
            return
        time.sleep(0.02)


@pytest.mark.parametrize("kill", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_upload_leaves_no_object_and_no_open_upload(
    kill: signal.Signals,
    cli_for: Callable[..., tuple[Cli, dict[str, Any]]],
    s3_seaweedfs_provider_factory: Callable[..., CloudProvider],
    bucket_name: str,
    tmp_path: Path,
) -> None:
    cli, _ = cli_for("s3")
    provider = s3_seaweedfs_provider_factory()
    bucket = provider.storage.buckets.create(bucket_name)
    try:
        source = tmp_path / "large.bin"
        with open(source, "wb") as handle:
            handle.truncate(SIZE)
        process = cli.popen("cp", "--concurrency", "1", str(source), f"s3://{bucket_name}/large")
        _wait_for_open_upload(provider, bucket_name, process)
        process.send_signal(kill)
        code = process.wait(timeout=60)
        assert process.stderr is not None
        stderr = process.stderr.read().decode()
        assert bucket.objects.get("large") is None
        if kill == signal.SIGTERM:
            assert code == 143, stderr
            assert stderr.strip() == "bucketbridge: interrupted; what was started was undone"
            assert list(bucket.objects.incomplete_uploads()) == []
        else:
            assert code == -signal.SIGKILL
            assert [u.name for u in bucket.objects.incomplete_uploads()] == ["large"]
            assert bucket.objects.abort_incomplete_uploads() == 1
            assert list(bucket.objects.incomplete_uploads()) == []
    finally:
        bucket.delete(delete_contents=True)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="watches /proc/<pid>/fd")
def test_a_terminated_download_leaves_no_file(
    cli_for: Callable[..., tuple[Cli, dict[str, Any]]],
    s3_seaweedfs_provider_factory: Callable[..., CloudProvider],
    bucket_name: str,
    tmp_path: Path,
) -> None:
    cli, _ = cli_for("s3")
    provider = s3_seaweedfs_provider_factory()
    bucket = provider.storage.buckets.create(bucket_name)
    try:
        bucket.objects.create("large").upload(b"x" * SIZE)
        target = tmp_path / "out"
        target.mkdir()
        process = cli.popen(
            "cp", "--concurrency", "1", f"s3://{bucket_name}/large", str(target / "large")
        )
        _wait_for_open_file_in(target, process)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        assert code == 143
        assert os.listdir(target) == []
    finally:
        bucket.delete(delete_contents=True)
