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
_RESOLVE_NO_XDEV = 0x01
# A held lookup (the GIL kept) stays on the filesystem it starts on, which
# holds_gil checked keeps everything in memory: a mount below the root (a
# disk, the network) may wait, so a path into one is looked up let go.
_RESOLVE_HELD = _RESOLVE | _RESOLVE_NO_XDEV
_EAGAIN_TRIES = 8
"""openat2 asks for a retry (EAGAIN) when a rename raced a scoped lookup."""

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_MODE = 0o644


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_C = ctypes
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    # syscall: as openat2 is called (number, dir_fd, path, how, size)
    "syscall": (_C.c_long, [_C.c_long, _C.c_int, _C.c_char_p, _C.c_void_p, _C.c_size_t]),
    "linkat": (_C.c_int, [_C.c_int, _C.c_char_p, _C.c_int, _C.c_char_p, _C.c_int]),
    "renameat2": (_C.c_int, [_C.c_int, _C.c_char_p, _C.c_int, _C.c_char_p, _C.c_uint]),
    "openat": (_C.c_int, [_C.c_int, _C.c_char_p, _C.c_int, _C.c_uint]),
    "fsetxattr": (_C.c_int, [_C.c_int, _C.c_char_p, _C.c_char_p, _C.c_size_t, _C.c_int]),
    "close": (_C.c_int, [_C.c_int]),
    "write": (_C.c_ssize_t, [_C.c_int, _C.c_char_p, _C.c_size_t]),
}
"""The C functions this module calls, with their result and argument types."""


def _functions(library: ctypes.CDLL, names: tuple[str, ...]) -> dict[str, Any]:
    """``names`` of ``library``, typed as ``_SIGNATURES`` says; a function
    the library lacks (renameat2 before glibc 2.28) is left out."""
    found: dict[str, Any] = {}
    for name in names:
        function = getattr(library, name, None)
        if function is not None:
            function.restype, function.argtypes = _SIGNATURES[name]
            found[name] = function
    return found


def _load_libc(held: bool) -> ctypes.CDLL | None:
    """The C library; ``held``: its functions called without letting go of
    the GIL (``PyDLL``), for the calls that do not wait (see :func:`holds_gil`)."""
    try:
        return (ctypes.PyDLL if held else ctypes.CDLL)(None, use_errno=True)
    except OSError:
        return None


_HELD_NAMES = ("syscall", "linkat", "openat", "fsetxattr", "close", "write")


def _load_held() -> dict[str, Any]:
    """The held (GIL-keeping) functions a publish uses: openat2 (through
    syscall), linkat, openat (O_TMPFILE), fsetxattr, close, write; empty
    where one is missing."""
    library = _load_libc(held=True) if _LINUX else None
    held = _functions(library, _HELD_NAMES) if library is not None else {}
    return held if len(held) == len(_HELD_NAMES) else {}


# Linux only: the number means another call elsewhere, and O_TMPFILE, O_PATH
# and /proc/self/fd are Linux's
_LINUX = sys.platform.startswith("linux") and hasattr(os, "O_TMPFILE") and hasattr(os, "O_PATH")
_libc = _load_libc(held=False) if _LINUX else None
_plain = _functions(_libc, ("syscall", "linkat", "renameat2")) if _libc is not None else {}
_syscall = _plain.get("syscall")
_linkat = _plain.get("linkat")
_renameat2 = _plain.get("renameat2")
_RENAME_EXCHANGE = 0x2
_held = _load_held()
_AT_EMPTY_PATH = 0x1000
_empty_path_links = False
"""Whether ``linkat(fd, "", ..., AT_EMPTY_PATH)`` names a file here (set by
:func:`probe`): Linux asks CAP_DAC_READ_SEARCH for it (a root process, a
container's root) before 6.10, and then some. Where it works, a publish
skips the /proc path walk (/, proc, self, fd, N): 3.7 -> 2.4 us a link
(tmpfs, this machine); elsewhere links go through /proc as before."""
_hows: dict[tuple[int, int, int], Any] = {}  # ctypes pointers to each (flags, mode, resolve)
_HOW_SIZE = ctypes.sizeof(_OpenHow)


def open_beneath(dir_fd: int, path: str, flags: int, mode: int = 0, *, held: bool = False) -> int:
    """A descriptor of ``path`` (relative, ``/``-separated) below ``dir_fd``,
    resolved without following any symbolic link and without leaving
    ``dir_fd``; the caller closes it. Raises OSError as ``openat`` would,
    ``ELOOP`` for a link anywhere on the path, ``ENOSYS`` where there is
    no openat2. ``held``: the GIL kept through the call (:func:`holds_gil`)."""
    if _syscall is None:
        raise OSError(errno.ENOSYS, "no openat2 here", path)
    held = held and bool(_held)
    syscall, resolve = (_held["syscall"], _RESOLVE_HELD) if held else (_syscall, _RESOLVE)
    how = _hows.get((flags, mode, resolve))
    if how is None:
        how = _hows[(flags, mode, resolve)] = ctypes.pointer(_OpenHow(flags, mode, resolve))
    encoded = os.fsencode(path)
    for _ in range(_EAGAIN_TRIES):
        fd = syscall(_SYS_OPENAT2, dir_fd, encoded, how, _HOW_SIZE)
        if fd >= 0:
            return int(fd)
        code = ctypes.get_errno()
        if code != errno.EAGAIN:
            break
    if held and code == errno.EXDEV:  # a mount on the way: looked up with the GIL let go
        return open_beneath(dir_fd, path, flags, mode)
    raise OSError(code, os.strerror(code), path)


def unnamed_file(dir_fd: int, *, held: bool = False) -> int:
    """A new, empty file with no name on ``dir_fd``'s filesystem, mode 0644
    whatever the umask (as the named temporary files have); a crash leaves
    nothing. Raises OSError where ``O_TMPFILE`` is refused."""
    flags = os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC
    if held and _held:
        fd: int = _held["openat"](dir_fd, b".", flags, FILE_MODE)
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), ".")
    else:
        fd = os.open(".", flags, FILE_MODE, dir_fd=dir_fd)
    if UMASK & FILE_MODE:
        os.fchmod(fd, FILE_MODE)
    return fd


def link_fd(fd: int, dir_fd: int, name: str, *, held: bool = False) -> None:
    """Give the file ``fd`` the name ``name`` in ``dir_fd``: ``linkat`` of
    the descriptor itself (``AT_EMPTY_PATH``) where :func:`probe` found it
    allowed, else through its /proc entry (following that magic link is
    what names the file). Either way ``name`` itself is never followed, and
    an existing ``name`` of any kind fails with FileExistsError. ``held``:
    the GIL kept through the descriptor's own link (:func:`holds_gil`)."""
    if _empty_path_links and _linkat is not None:
        linkat = _held["linkat"] if held and _held else _linkat
        if linkat(fd, b"", dir_fd, os.fsencode(name), _AT_EMPTY_PATH) == 0:
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


def close(fd: int, *, held: bool = False) -> None:
    """``os.close``; ``held``: the GIL kept through it (:func:`holds_gil`)."""
    if not (held and _held):
        os.close(fd)
    elif _held["close"](fd) < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


HELD_WRITE_LIMIT = 64 * 1024
"""A held write (:func:`write`) copies at most this much into memory with the GIL kept."""


def write(fd: int, data: bytes | memoryview, *, held: bool = False) -> int:
    """``os.write``; ``held`` (:func:`holds_gil`), and ``data`` bytes no
    larger than ``HELD_WRITE_LIMIT``: the GIL kept through it."""
    if not (held and _held and type(data) is bytes and len(data) <= HELD_WRITE_LIMIT):
        return os.write(fd, data)
    written: int = _held["write"](fd, data, len(data))
    if written < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return written


def set_attribute(fd: int, name: str, value: bytes, *, held: bool = False) -> None:
    """``os.setxattr`` of the open file ``fd``; ``held``: the GIL kept
    through it (:func:`holds_gil`)."""
    if not (held and _held):
        os.setxattr(fd, name, value)
    elif _held["fsetxattr"](fd, os.fsencode(name), value, len(value), 0) < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


_HELD_FILESYSTEMS = frozenset({0x01021994, 0x858458F6})
"""statfs magic numbers (linux/magic.h) of the filesystems whose metadata
calls are held: tmpfs and ramfs, which keep everything in memory."""


def holds_gil(dir_fd: int) -> bool:
    """Whether the publish calls on ``dir_fd``'s filesystem are to keep the
    GIL (``held``): each call made the usual way lets the GIL go and takes
    it back, which with 16 threads hands it to another thread and waits for
    it again (a futex wake and a context switch each way): ~6 CPU-us a call
    more than the ~2 the call itself costs here, the bulk of what a
    16-thread copy pays per object over one thread. Kept only where the
    calls never wait -- a filesystem in memory; on a disk or the network
    they may wait for the journal or a server, and the GIL is let go for them
    as before."""
    if not _held:
        return False
    try:
        return _filesystem_magic(dir_fd) in _HELD_FILESYSTEMS
    except OSError:
        return False


def _filesystem_magic(dir_fd: int) -> int:
    """``f_type`` of ``fstatfs`` (the first field, a C long on Linux)."""
    library = _libc
    if library is None:
        raise OSError(errno.ENOSYS, "no libc here")
    buffer = ctypes.create_string_buffer(256)  # struct statfs is 120 bytes on x86-64
    if library.fstatfs(dir_fd, buffer) < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return ctypes.c_long.from_buffer(buffer).value


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
