"""``kill -9`` in the middle of transfers (issue 7, item 5).

A child process (tests/conformance/crash_child.py) starts a download or a
multipart upload, stops inside its progress callback once bytes have moved,
and is killed there with SIGKILL: no ``finally``, no ``atexit``, nothing of
the library gets to clean up. What must hold afterwards:

- a download leaves nothing beside its destination (its scratch file never
  had a name) and an existing destination as it was;
- where ``O_TMPFILE`` is missing, the named scratch file the kill left is
  removed by the next download to that destination, while the scratch files
  of other destinations, and those a live download holds, stay;
- an upload's parts are found by ``bucket.objects.incomplete_uploads()``,
  nothing appears at its key, and ``abort_incomplete_uploads()`` clears them
  so that the bucket can be deleted.

Runs on the backends a second process can reach: local (the same root) and
the S3 servers. Not on memory: a memory provider's objects live only in the
process that made them, so a child could not see the parent's, nor leave
anything behind for the parent to find.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import bucketbridge
from bucketbridge import Bucket, CloudProvider
from tests.conformance.conftest import backend_factory, unenforced, unique_name
from tests.servers.providers import ProviderFactory

CHILD = Path(__file__).with_name("crash_child.py")
SOURCE_ROOT = Path(bucketbridge.__file__).resolve().parents[1]
UNDER_WAY_TIMEOUT = 60  # seconds; it takes about one on this machine
DOWNLOAD_SIZE = 3 * 1024 * 1024  # several read chunks, so it stalls mid-way
UPLOAD_SIZE = 11 * 1024 * 1024  # three parts of 5 MiB
OLD_CONTENT = b"the file that was here before the download\n"


@pytest.fixture(params=["local", "s3_seaweedfs", "s3_moto"])
def provider_factory(request: pytest.FixtureRequest) -> ProviderFactory:
    return backend_factory(request)


@pytest.fixture
def payload(bucket: Bucket) -> bytes:
    data = os.urandom(DOWNLOAD_SIZE)
    bucket.objects.create("big.bin").upload(data)
    return data


@contextmanager
def child(provider: CloudProvider, *args: str) -> Iterator[subprocess.Popen[str]]:
    """A crash_child.py process, returned once its transfer is under way,
    and killed (if still alive) on the way out."""
    env = {
        **os.environ,
        "PYTHONPATH": str(SOURCE_ROOT),
        "BB_CHILD_PROVIDER": str(provider.PROVIDER_ID),
        "BB_CHILD_CONFIG": json.dumps(dict(provider.config)),
    }
    process = subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        ready, _, _ = select.select([process.stdout], [], [], UNDER_WAY_TIMEOUT)
        line = process.stdout.readline() if ready else ""
        if not line.startswith("under way"):
            process.kill()
            _, errors = process.communicate()
            pytest.fail(f"the child never got under way: {line!r}\n{errors}")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def kill_9(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL


def entries(directory: Path) -> set[str]:
    return set(os.listdir(directory))


def unnamed_files_held(pid: int, directory: Path) -> list[str]:
    """The files ``pid`` holds open in ``directory`` that have no name there:
    an O_TMPFILE file shows in /proc as ``<dir>/#<inode> (deleted)``."""
    held = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if target.startswith(f"{directory}/") and target.endswith(" (deleted)"):
            held.append(target)
    return held


def test_a_killed_download_leaves_nothing_and_the_old_file_intact(
    provider: CloudProvider, bucket: Bucket, payload: bytes, tmp_path: Path
) -> None:
    destination = tmp_path / "data.bin"
    destination.write_bytes(OLD_CONTENT)
    before = entries(tmp_path)
    with child(provider, "download", bucket.name, "big.bin", str(destination)) as process:
        # Caught mid-download, writing into a file that has no name.
        assert unnamed_files_held(process.pid, tmp_path), "no unnamed scratch file open"
        assert entries(tmp_path) == before
        kill_9(process)
    assert entries(tmp_path) == before
    assert destination.read_bytes() == OLD_CONTENT

    bucket.objects.get("big.bin").download_to_file(destination)  # type: ignore[union-attr]
    assert destination.read_bytes() == payload
    assert entries(tmp_path) == before


def scratch_files(directory: Path, destination: str) -> set[str]:
    """The named scratch files of ``destination``: ``.<name>.<12 hex>.bbpart``."""
    pattern = re.compile(rf"\.{re.escape(destination)}\.[0-9a-f]{{12}}\.bbpart")
    return {name for name in entries(directory) if pattern.fullmatch(name)}


def test_without_o_tmpfile_the_next_download_sweeps_only_stale_scratch_files_of_its_destination(
    provider: CloudProvider, bucket: Bucket, payload: bytes, tmp_path: Path
) -> None:
    """Three downloads without O_TMPFILE: one stays alive (it holds its
    scratch file locked), one to the same destination and one to a
    destination whose name starts with that one's are killed."""
    destination = tmp_path / "data.bin"
    destination.write_bytes(OLD_CONTENT)
    other = tmp_path / "data.bin.x"
    obj = bucket.objects.get("big.bin")
    assert obj is not None

    def download(path: Path) -> tuple[str, ...]:
        return ("download", bucket.name, "big.bin", str(path), "--no-tmpfile")

    with ExitStack() as running:
        live = running.enter_context(child(provider, *download(destination)))
        (live_scratch,) = scratch_files(tmp_path, "data.bin")
        killed = running.enter_context(child(provider, *download(destination)))
        killed_other = running.enter_context(child(provider, *download(other)))
        (stale,) = scratch_files(tmp_path, "data.bin") - {live_scratch}
        (stale_other,) = scratch_files(tmp_path, "data.bin.x")
        kill_9(killed)
        kill_9(killed_other)
        assert destination.read_bytes() == OLD_CONTENT

        obj.download_to_file(destination)
        assert destination.read_bytes() == payload
        left = entries(tmp_path)
        assert stale not in left, "the killed download's scratch file was not swept"
        assert live_scratch in left, "a live download's scratch file was swept"
        assert stale_other in left, "another destination's scratch file was swept"

        kill_9(live)
    obj.download_to_file(destination)
    assert live_scratch not in entries(tmp_path)
    obj.download_to_file(other)
    assert entries(tmp_path) == {"data.bin", "data.bin.x"}
    assert other.read_bytes() == payload


def test_a_killed_multipart_upload_is_found_and_cleared(
    provider: CloudProvider, provider_factory: ProviderFactory
) -> None:
    bucket = provider.storage.buckets.create(unique_name())
    started = datetime.now(timezone.utc)
    with child(provider, "upload", bucket.name, "half/uploaded.bin", str(UPLOAD_SIZE)) as process:
        kill_9(process)

    (upload,) = bucket.objects.incomplete_uploads()
    assert upload.name == "half/uploaded.bin" and upload.id
    assert upload.initiated is not None and upload.initiated.utcoffset() == timedelta(0)
    assert bucket.objects.get("half/uploaded.bin") is None
    assert list(bucket.objects) == []
    if "upload_initiated" not in unenforced(provider_factory):  # moto says 2010 for all
        slack = timedelta(seconds=2)
        assert started - slack <= upload.initiated <= datetime.now(timezone.utc) + slack
        assert bucket.objects.abort_incomplete_uploads(older_than=3600) == 0
        assert [u.id for u in bucket.objects.incomplete_uploads()] == [upload.id]

    assert bucket.objects.abort_incomplete_uploads() == 1
    assert list(bucket.objects.incomplete_uploads()) == []
    bucket.delete()
    assert provider.storage.buckets.get(bucket.name) is None


def test_the_longest_names_keep_their_scratch_files_apart(
    local_provider_factory: ProviderFactory, tmp_path: Path
) -> None:
    """Two destination names of 253 bytes that differ only in their last
    byte: a scratch name cannot carry either whole (NAME_MAX is 255 bytes),
    yet a download to one must not sweep the other's. The scratch logic is
    the same for every provider, so the local one stands for all."""
    provider = local_provider_factory()
    bucket = provider.storage.buckets.create(unique_name())
    data = os.urandom(DOWNLOAD_SIZE)
    obj = bucket.objects.create("big.bin").upload(data)
    first, second = (tmp_path / ("€" * 84 + last) for last in "ab")
    with child(provider, "download", bucket.name, "big.bin", str(first), "--no-tmpfile") as process:
        (stale,) = [name for name in entries(tmp_path) if name.endswith(".bbpart")]
        kill_9(process)

    obj.download_to_file(second)
    assert second.read_bytes() == data
    assert stale in entries(tmp_path), "another destination's scratch file was swept"
    obj.download_to_file(first)
    assert entries(tmp_path) == {first.name, second.name}
    assert first.read_bytes() == data
