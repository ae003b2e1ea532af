"""Writing a download's ranges into its scratch file, fast whatever the page cache does.

On this kind of machine (a VM that hands idle memory back to its host) the
page cache is sometimes cheap to grow and sometimes ~5x dearer: buffered
writes of a parallel download ran at 1206 MiB/s in one regime and 297 MiB/s
in the other, 8 writers spinning on the inode lock (the project's
research note data-path.md, issue 13). Writes with ``O_DIRECT`` from reused aligned
buffers skip the page cache and were fast in both (1049 and 858 MiB/s).

So each range is read with ``ObjectStream.readinto`` into a page-aligned
buffer that its worker reuses, and written with ``os.pwrite`` through an
``O_DIRECT`` descriptor of the scratch file (a second open of the same file,
via /proc/self/fd, so the scratch file's own descriptor stays buffered for
everything else). O_DIRECT needs the file offset and the length to be
multiples of the block size: ranges start at multiples of it (part sizes
are), the object's last block is written padded, and :meth:`FileSink.finish`
cuts the file to the object's size.

Where O_DIRECT is refused (some FUSE or overlay filesystems; EINVAL on open
or on a write) or cannot apply (a part size that is not a multiple of the
block size), the same buffers are written buffered, in slices of at most
1 MiB: slices of 2 MiB and more were up to ~10x dearer in kernel time when
the page cache had to grow into reclaimed memory.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import mmap
import os
import threading
from collections.abc import Callable

from .drivers.records import ObjectStream

log = logging.getLogger("bucketbridge")

MiB = 1024 * 1024
BLOCK = 4096
"""The alignment O_DIRECT gets: every Linux filesystem's logical block size
divides it (512 or 4096), and it is the page size the buffers are aligned to."""
BUFFER_SIZE = 1 * MiB
"""One worker's buffer. Measured with the engine alone (512 MiB from the
MEMORY driver into ext4, 8 workers, medians of 3, a loaded machine): 1 MiB
ran at 530 MiB/s warm and 717 cold, 8 MiB at 339 and ~340. A smaller buffer
blocks its worker for less time per direct write, and costs fewer first
touches of memory the host may have reclaimed (~11 us a page)."""
BUFFERED_SLICE = 1 * MiB
_REFUSED = (errno.EINVAL, errno.EOPNOTSUPP)


class FileSink:
    """Where the ranges of one download go: ``fd``, the scratch file.

    Thread-safe: each :meth:`write_range` takes a buffer from a pool (one
    per worker at most, made on first use and reused by the next range).
    """

    def __init__(self, fd: int, *, direct: bool = True) -> None:
        self._fd = fd
        self._direct_fd = _open_direct(fd) if direct else -1
        # cleared (never the descriptor closed) when a write is refused: a
        # worker may be about to use the descriptor's number
        self._direct_ok = self._direct_fd >= 0
        self._free: list[mmap.mmap] = []
        self._all: list[mmap.mmap] = []
        self._lock = threading.Lock()

    @property
    def direct(self) -> bool:
        """Whether writes still go around the page cache."""
        return self._direct_ok

    def write_range(
        self,
        stream: ObjectStream,
        start: int,
        end: int,
        object_size: int,
        progress: Callable[[int], None],
    ) -> int:
        """Write what ``stream`` holds of bytes ``start``-``end`` at their
        place; returns where the bytes ended (``end`` unless the stream was short).
        ``progress`` hears of each slice once it is written."""
        buffer = self._take()
        try:
            view = memoryview(buffer)
            offset = start
            while offset < end:
                count = stream.readinto(view[: min(len(view), end - offset)])
                if not count:
                    break
                self._write(view, count, offset, at_end=offset + count == object_size)
                offset += count
                progress(count)
            return offset
        finally:
            self._give(buffer)

    def finish(self, size: int) -> None:
        """Cut away the padding of the last block: the file is ``size`` bytes."""
        os.ftruncate(self._fd, size)

    def close(self) -> None:
        self._direct_ok = False
        if self._direct_fd >= 0:
            os.close(self._direct_fd)
            self._direct_fd = -1
        with self._lock:
            for buffer in self._all:
                # a view still held (by the traceback of a failed range) keeps
                # its buffer until it is collected
                with contextlib.suppress(BufferError):
                    buffer.close()
            self._all.clear()
            self._free.clear()

    def __enter__(self) -> FileSink:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _take(self) -> mmap.mmap:
        with self._lock:
            if self._free:
                return self._free.pop()
        # anonymous memory is page-aligned, as O_DIRECT needs
        buffer = mmap.mmap(-1, BUFFER_SIZE)
        with self._lock:
            self._all.append(buffer)
        return buffer

    def _give(self, buffer: mmap.mmap) -> None:
        with self._lock:
            self._free.append(buffer)

    def _write(self, view: memoryview, count: int, offset: int, *, at_end: bool) -> None:
        if self._direct_ok and offset % BLOCK == 0:
            # A short count is only whole at the object's end, where the
            # padding lands past its size; elsewhere it would overwrite the
            # next range's first bytes, so that (broken) stream goes buffered.
            length = -(-count // BLOCK) * BLOCK if at_end else count
            if length % BLOCK == 0:
                try:
                    _pwrite_all(self._direct_fd, view[:length], offset, length)
                    return
                except OSError as error:
                    if error.errno not in _REFUSED:
                        raise
                    self._refused(error)
        _pwrite_all(self._fd, view[:count], offset, BUFFERED_SLICE)

    def _refused(self, error: OSError) -> None:
        if self._direct_ok:
            log.debug("O_DIRECT writes refused (%s); writing through the page cache", error)
            self._direct_ok = False


def _open_direct(fd: int) -> int:
    """A second, O_DIRECT descriptor of the file ``fd``; -1 where refused."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return -1
    try:
        return os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_CLOEXEC | flag)
    except OSError as error:  # EINVAL: the filesystem has no direct I/O; no /proc
        log.debug("no O_DIRECT descriptor for the download (%s)", error)
        return -1


def _pwrite_all(fd: int, view: memoryview, offset: int, slice_size: int) -> None:
    """Write all of ``view`` at ``offset``, ``slice_size`` bytes a call at most."""
    done = 0
    while done < len(view):
        written = os.pwrite(fd, view[done : done + slice_size], offset + done)
        if not written:
            raise OSError(errno.EIO, f"a write at byte {offset + done} wrote nothing")
        done += written
