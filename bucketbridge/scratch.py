"""Scratch files for downloads: whole at the destination, or nothing left behind.

On Linux a download writes into an unnamed ``O_TMPFILE`` file in the
destination's directory: if the process dies (even ``kill -9``) the kernel
frees it and nothing is left. Only when it is whole does it get a name, a
hidden ``.<name>.<random>.bbpart`` beside the destination, which a rename
then puts in the destination's place at once.

Where ``O_TMPFILE`` is not available (another OS, some filesystems), the
scratch file is named from the start. Either way the scratch file is
``flock``-ed while in use, and the next download to the same destination
removes that destination's scratch files that nobody holds locked: what a
killed process left.
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
from types import TracebackType

SUFFIX = ".bbpart"
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
        sweep_stale(self.directory, self._prefix)
        try:
            self.fd = os.open(self.directory, os.O_TMPFILE | os.O_RDWR, 0o600)
        except (AttributeError, OSError):  # no O_TMPFILE here: a named file
            self._named = self._new_name()
            self.fd = os.open(self._named, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _match_mode(self.fd, self.path)
        return self

    def _new_name(self) -> str:
        return os.path.join(
            self.directory, f"{self._prefix}{secrets.token_hex(TOKEN_BYTES)}{SUFFIX}"
        )

    def publish(self) -> None:
        """Put the finished file in the destination's place."""
        if self._named is None:
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
    libc = ctypes.CDLL(None, use_errno=True)
    source = f"/proc/self/fd/{fd}".encode()
    if libc.linkat(_AT_FDCWD, source, _AT_FDCWD, os.fsencode(path), _AT_SYMLINK_FOLLOW) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code or errno.EIO), path)


def sweep_stale(directory: str, prefix: str) -> None:
    """Remove the scratch files of one destination that no live download holds."""
    # The exact shape, not a prefix: ``.a.bin.`` starts ``.a.bin.x.<token>.bbpart``
    # too, the scratch file of another destination.
    mine = re.compile(f"{re.escape(prefix)}[0-9a-f]{{{2 * TOKEN_BYTES}}}{re.escape(SUFFIX)}")
    try:
        names = [name for name in os.listdir(directory) if mine.fullmatch(name)]
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
