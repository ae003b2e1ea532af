"""The local provider's state directory: temporary files, sidecars and locks.

Sidecars are now the fallback layout: an object's record lives on its own
file where the filesystem takes user xattrs (inline.py says why: one inode
an object, a listing without a file read a key). Objects get a sidecar
where xattrs are refused, or where one record is too large for them, and
buckets written before keep theirs: read, listed and overwritten as ever.

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
import itertools
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from . import beneath
from .beneath import (
    DIR_FLAGS,
    FILE_MODE,
    NEW_FILE_FLAGS,
    UMASK,
    link_fd,
    open_beneath,
    unnamed_file,
)
from .paths import ABSENT, FILE_FLAGS, DirChain, is_file, open_dir, remove_tree, reopen_dir

TEMP_SUFFIX = ".part"


class _TempNames:
    """Names for temporary files, unique in this process without a system
    call: ``secrets`` drew them with one ``getrandom`` each, one call in
    twelve of a small overwrite (bench/local_syscalls.py). A random prefix
    drawn once a process (again in a forked child) keeps processes apart,
    and a counter names each file; a name taken anyway fails the ``O_EXCL``
    open or the link, which tries the next."""

    def __init__(self) -> None:
        self._start()
        os.register_at_fork(after_in_child=self._start)

    def _start(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()  # next() on it is atomic under the GIL

    def __call__(self) -> str:
        return f"{self._prefix}-{next(self._counter)}{TEMP_SUFFIX}"


temp_name = _TempNames()


def identity(stat: os.stat_result) -> str:
    """The version token of a local object: replaced files get a new inode."""
    return f"{stat.st_ino}-{stat.st_size}-{stat.st_mtime_ns}"


def write_all(fd: int, data: bytes | memoryview, *, held: bool = False) -> None:
    """All of ``data`` into ``fd``; ``held``: a small write keeps the GIL (beneath.write)."""
    written = beneath.write(fd, data, held=held) if held else os.write(fd, data)
    if written == len(data):  # a regular file takes it all at once, as a rule
        return
    view = memoryview(data)[written:]
    while view:
        written = os.write(fd, view)
        view = view[written:]


class TempFile:
    """A temporary file in the directory ``dir_fd``, removed unless it was
    moved into place. ``unnamed`` (where ``beneath.probe`` found it works)
    makes an ``O_TMPFILE`` file: it has no name -- nothing a crash could
    leave -- until :meth:`named` links it into ``dir_fd`` or the caller
    links it straight into place (``beneath.link_fd``)."""

    # one made a small write: slots make it, and its fields, cheaper
    __slots__ = ("_dir_fd", "_held", "_unnamed", "fd", "moved", "name")

    def __init__(self, dir_fd: int, *, unnamed: bool = False, held: bool = False) -> None:
        """``held``: an unnamed file made and closed keeping the GIL (beneath.holds_gil)."""
        self._dir_fd = dir_fd
        self._unnamed = unnamed
        self._held = held and unnamed
        self.fd = -1
        self.name: str | None = None
        """Its name in ``dir_fd``; None while it has none."""
        self.moved = False
        """Set by a caller that renamed or linked the file away: nothing left to remove."""

    def __enter__(self) -> TempFile:
        if self._unnamed:
            try:
                self.fd = unnamed_file(self._dir_fd, held=self._held)
                return self
            except OSError:  # refused here after all: a named one
                pass
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        while True:
            name = temp_name()
            try:
                self.fd = os.open(name, flags, 0o600, dir_fd=self._dir_fd)
            except FileExistsError:
                continue
            self.name = name
            os.fchmod(self.fd, 0o644)
            return self

    def named(self) -> str:
        """The file's name in ``dir_fd``, linking an unnamed file there first."""
        while self.name is None:
            name = temp_name()
            try:
                link_fd(self.fd, self._dir_fd, name)
            except FileExistsError:
                continue
            self.name = name
        return self.name

    def __exit__(self, *exc: object) -> None:
        beneath.close(self.fd, held=self._held)
        if not self.moved and self.name is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.name, dir_fd=self._dir_fd)


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
    be writing them: untouched for ``older_than`` seconds, by the later of
    their mtime and ctime. The ctime because a rename sets it and not the
    mtime: the version a lock-free overwrite swaps out of a bucket
    (``_replace_lock_free``) lands here with its own, maybe day-old, mtime,
    and sits here for a moment before its writer removes it or (a link or a
    directory that slipped in) swaps it back; a driver starting meanwhile in
    another process must not sweep it."""
    cutoff = time.time() - older_than
    listed = reopen_dir(dir_fd)
    try:
        for entry in os.scandir(listed):
            try:
                stat = entry.stat(follow_symlinks=False)
                if max(stat.st_mtime, stat.st_ctime) >= cutoff:
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
    """Sidecars at ``meta/<bucket>/<2 hex>/<sha256 of key>.<version>.json``.

    With ``fast`` (``beneath.probe`` passed), a sidecar is reached with one
    ``openat2`` from the meta dir instead of a ``DirChain`` (three opens,
    three closes), never through a link either way.
    """

    def __init__(self, meta_fd: int, tmp_fd: int, *, fast: bool = False) -> None:
        self._meta_fd = meta_fd
        self._tmp_fd = tmp_fd
        self._fast = fast

    def _location(self, bucket: str, key: str, version: str) -> tuple[list[str], str]:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return [bucket, digest[:2]], f"{digest}.{version}.json"

    def read(self, bucket: str, key: str, version: str) -> dict[str, Any]:
        """The sidecar of this version, or {} if it has none."""
        if not self._fast:
            with self.reader(bucket) as reader:
                return reader.read(key, version)
        directories, name = self._location(bucket, key, version)
        try:
            # O_NONBLOCK: a FIFO planted here must not hang the open
            fd = open_beneath(
                self._meta_fd, "/".join([*directories, name]), FILE_FLAGS | os.O_NONBLOCK
            )
        except OSError:  # missing, or a link on the way (never followed)
            return {}
        return _parse(fd, key)

    def reader(self, bucket: str) -> SidecarReader:
        """Reads sidecars of ``bucket`` one after another (a listing's)."""
        return SidecarReader(self._meta_fd, bucket)

    def write(self, bucket: str, key: str, version: str, record: Mapping[str, Any]) -> None:
        """Write (or replace) the sidecar of this version, atomically."""
        directories, name = self._location(bucket, key, version)
        with (
            DirChain(self._meta_fd, directories, create=True) as chain,
            TempFile(self._tmp_fd) as temp,
        ):
            write_all(temp.fd, _encode(key, record))
            os.replace(temp.named(), name, src_dir_fd=self._tmp_fd, dst_dir_fd=chain.fd)
            temp.moved = True

    def create(self, bucket: str, key: str, version: str, record: Mapping[str, Any]) -> None:
        """Write the sidecar of a version not yet published, in place.

        No temporary file and rename: nobody reads this sidecar before the
        object it describes is published, which happens after this returns.
        A reader finds a sidecar by the identity (inode, size, mtime) of a
        file it opened or stat()ed, and this version's inode is the writer's
        own, unpublished file: no reader holds it. (Only a stale stat of a
        deleted file whose inode was reused within one clock tick, at the
        same size, could name it early; a rename would then hand that reader
        another version's metadata just the same.) A name already taken --
        a sidecar left by a crash under a reused identity -- is replaced
        atomically by :meth:`write`."""
        if not self._fast:
            self.write(bucket, key, version, record)
            return
        directories, name = self._location(bucket, key, version)
        data = _encode(key, record)
        try:
            fd = open_beneath(self._meta_fd, "/".join([*directories, name]), NEW_FILE_FLAGS, 0o644)
        except FileNotFoundError:  # the bucket's or the fan-out's directory is new
            with DirChain(self._meta_fd, directories, create=True) as chain:
                try:
                    fd = os.open(name, NEW_FILE_FLAGS, 0o644, dir_fd=chain.fd)
                except FileExistsError:
                    self.write(bucket, key, version, record)
                    return
                self._fill(fd, chain.fd, name, data)
            return
        except OSError:  # taken, or a link on the way: the slow path says which
            self.write(bucket, key, version, record)
            return
        self._fill(fd, -1, "/".join([*directories, name]), data)

    def _fill(self, fd: int, dir_fd: int, name: str, data: bytes) -> None:
        """Write a new sidecar's bytes; on failure remove what was written."""
        try:
            if UMASK & FILE_MODE:
                os.fchmod(fd, FILE_MODE)
            write_all(fd, data)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                if dir_fd < 0:
                    directory, _, name = name.rpartition("/")
                    dir_fd = open_beneath(self._meta_fd, directory, DIR_FLAGS)
                    try:
                        os.unlink(name, dir_fd=dir_fd)
                    finally:
                        os.close(dir_fd)
                else:
                    os.unlink(name, dir_fd=dir_fd)
            raise
        os.close(fd)

    def remove_one(self, bucket: str, key: str, version: str) -> None:
        directories, name = self._location(bucket, key, version)
        if self._fast:
            try:
                directory = open_beneath(self._meta_fd, "/".join(directories), DIR_FLAGS)
            except OSError:  # missing, or a link on the way: nothing of ours to remove
                return
            try:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=directory)
            finally:
                os.close(directory)
            return
        with contextlib.suppress(*ABSENT), DirChain(self._meta_fd, directories) as chain:
            os.unlink(name, dir_fd=chain.fd)

    def drop_bucket(self, bucket: str) -> None:
        remove_tree(self._meta_fd, bucket)


def _encode(key: str, record: Mapping[str, Any]) -> bytes:
    return json.dumps({**record, "key": key}).encode("utf-8")


def _parse(fd: int, key: str) -> dict[str, Any]:
    """The sidecar open at ``fd`` (closed here) if it is one of ``key``'s,
    else {}: unreadable, not a regular file, not JSON, or another key's."""
    try:
        data = os.read(fd, SIDECAR_READ)
        if len(data) == SIDECAR_READ:  # a big one, or no regular file (/dev/zero)
            if not is_file(os.fstat(fd)):
                return {}
            data += _read_to_end(fd)
    except OSError:  # a directory (EISDIR), a FIFO (EAGAIN)
        return {}
    finally:
        os.close(fd)
    return _decoded(data, key)


def _decoded(data: bytes, key: str) -> dict[str, Any]:
    """The sidecar record in ``data`` if it is one of ``key``'s, else {}."""
    try:
        # msgspec, not json.loads: a fifth of the CPU, a listing's largest
        # per-key cost after the system calls; it reads the bytes as UTF-8
        # only (json.loads would guess their encoding)
        record = _SIDECAR_JSON.decode(data)
    except ValueError:  # msgspec.DecodeError; also a sidecar that is not UTF-8
        return {}
    return record if isinstance(record, dict) and record.get("key") == key else {}


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
        return _parse(fd, key)

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
