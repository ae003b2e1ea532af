"""The local provider's state directory: temporary files, sidecars and locks.

A sidecar describes one version of one object: its file name carries a hash
of the key and the identity (inode, size, mtime) of the object file it
belongs to, and ``os.replace`` keeps all three. So a reader that stat()s an
object finds exactly that version's sidecar or none, never another
version's; the writer can publish the sidecar before the object, and old
versions' sidecars are removed afterwards. The flat, hashed layout means no
key can collide with a sidecar, or one sidecar with another.

Every path here is relative to a descriptor of a state directory, opened
once without following links: nothing here follows a symbolic link.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from .paths import ABSENT, FILE_FLAGS, DirChain, is_file, open_dir, remove_tree, reopen_dir

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
    """A temporary file in the directory ``dir_fd``, removed unless it was
    moved into place; yields its descriptor and its name in that directory."""

    def __init__(self, dir_fd: int) -> None:
        self._dir_fd = dir_fd
        self.moved = False
        """Set by a caller that renamed the file away: nothing left to remove."""

    def __enter__(self) -> tuple[int, str]:
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        while True:
            self._name = secrets.token_hex(12) + TEMP_SUFFIX
            try:
                self._fd = os.open(self._name, flags, 0o600, dir_fd=self._dir_fd)
            except FileExistsError:
                continue
            os.fchmod(self._fd, 0o644)
            return self._fd, self._name

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)
        if not self.moved:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._name, dir_fd=self._dir_fd)


@contextlib.contextmanager
def exclusive_lock(dir_fd: int, name: str, *, shared: bool = False) -> Iterator[None]:
    """An advisory lock that excludes other threads and other processes alike
    (flock locks belong to the open file, and each holder opens its own);
    ``shared`` holders exclude only exclusive ones."""
    fd = os.open(name, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def sweep(dir_fd: int, older_than: float) -> None:
    """Remove entries a crashed process left behind, once nothing could still
    be writing them."""
    cutoff = time.time() - older_than
    listed = reopen_dir(dir_fd)
    try:
        for entry in os.scandir(listed):
            try:
                if entry.stat(follow_symlinks=False).st_mtime >= cutoff:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    remove_tree(dir_fd, entry.name)
                else:
                    os.unlink(entry.name, dir_fd=dir_fd)
            except FileNotFoundError:
                continue
    finally:
        os.close(listed)


class SidecarStore:
    """Sidecars at ``meta/<bucket>/<2 hex>/<sha256 of key>.<version>.json``."""

    def __init__(self, meta_fd: int, tmp_fd: int) -> None:
        self._meta_fd = meta_fd
        self._tmp_fd = tmp_fd

    def _location(self, bucket: str, key: str, version: str) -> tuple[list[str], str]:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return [bucket, digest[:2]], f"{digest}.{version}.json"

    def read(self, bucket: str, key: str, version: str) -> dict[str, Any]:
        """The sidecar of this version, or {} if it has none."""
        with self.reader(bucket) as reader:
            return reader.read(key, version)

    def reader(self, bucket: str) -> SidecarReader:
        """Reads sidecars of ``bucket`` one after another (a listing's)."""
        return SidecarReader(self._meta_fd, bucket)

    def write(self, bucket: str, key: str, version: str, record: Mapping[str, Any]) -> None:
        directories, name = self._location(bucket, key, version)
        temp = TempFile(self._tmp_fd)
        with DirChain(self._meta_fd, directories, create=True) as chain, temp as (fd, temp_name):
            write_all(fd, json.dumps({**record, "key": key}).encode("utf-8"))
            os.replace(temp_name, name, src_dir_fd=self._tmp_fd, dst_dir_fd=chain.fd)
            temp.moved = True

    def remove_one(self, bucket: str, key: str, version: str) -> None:
        directories, name = self._location(bucket, key, version)
        with contextlib.suppress(*ABSENT), DirChain(self._meta_fd, directories) as chain:
            os.unlink(name, dir_fd=chain.fd)

    def drop_bucket(self, bucket: str) -> None:
        remove_tree(self._meta_fd, bucket)


class SidecarReader:
    """Reads the sidecars of one bucket, opening its directories once.

    A listing reads one sidecar per key: with ``DirChain`` and a text file
    object each cost three opens and ~110 us a key (cProfile, 10,000 keys).
    Here the bucket's meta directory and each of its 256 fan-out
    directories are opened once per reader, never through a link, and a
    sidecar is one ``openat`` + ``read`` + JSON decode of bytes. A
    directory found missing is looked for again next time (a writer may
    make it meanwhile), never remembered as missing.
    """

    def __init__(self, meta_fd: int, bucket: str) -> None:
        self._meta_fd = meta_fd
        self._bucket = bucket
        self._bucket_fd = -1
        self._fanout: dict[str, int] = {}
        self._opening = threading.Lock()

    def read(self, key: str, version: str) -> dict[str, Any]:
        """The sidecar of this version of ``key``, or {} if it has none (or
        it is unreadable, not JSON, or names another key)."""
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        directory = self._fanout.get(digest[:2])
        try:
            if directory is None:
                directory = self._open_fanout(digest[:2])
            # O_NONBLOCK: a FIFO planted here must not hang the open
            fd = os.open(f"{digest}.{version}.json", FILE_FLAGS | os.O_NONBLOCK, dir_fd=directory)
        except OSError:  # missing, or a link (never followed: ELOOP, ENOTDIR)
            return {}
        try:
            if not is_file(os.fstat(fd)):
                return {}
            data = _read_to_end(fd)
        except OSError:
            return {}
        finally:
            os.close(fd)
        try:
            # msgspec, not json.loads: a fifth of the CPU, a listing's largest
            # per-key cost after the system calls; it reads the bytes as UTF-8
            # only (json.loads would guess their encoding)
            record = _SIDECAR_JSON.decode(data)
        except ValueError:  # msgspec.DecodeError; also a sidecar that is not UTF-8
            return {}
        return record if isinstance(record, dict) and record.get("key") == key else {}

    def _open_fanout(self, name: str) -> int:
        """The fan-out directory ``name``, opened once even when a listing's
        reader threads (listing.py) ask for it together."""
        with self._opening:
            directory = self._fanout.get(name)
            if directory is None:
                if self._bucket_fd < 0:
                    self._bucket_fd = open_dir(self._meta_fd, self._bucket)
                directory = self._fanout[name] = open_dir(self._bucket_fd, name)
            return directory

    def close(self) -> None:
        for fd in self._fanout.values():
            os.close(fd)
        self._fanout.clear()
        if self._bucket_fd >= 0:
            os.close(self._bucket_fd)
            self._bucket_fd = -1

    def __enter__(self) -> SidecarReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_to_end(fd: int) -> bytes:
    first = os.read(fd, SIDECAR_READ)
    if len(first) < SIDECAR_READ:
        return first
    chunks = [first]
    while chunk := os.read(fd, SIDECAR_READ):
        chunks.append(chunk)
    return b"".join(chunks)


_SIDECAR_JSON = msgspec.json.Decoder()

SIDECAR_READ = 64 * 1024
"""One read takes a whole sidecar unless its metadata is unusually large."""
