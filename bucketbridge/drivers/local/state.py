"""The local provider's state directory: temporary files, sidecars and locks.

A sidecar describes one version of one object: its file name carries a hash
of the key and the identity (inode, size, mtime) of the object file it
belongs to, and ``os.replace`` keeps all three. So a reader that stat()s an
object finds exactly that version's sidecar or none, never another
version's; the writer can publish the sidecar before the object, and old
versions' sidecars are removed afterwards. The flat, hashed layout means no
key can collide with a sidecar, or one sidecar with another.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from typing import Any

TEMP_SUFFIX = ".part"


def identity(stat: os.stat_result) -> str:
    """The version token of a local object: replaced files get a new inode."""
    return f"{stat.st_ino}-{stat.st_size}-{stat.st_mtime_ns}"


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class TempFile:
    """A temporary file in the state dir, removed unless it was moved into place."""

    def __init__(self, directory: str) -> None:
        self._directory = directory

    def __enter__(self) -> tuple[int, str]:
        self._fd, self._path = tempfile.mkstemp(dir=self._directory, suffix=TEMP_SUFFIX)
        os.fchmod(self._fd, 0o644)
        return self._fd, self._path

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)


@contextlib.contextmanager
def exclusive_lock(path: str) -> Iterator[None]:
    """An advisory lock that excludes other threads and other processes alike
    (flock locks belong to the open file, and each holder opens its own)."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def sweep(directory: str, older_than: float) -> None:
    """Remove entries a crashed process left behind, once nothing could still
    be writing them."""
    cutoff = time.time() - older_than
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            try:
                if entry.stat(follow_symlinks=False).st_mtime >= cutoff:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except FileNotFoundError:
                continue


class SidecarStore:
    def __init__(self, meta_root: str, tmp_dir: str) -> None:
        self._root = meta_root
        self._tmp = tmp_dir

    def _location(self, bucket: str, key: str) -> tuple[str, str]:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return os.path.join(self._root, bucket, digest[:2]), digest

    def read(self, bucket: str, key: str, version: str) -> dict[str, Any]:
        """The sidecar of this version, or {} if it has none."""
        directory, stem = self._location(bucket, key)
        try:
            with open(os.path.join(directory, f"{stem}.{version}.json"), encoding="utf-8") as f:
                record: dict[str, Any] = json.load(f)
        except (OSError, ValueError):
            return {}
        return record if record.get("key") == key else {}

    def write(self, bucket: str, key: str, version: str, record: Mapping[str, Any]) -> None:
        directory, stem = self._location(bucket, key)
        os.makedirs(directory, exist_ok=True)
        with TempFile(self._tmp) as (fd, temp_path):
            write_all(fd, json.dumps({**record, "key": key}).encode("utf-8"))
            os.replace(temp_path, os.path.join(directory, f"{stem}.{version}.json"))

    def remove_one(self, bucket: str, key: str, version: str) -> None:
        directory, stem = self._location(bucket, key)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(directory, f"{stem}.{version}.json"))

    def drop_bucket(self, bucket: str) -> None:
        shutil.rmtree(os.path.join(self._root, bucket), ignore_errors=True)
