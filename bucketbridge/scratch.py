"""Scratch files for downloads: whole at the destination, or nothing left behind.

On Linux a download writes into an unnamed ``O_TMPFILE`` file in the
destination's directory: if the process dies (even ``kill -9``) the kernel
frees it and nothing is left. Only when it is whole does it get a name:
the destination's own, in one ``linkat`` where no file is there yet;
otherwise a hidden ``.<name>.<random>.bbpart`` beside the destination,
locked, which a rename then puts in the destination's place at once.

Where ``O_TMPFILE`` is not available (another OS, some filesystems), the
scratch file is named from the start -- first under a pending name
(``.<name>.<random>.bbnew``) that it leaves, by a rename, only once it is
locked, so no sweep can take it for a killed download's in the moment
between its creation and its lock. Either way the scratch file is
``flock``-ed while in use, and the next download to the same destination
removes that destination's scratch files that nobody holds locked: what a
killed process left. That sweep lists the directory: a download of many
files into one directory (a tree) would list it once a file, quadratic in
its size, so a :class:`TreeSweep` sweeps each directory once instead, when
its first file goes there, and the files' own downloads skip theirs. A
pending name is swept only once it is :data:`PENDING_GRACE` seconds old (a
process killed between its creation and its rename left it).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import os
import re
import secrets
import threading
import time
from types import TracebackType

SUFFIX = ".bbpart"
PENDING_SUFFIX = ".bbnew"
PENDING_GRACE = 60.0
TOKEN_BYTES = 6
STEM_BYTES = 100
"""The longest destination name a scratch name carries whole; with the
dots, token and suffix it stays within NAME_MAX (255 bytes)."""


def _stem(name: str) -> str:
    """The destination's name as its scratch names carry it. A longer one
    is cut, in bytes as NAME_MAX counts them, and made unique by a hash of
    the whole: two names sharing their first bytes must not share scratch
    files, or a download to one would sweep the other's."""
    raw = os.fsencode(name)
    if len(raw) <= STEM_BYTES:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:16]
    return f"{os.fsdecode(raw[: STEM_BYTES - 20])}~{digest}"


class ScratchFile:
    def __init__(self, path: str) -> None:
        self.path = path
        self.directory = os.path.dirname(os.path.abspath(path))
        self._prefix = f".{_stem(os.path.basename(path))}."
        self._named: str | None = None
        self.fd = -1

    def __enter__(self) -> ScratchFile:
        if self.directory not in _swept_by_trees:
            sweep_stale(self.directory, self._prefix)
        try:
            # the mode a new file gets (umask, default ACLs): the destination's
            # when it is new, the usual case; an existing one's is matched at
            # publish. No lock yet: no sweep can see an unnamed file.
            self.fd = os.open(self.directory, os.O_TMPFILE | os.O_RDWR, 0o666)
        except (AttributeError, OSError):  # no O_TMPFILE here: a named file
            self._create_named()
            _match_mode(self.fd, self.path)
        return self

    def _create_named(self) -> None:
        """A named scratch file, locked before it takes the name a sweep
        removes when unlocked: created under a pending name, locked, renamed."""
        token = secrets.token_hex(TOKEN_BYTES)
        pending = os.path.join(self.directory, f"{self._prefix}{token}{PENDING_SUFFIX}")
        fd = os.open(pending, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        try:
            # blocking: a sweep may hold the lock a moment, to look at its age
            fcntl.flock(fd, fcntl.LOCK_EX)
            named = self._new_name(token)
            os.rename(pending, named)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(pending)
            raise
        self.fd, self._named = fd, named

    def _new_name(self, token: str | None = None) -> str:
        token = token or secrets.token_hex(TOKEN_BYTES)
        return os.path.join(self.directory, f"{self._prefix}{token}{SUFFIX}")

    def publish(self) -> None:
        """Put the finished file in the destination's place."""
        if self._named is None:
            # A new destination gets the file in one link, which fails rather
            # than replace: no scratch name, lock or rename (a tree download
            # makes thousands). One that exists is replaced in one rename of a
            # locked scratch name, with the existing file's mode.
            try:
                _link_fd(self.fd, self.path)
            except FileExistsError:
                pass
            else:
                return
            _match_mode(self.fd, self.path)
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            named = self._new_name()
            _link_fd(self.fd, named)
            self._named = named
        os.replace(self._named, self.path)
        self._named = None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._named is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._named)
        os.close(self.fd)


_AT_FDCWD = -100
_AT_SYMLINK_FOLLOW = 0x400


def _link_fd(fd: int, path: str) -> None:
    """Give the unnamed file ``fd`` the name ``path``: linkat through
    /proc/self/fd, following the link (os.link does not follow it here)."""
    libc = _libc()
    source = f"/proc/self/fd/{fd}".encode()
    if libc.linkat(_AT_FDCWD, source, _AT_FDCWD, os.fsencode(path), _AT_SYMLINK_FOLLOW) != 0:
        code = ctypes.get_errno() or errno.EIO
        # OSError(errno, ...) is the matching subclass (FileExistsError, ...)
        raise OSError(code, os.strerror(code), path)


_libc_handle: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL:
    global _libc_handle
    if _libc_handle is None:
        _libc_handle = ctypes.CDLL(None, use_errno=True)
    return _libc_handle


def sweep_stale(directory: str, prefix: str) -> None:
    """Remove the scratch files of one destination that no live download holds."""
    # The exact shape, not a prefix: ``.a.bin.`` starts ``.a.bin.x.<token>.bbpart``
    # too, the scratch file of another destination.
    mine = re.compile(
        f"{re.escape(prefix)}[0-9a-f]{{{2 * TOKEN_BYTES}}}"
        f"({re.escape(SUFFIX)}|{re.escape(PENDING_SUFFIX)})"
    )
    _remove_unheld(directory, mine)


_ANY_SCRATCH = re.compile(
    rf"\..+\.[0-9a-f]{{{2 * TOKEN_BYTES}}}({re.escape(SUFFIX)}|{re.escape(PENDING_SUFFIX)})"
)
_swept_by_trees: dict[str, int] = {}  # directory -> running TreeSweeps that swept it
_swept_lock = threading.Lock()


class TreeSweep:
    """For a download of many files: :meth:`enter` sweeps a directory once,
    of every scratch file no live download holds, before its first file;
    until :meth:`close`, downloads into it skip their own sweep."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._swept: set[str] = set()

    def enter(self, directory: str) -> None:
        directory = os.path.abspath(directory)
        if directory in self._swept:
            return
        with self._lock:  # the other workers wait for the sweep, not race it
            if directory in self._swept:
                return
            _remove_unheld(directory, _ANY_SCRATCH)
            with _swept_lock:
                _swept_by_trees[directory] = _swept_by_trees.get(directory, 0) + 1
            self._swept.add(directory)

    def close(self) -> None:
        with _swept_lock:
            for directory in self._swept:
                left = _swept_by_trees.pop(directory) - 1
                if left:
                    _swept_by_trees[directory] = left
        self._swept.clear()


def _remove_unheld(directory: str, shape: re.Pattern[str]) -> None:
    try:
        names = [name for name in os.listdir(directory) if shape.fullmatch(name)]
    except OSError:
        return
    for name in names:
        path = os.path.join(directory, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # a pending name is being locked by its maker right now, unless
            # old: then its maker was killed before it could rename it
            if name.endswith(PENDING_SUFFIX) and time.time() - os.fstat(fd).st_mtime < (
                PENDING_GRACE
            ):
                continue
        except OSError:
            continue  # a download in progress holds it
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        finally:
            os.close(fd)


def _match_mode(fd: int, path: str) -> None:
    """Give the scratch file the mode the destination has or would get."""
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_UMASK
    os.fchmod(fd, mode)


def _read_umask() -> int:
    # os.umask can only be read by setting it; do that once, at import, not
    # while worker threads may be creating files.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_UMASK = _read_umask()
