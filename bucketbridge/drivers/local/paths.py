"""How the local provider maps keys to paths, and lists them in S3's order.

Paths are never resolved by name from the root: every directory is opened
relative to the one above it with ``O_NOFOLLOW``, starting from a descriptor
of the root opened once. A symbolic link anywhere below the root, even one
swapped in between two calls, is therefore never followed (see local.py).
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import os
import stat as stat_module
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import TypeVar

from ...errors import InvalidNameException

STATE_DIR = ".bucketbridge"
MAX_SEGMENT_BYTES = 255
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
T = TypeVar("T")


class SymlinkInTree(OSError):
    """A name on the way is a symbolic link, which the local provider never follows."""

    def __init__(self, name: str) -> None:
        super().__init__(
            errno.ELOOP, "is a symbolic link, which the local provider never follows", name
        )


# What a read takes to mean "no such object": a name that is missing, is a
# file where a directory was needed (or the reverse), or is a link.
ABSENT = (FileNotFoundError, NotADirectoryError, IsADirectoryError, SymlinkInTree)


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    """The entry ``name`` itself (a link is not followed), or None if missing."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def is_link_at(dir_fd: int, name: str) -> bool:
    stat = lstat_at(dir_fd, name)
    return stat is not None and stat_module.S_ISLNK(stat.st_mode)


def open_dir(parent_fd: int, name: str) -> int:
    """A new descriptor of the directory ``name`` in ``parent_fd``; the caller closes it.

    Raises FileNotFoundError, NotADirectoryError for a file, SymlinkInTree for a link.
    """
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except OSError as error:
        # O_NOFOLLOW | O_DIRECTORY refuses a link with ENOTDIR (ELOOP on some
        # systems), as it refuses a file: the open already failed, this only
        # tells the caller which it was.
        if error.errno in (errno.ENOTDIR, errno.ELOOP) and is_link_at(parent_fd, name):
            raise SymlinkInTree(name) from None
        raise


def make_dir(parent_fd: int, name: str) -> int:
    """Like ``open_dir``, making the directory first if it is missing."""
    try:
        return open_dir(parent_fd, name)
    except FileNotFoundError:
        pass
    with contextlib.suppress(FileExistsError):  # made by someone else meanwhile
        os.mkdir(name, dir_fd=parent_fd)  # mkdir never follows a link at ``name``
    return open_dir(parent_fd, name)


def reopen_dir(dir_fd: int) -> int:
    """A new descriptor of the same directory. Listing a descriptor moves its
    offset, which all its duplicates share: a descriptor that other threads
    use (the root's, the state dirs') is listed through a fresh one."""
    return os.open(".", DIR_FLAGS, dir_fd=dir_fd)


def open_file(dir_fd: int, name: str) -> int:
    """A read-only descriptor of the regular file ``name``; the caller closes it.

    Raises FileNotFoundError, SymlinkInTree for a link, IsADirectoryError for
    anything but a regular file.
    """
    try:
        # O_NONBLOCK: a FIFO at ``name`` must not hang the open (it is then
        # refused as no regular file); reads of a regular file ignore it
        fd = os.open(name, FILE_FLAGS | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise SymlinkInTree(name) from None
        raise
    if not is_file(os.fstat(fd)):
        os.close(fd)
        raise IsADirectoryError(errno.EISDIR, "not a regular file", name)
    return fd


class DirChain:
    """Descriptors of the directories ``base/names[0]/.../names[-1]``, each
    opened relative to the one before it and never through a link.

    Opening raises as ``open_dir`` does, a SymlinkInTree naming the path of
    the link below the base (with ``create``, missing directories are made,
    as ``mkdirat`` one at a time). ``fd`` is the last directory.
    """

    def __init__(self, base_fd: int, names: Sequence[str], *, create: bool = False) -> None:
        self.names = list(names)
        self._fds = [base_fd]  # the base is the caller's, never closed here
        opener = make_dir if create else open_dir
        try:
            for index, name in enumerate(self.names):
                try:
                    self._fds.append(opener(self._fds[-1], name))
                except SymlinkInTree:
                    raise SymlinkInTree("/".join(self.names[: index + 1])) from None
        except BaseException:
            self.close()
            raise

    @property
    def fd(self) -> int:
        return self._fds[-1]

    def prune_empty(self) -> None:
        """Remove the chain's directories that are empty, deepest first (a
        delete left them so). ``rmdir`` never follows a link either."""
        for index in range(len(self.names) - 1, -1, -1):
            try:
                os.rmdir(self.names[index], dir_fd=self._fds[index])
            except OSError:
                return

    def close(self) -> None:
        for fd in self._fds[1:]:
            os.close(fd)
        del self._fds[1:]

    def __enter__(self) -> DirChain:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def check_bucket_dir_name(bucket: str) -> None:
    """A bucket is one directory directly under the root, never the state dir."""
    if not bucket or bucket.startswith(".") or "/" in bucket or "\\" in bucket or "\x00" in bucket:
        raise InvalidNameException(f"bucket name {bucket!r} is not valid for the local provider")


def key_segments(key: str) -> list[str]:
    """The path segments of a key, refusing any that could leave the bucket
    directory or that a filesystem cannot hold."""
    if key.startswith("/") or key.endswith("/"):
        raise InvalidNameException(
            f"object name {key!r}: the local provider cannot store a name that starts or ends"
            " with '/'"
        )
    segments = key.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise InvalidNameException(
                f"object name {key!r}: the local provider refuses empty, '.' and '..' path segments"
            )
        if "\x00" in segment or (os.sep == "\\" and "\\" in segment):
            raise InvalidNameException(f"object name {key!r}: contains a forbidden character")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise InvalidNameException(
                f"object name {key[:40]!r}...: a path segment is longer than {MAX_SEGMENT_BYTES}"
                " bytes"
            )
    if segments[0] == STATE_DIR:
        raise InvalidNameException(f"object name {key!r}: {STATE_DIR!r} is reserved")
    return segments


def is_file(stat: os.stat_result) -> bool:
    return stat_module.S_ISREG(stat.st_mode)


Describe = Callable[[int, list[str], list[str]], Iterator[T]]
"""Given a directory's descriptor and a run of its entries that may be
object files (not directories: ``keys`` in key order, and their ``names``
in the directory), stats each and yields what it makes of those that are
regular files (their records, read while the directory is open)."""


def walk_sorted(
    dir_fd: int,
    relative: str,
    prefix: str,
    marker: str | None,
    describe: Describe[T],
) -> Iterator[T]:
    """Yield what ``describe`` makes of the files under the directory
    ``dir_fd`` in S3's key order, skipping whole subtrees that are before
    ``marker`` or outside ``prefix``, and links to anything (``describe``
    stats each name and keeps regular files only): they are not objects.

    A directory sorts as its name plus '/', which puts ``a-b`` before ``a/c``
    before ``a0`` exactly as the keys themselves sort; code point order is
    UTF-8 byte order, which is S3's.
    """
    # names only: an entry's type comes with it (d_type), and keeping
    # 10,000 DirEntry objects alive until sorted costs more than the
    # ``fstatat`` by name that replaces their cached ``stat()``
    files: list[str] = []
    subdirs: list[str] = []
    for entry in os.scandir(dir_fd):
        try:
            (subdirs if entry.is_dir(follow_symlinks=False) else files).append(entry.name)
        except OSError:
            continue
    if not subdirs:
        # A directory of files only (a flat bucket's, 10,000 keys a page):
        # its names sort as its keys do, so one sort, one bisection for the
        # marker, and the whole run described in one loop.
        files.sort()
        keys = [relative + name for name in files]
        start = 0 if marker is None else bisect.bisect_right(keys, marker)
        if start:
            del keys[:start], files[:start]
        if not relative.startswith(prefix):
            kept = [index for index, key in enumerate(keys) if key.startswith(prefix)]
            keys, files = [keys[index] for index in kept], [files[index] for index in kept]
        yield from describe(dir_fd, keys, files)
        return
    named = [(relative + name, name) for name in files]
    named += [(relative + name + "/", name) for name in subdirs]
    named.sort()
    run_keys: list[str] = []
    run_names: list[str] = []
    for key, name in named:
        if not key.endswith("/"):
            if key.startswith(prefix) and (marker is None or key > marker):
                run_keys.append(key)
                run_names.append(name)
            continue
        if run_keys:
            yield from describe(dir_fd, run_keys, run_names)
            run_keys, run_names = [], []
        if not (prefix.startswith(key) or key.startswith(prefix)):
            continue
        if marker is not None and key < marker and not marker.startswith(key):
            continue
        try:
            subdir = open_dir(dir_fd, name)
        except ABSENT:  # removed, or swapped for a link, since listed
            continue
        try:
            yield from walk_sorted(subdir, key, prefix, marker, describe)
        finally:
            os.close(subdir)
    if run_keys:
        yield from describe(dir_fd, run_keys, run_names)


def level_sorted(dir_fd: int, relative: str) -> list[tuple[str, os.DirEntry[str]]]:
    """The entries of the one directory ``dir_fd`` that can be, or hold,
    objects -- files as ``relative + name``, directories as ``relative +
    name + "/"`` -- in S3's key order (as ``walk_sorted`` orders them).
    Links are left out: they are not objects, and are never descended."""
    named = []
    for entry in os.scandir(dir_fd):
        try:
            if entry.is_dir(follow_symlinks=False):
                named.append((relative + entry.name + "/", entry))
            elif not entry.is_symlink():
                named.append((relative + entry.name, entry))
        except OSError:  # removed while we listed
            continue
    named.sort(key=lambda pair: pair[0])
    return named


def holds_a_file(dir_fd: int) -> bool:
    """Whether ``walk_sorted`` would find a file anywhere below ``dir_fd``:
    a directory holding only links, empty directories or other non-files
    is no "directory" of objects. Stops at the first file found."""
    subdirs = []
    for entry in os.scandir(dir_fd):
        try:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            elif is_file(entry.stat(follow_symlinks=False)):
                return True
        except OSError:  # removed while we listed
            continue
    for name in subdirs:
        try:
            subdir = open_dir(dir_fd, name)
        except ABSENT:  # removed, or swapped for a link, since listed
            continue
        try:
            if holds_a_file(subdir):
                return True
        finally:
            os.close(subdir)
    return False


def remove_links_and_empty_dirs(dir_fd: int) -> None:
    """Empty the directory ``dir_fd`` of its subdirectories and links, depth
    first; raise OSError(ENOTEMPTY) at the first file or other entry.

    A link is no object, so it does not keep a bucket from being empty; it
    is removed itself, never followed.
    """
    for entry in list(os.scandir(dir_fd)):
        with contextlib.suppress(FileNotFoundError):
            if entry.is_dir(follow_symlinks=False):
                try:
                    subdir = open_dir(dir_fd, entry.name)
                except SymlinkInTree:  # swapped for a link since listed
                    os.unlink(entry.name, dir_fd=dir_fd)
                    continue
                try:
                    remove_links_and_empty_dirs(subdir)
                finally:
                    os.close(subdir)
                os.rmdir(entry.name, dir_fd=dir_fd)
            elif entry.is_symlink():
                os.unlink(entry.name, dir_fd=dir_fd)
            else:
                raise OSError(errno.ENOTEMPTY, "holds a file", entry.name)


def remove_tree(parent_fd: int, name: str) -> None:
    """Remove ``name`` in ``parent_fd`` and, if it is a directory, all that
    is in it; best effort, as state is swept again later. A link is removed
    itself, never followed. (``shutil.rmtree`` takes a ``dir_fd`` only from
    Python 3.11.)"""
    try:
        fd = open_dir(parent_fd, name)
    except (NotADirectoryError, SymlinkInTree):
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=parent_fd)
        return
    except OSError:
        return
    try:
        for entry in list(os.scandir(fd)):
            if entry.is_dir(follow_symlinks=False):
                remove_tree(fd, entry.name)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.name, dir_fd=fd)
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.rmdir(name, dir_fd=parent_fd)
