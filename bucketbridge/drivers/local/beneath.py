"""One system call where the local provider's hot paths took a dozen.

A small object's write or read used to open every directory on its path
one at a time (``paths.DirChain``), then close them again: ~30 system calls
an object, and on a thread pool each one hands the GIL to another thread
(bench/results.md: 2,000 x 4 KiB objects at 0.15x obstore). Linux gives the
same guarantees in fewer calls:

- ``openat2(RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH)`` resolves a whole
  relative path in one call, refusing a symbolic link in *any* component
  (``ELOOP``) and any path that would leave the directory it starts from:
  what ``DirChain`` does with one ``openat(O_NOFOLLOW)`` a directory;
- ``O_TMPFILE`` makes a file with no name, which a crash cannot leave
  behind, and ``linkat`` gives it its name in one step that fails if the
  name is taken (``EEXIST``): create-only for free, and no rename.

Every function here is a fast path that may decline: :data:`FAST` is False
where the kernel (before 5.6), a seccomp filter or a missing ``/proc``
refuses them, and a caller that gets an ``OSError`` goes the slow way, which
decides what the failure means (a link to refuse and name, a directory to
make, a missing bucket). So the slow paths keep every error message and
rule; only the common case got shorter.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import sys
from typing import Any

# linux/openat2.h; the system call's number is the same on every
# architecture that has it (it came after the tables were unified).
_SYS_OPENAT2 = 437
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08
_RESOLVE = _RESOLVE_NO_SYMLINKS | _RESOLVE_BENEATH
_EAGAIN_TRIES = 8
"""openat2 asks for a retry (EAGAIN) when a rename raced a scoped lookup."""

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_MODE = 0o644


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def _load_syscall() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        function = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_long
    function.argtypes = [
        ctypes.c_long,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_void_p,
        ctypes.c_size_t,
    ]
    return function


def _load_linkat() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        function = ctypes.CDLL(None, use_errno=True).linkat
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_int
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    return function


def _load_renameat2() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # glibc before 2.28
        return None
    function.restype = ctypes.c_int
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    return function


# Linux only: the number means another call elsewhere, and O_TMPFILE, O_PATH
# and /proc/self/fd are Linux's
_LINUX = sys.platform.startswith("linux") and hasattr(os, "O_TMPFILE") and hasattr(os, "O_PATH")
_syscall = _load_syscall() if _LINUX else None
_linkat = _load_linkat() if _LINUX else None
_renameat2 = _load_renameat2() if _LINUX else None
_RENAME_EXCHANGE = 0x2
_AT_EMPTY_PATH = 0x1000
_empty_path_links = False
"""Whether ``linkat(fd, "", ..., AT_EMPTY_PATH)`` names a file here (set by
:func:`probe`): Linux asks CAP_DAC_READ_SEARCH for it (a root process, a
container's root) before 6.10, and then some. Where it works, a publish
skips the /proc path walk (/, proc, self, fd, N): 3.7 -> 2.4 us a link
(tmpfs, this machine); elsewhere links go through /proc as before."""
_hows: dict[tuple[int, int], Any] = {}  # ctypes pointers to the open_how of each (flags, mode)
_HOW_SIZE = ctypes.sizeof(_OpenHow)


def open_beneath(dir_fd: int, path: str, flags: int, mode: int = 0) -> int:
    """A descriptor of ``path`` (relative, ``/``-separated) below ``dir_fd``,
    resolved without following any symbolic link and without leaving
    ``dir_fd``; the caller closes it. Raises OSError as ``openat`` would,
    ``ELOOP`` for a link anywhere on the path, ``ENOSYS`` where there is
    no openat2."""
    if _syscall is None:
        raise OSError(errno.ENOSYS, "no openat2 here", path)
    how = _hows.get((flags, mode))
    if how is None:
        how = _hows[(flags, mode)] = ctypes.pointer(_OpenHow(flags, mode, _RESOLVE))
    encoded = os.fsencode(path)
    for _ in range(_EAGAIN_TRIES):
        fd = _syscall(_SYS_OPENAT2, dir_fd, encoded, how, _HOW_SIZE)
        if fd >= 0:
            return int(fd)
        code = ctypes.get_errno()
        if code != errno.EAGAIN:
            break
    raise OSError(code, os.strerror(code), path)


def unnamed_file(dir_fd: int) -> int:
    """A new, empty file with no name on ``dir_fd``'s filesystem, mode 0644
    whatever the umask (as the named temporary files have); a crash leaves
    nothing. Raises OSError where ``O_TMPFILE`` is refused."""
    fd = os.open(".", os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, FILE_MODE, dir_fd=dir_fd)
    if UMASK & FILE_MODE:
        os.fchmod(fd, FILE_MODE)
    return fd


def link_fd(fd: int, dir_fd: int, name: str) -> None:
    """Give the file ``fd`` the name ``name`` in ``dir_fd``: ``linkat`` of
    the descriptor itself (``AT_EMPTY_PATH``) where :func:`probe` found it
    allowed, else through its /proc entry (following that magic link is
    what names the file). Either way ``name`` itself is never followed, and
    an existing ``name`` of any kind fails with FileExistsError."""
    if _empty_path_links and _linkat is not None:
        if _linkat(fd, b"", dir_fd, os.fsencode(name), _AT_EMPTY_PATH) == 0:
            return
        code = ctypes.get_errno()
        # ENOENT is also what a process that lost the capability gets: the
        # /proc link below tells that from a directory removed meanwhile
        if code != errno.ENOENT:
            raise OSError(code, os.strerror(code), name)
    os.link(_proc_path(fd), name, dst_dir_fd=dir_fd, follow_symlinks=True)


def exchange(dir_fd: int, name: str, other_dir_fd: int, other: str) -> None:
    """Swap the entries ``name`` in ``dir_fd`` and ``other`` in
    ``other_dir_fd`` in one step (``renameat2(RENAME_EXCHANGE)``), neither
    followed. Raises OSError where either is missing or the call is
    refused (no renameat2, a filesystem without it: EINVAL)."""
    if _renameat2 is None:
        raise OSError(errno.ENOSYS, "no renameat2 here", other)
    if _renameat2(dir_fd, os.fsencode(name), other_dir_fd, os.fsencode(other), _RENAME_EXCHANGE):
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), other)


def _proc_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def _read_umask() -> int:
    # os.umask can only be read by setting it: once, at import, before
    # worker threads create files
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


UMASK = _read_umask()


def probe(dir_fd: int) -> bool:
    """Whether the fast paths work in the directory ``dir_fd`` (the state
    dir's tmp): openat2 is allowed, and an unnamed file can be made and
    named through /proc. Tried once, when a driver starts; it also finds
    whether a descriptor can be linked by itself (``_empty_path_links``)."""
    global _empty_path_links
    if _syscall is None:
        return False
    try:
        os.close(open_beneath(dir_fd, ".", DIR_FLAGS))
        fd = unnamed_file(dir_fd)
    except OSError:
        return False
    names = [f"probe-{secrets.token_hex(8)}.part" for _ in range(2)]  # swept if left
    try:
        os.link(_proc_path(fd), names[0], dst_dir_fd=dir_fd, follow_symlinks=True)
        if _linkat is not None:
            linked = _linkat(fd, b"", dir_fd, os.fsencode(names[1]), _AT_EMPTY_PATH) == 0
            _empty_path_links = linked
    except OSError:
        return False
    finally:
        os.close(fd)
        for name in names:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=dir_fd)
    return True
