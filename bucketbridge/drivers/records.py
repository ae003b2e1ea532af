"""The records that travel between the core and a driver.

Drivers return :class:`BucketInfo`, :class:`ObjectInfo`, :class:`Page` and
:class:`PartInfo`; the core hands them :class:`WriteOptions`,
:class:`ReadOptions`, :class:`UrlRequest` and a :class:`Body`. Each record
checks its own invariants when it is made, so a driver that gets one wrong
fails in its own tests, not in a user's program.
"""

from __future__ import annotations

import functools
import io
import mimetypes
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Generic, Literal, TypeVar

from ..errors import InvalidValueException

T = TypeVar("T")

ProgressCallback = Callable[[int], None]
"""Called with the number of bytes moved since the previous call."""

HttpMethod = Literal["GET", "PUT"]


def guess_content_type(key: str) -> str:
    """The content type an object gets when the uploader names none:
    ``mimetypes``' guess, remembered by the suffixes of the key's last
    segment, the only part it looks at in a name with no URL scheme
    (guessing was a third of a 10,000-key LOCAL listing's CPU, and ~4 us of
    each small upload's)."""
    if ":" in key:  # "data:..." and "scheme://..." are parsed as URLs
        return _guessed(key)
    name = key.rpartition("/")[2].lstrip(".")
    dot = name.find(".")
    return _guessed_for_suffixes(name[dot:] if dot >= 0 else "")


@functools.lru_cache(maxsize=1024)
def _guessed_for_suffixes(suffixes: str) -> str:
    return _guessed("x" + suffixes)


def _guessed(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


@dataclass(frozen=True)
class BucketInfo:
    name: str


# init=False: the generated __init__ of a frozen dataclass sets each field
# through object.__setattr__ and then calls __post_init__; a listing makes
# one record per key (10,000 a page). The __init__ below makes the same
# checks and writes the instance's __dict__ directly, in about a third of
# the time (timeit, side by side). Fields, equality, hash, repr,
# immutability and dataclasses.replace stay the dataclass's.
@dataclass(frozen=True, init=False)
class ObjectInfo:
    """What a driver knows of a stored object.

    ``last_modified`` is timezone-aware and ``etag`` carries no quotes (both
    checked here). ``etag`` may be None where a driver computes it on demand
    (``Features.computes_etag``); ``content_type`` and ``metadata`` may be
    None where a listing does not return them and a ``head_object`` would.
    ``revision`` is an opaque token that changes whenever the object is
    replaced (S3's quoted ETag, the local file's inode stamp); a read given it
    as ``if_revision`` fails rather than mix bytes of two revisions.
    """

    key: str
    size: int
    last_modified: datetime
    etag: str | None = None
    content_type: str | None = None
    metadata: Mapping[str, str] | None = field(default=None)
    revision: str | None = None

    def __init__(
        self,
        key: str,
        size: int,
        last_modified: datetime,
        etag: str | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        revision: str | None = None,
    ) -> None:
        if last_modified.tzinfo is None:
            raise ValueError(f"ObjectInfo({key!r}): last_modified must be timezone-aware")
        if etag is not None and etag.startswith('"'):
            raise ValueError(f"ObjectInfo({key!r}): etag {etag!r} must be unquoted")
        if size < 0:
            raise ValueError(f"ObjectInfo({key!r}): size {size} is negative")
        fields = self.__dict__
        fields["key"] = key
        fields["size"] = size
        fields["last_modified"] = last_modified
        fields["etag"] = etag
        fields["content_type"] = content_type
        fields["metadata"] = metadata
        fields["revision"] = revision


@dataclass(frozen=True)
class UploadInfo:
    """A multipart upload still open in a bucket."""

    key: str
    upload_id: str
    initiated: datetime | None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``next_marker`` is None on the last page."""

    items: list[T]
    next_marker: str | None


@dataclass(frozen=True)
class DirectoryPage:
    """One page of a delimited listing: the objects directly under a prefix,
    and the names of the "directories" below it (each ending in ``/``)."""

    objects: list[ObjectInfo]
    directories: list[str]
    next_marker: str | None


@dataclass(frozen=True)
class PartInfo:
    """A part that was uploaded: its number, its size and the driver's
    opaque token (S3's part ETag, the local part file's MD5)."""

    part_number: int
    token: str
    size: int


@dataclass(frozen=True)
class WriteOptions:
    """What a write sets. ``create_only`` refuses to replace an existing
    object (PreconditionFailedException)."""

    content_type: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    create_only: bool = False


@dataclass(frozen=True)
class ReadOptions:
    """What a read asks: bytes ``[start, end)`` (``end`` None: to the end),
    in chunks of about ``chunk_size``, of revision ``if_revision`` only."""

    start: int = 0
    end: int | None = None
    chunk_size: int = 1024 * 1024
    if_revision: str | None = None
    listed: ObjectInfo | None = field(default=None, compare=False, repr=False)
    """What a listing said of the object moments ago (``sync``/``copy``): a
    driver whose read must look the object up first (GCS's media GET says
    too little) may try that revision straight away, and looks it up as
    usual if it is no longer the live one. Others ignore it."""

    def __post_init__(self) -> None:
        if self.start < 0 or (self.end is not None and self.end < self.start):
            raise ValueError(f"ReadOptions: bad range [{self.start}, {self.end})")
        if self.chunk_size < 1:
            raise ValueError(f"ReadOptions: chunk_size {self.chunk_size} must be >= 1")


@dataclass(frozen=True)
class UrlRequest:
    """A signed URL to make: one method on one object until it expires.
    The response overrides apply to GET only (the core never sets them on PUT)."""

    method: HttpMethod
    expires_in: int
    response_content_disposition: str | None = None
    response_content_type: str | None = None


class ObjectStream:
    """An open read: the chunks of the requested range, and ``info``, the
    record of the whole object whose bytes they are (from the same response,
    so it describes exactly the revision read).

    Read it either by iterating its chunks or with :meth:`readinto`, not
    both. A driver on the lean data plane passes ``readinto`` so bytes land
    in the caller's buffer without a copy; otherwise it is served from the
    chunks."""

    def __init__(
        self,
        info: ObjectInfo,
        chunks: Iterator[bytes],
        close: Callable[[], None] | None = None,
        *,
        readinto: Callable[[memoryview], int] | None = None,
    ) -> None:
        self.info = info
        self._chunks = chunks
        self._close = close
        self._readinto = readinto
        self._left = memoryview(b"")

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def readinto(self, buffer: memoryview | bytearray) -> int:
        """Fill ``buffer`` with the next bytes: fewer only at the end of the
        range, 0 once it is over."""
        view = memoryview(buffer).cast("B")
        if self._readinto is not None:
            return self._readinto(view)
        filled = 0
        while filled < len(view):
            if not self._left:
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._left = memoryview(chunk)
            count = min(len(self._left), len(view) - filled)
            view[filled : filled + count] = self._left[:count]
            self._left = self._left[count:]
            filled += count
        return filled

    def close(self) -> None:
        if self._close is not None:
            self._close()


class Body(io.RawIOBase):
    """A seekable body of known ``size``: what the core always hands a driver.

    Either bytes already in memory (:meth:`of_bytes`) or a window onto a file
    read only when the driver reads it (:meth:`of_file`), so a part of a
    1 GiB upload costs no memory until it is sent, and an SDK may rewind it
    to retry or to sign it.
    """

    def __init__(
        self,
        size: int,
        read_at: Callable[[int, int], bytes],
        *,
        window: tuple[int, int] | None = None,
        reached: Callable[[int], None] | None = None,
        frame: tuple[bytes, Body, bytes] | None = None,
        memory: memoryview | None = None,
    ) -> None:
        super().__init__()
        self.size = size
        self._read_at = read_at
        self._position = 0
        # (fd, offset) when the bytes are a window of an open file: the lean
        # data plane sends them with os.sendfile instead of reading them
        self.window = window
        self._reached = reached
        # (head, inner, tail) of a framed body (:meth:`framed`): the lean data
        # plane sends the head, then the inner body (its window with
        # os.sendfile), then the tail
        self.frame = frame
        # every byte, when the body is bytes in memory (:meth:`of_bytes`): the
        # lean data plane sends a small one from it as it is, with no copy
        # read out first (it never changes: a retry sends the same bytes)
        self.memory = memory

    def as_bytes(self) -> bytes | None:
        """Every byte of a body in memory (:meth:`of_bytes`) as ``bytes`` (a
        checksum's C entry point takes nothing else): the bytes given, where
        they were bytes, whole; else one copy. None for any other body."""
        memory = self.memory
        if memory is None:
            return None
        given = memory.obj
        if type(given) is bytes and len(given) == memory.nbytes:  # not a slice of it
            return given
        return bytes(memory)

    def sent(self, end: int) -> None:
        """Note that the first ``end`` bytes left without being read
        (``os.sendfile``), for the progress a reading body would report."""
        if self._reached is not None:
            self._reached(end)

    @classmethod
    def of_bytes(cls, data: bytes | bytearray | memoryview) -> Body:
        view = memoryview(data).cast("B")
        return cls(
            view.nbytes,
            lambda offset, length: bytes(view[offset : offset + length]),
            memory=view,
        )

    @classmethod
    def of_file(cls, fd: int, offset: int, size: int) -> Body:
        """``size`` bytes of the open file ``fd`` from ``offset``, read with
        ``os.pread`` (so many windows share one descriptor)."""

        def read_at(start: int, length: int) -> bytes:
            chunks: list[bytes] = []
            done = 0
            while done < length:  # one pread may return less, and at most ~2 GiB
                chunk = os.pread(fd, min(length - done, 1 << 30), offset + start + done)
                if not chunk:
                    raise InvalidValueException(
                        "file", f"offset {offset + start + done}", "it shrank while it was read"
                    )
                chunks.append(chunk)
                done += len(chunk)
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)

        return cls(size, read_at, window=(fd, offset))

    @classmethod
    def framed(cls, head: bytes, inner: Body, tail: bytes) -> Body:
        """``inner`` between two short byte strings (a ``multipart/related``
        envelope around an upload's bytes), so a file window inside an
        envelope still leaves without being copied through Python. Read, it
        is the three concatenated (an SDK, TLS)."""
        inner_start, inner_end = len(head), len(head) + inner.size

        def read_at(offset: int, length: int) -> bytes:
            end = offset + length
            pieces = [head[offset:end]] if offset < inner_start else []
            start_in, end_in = max(offset, inner_start), min(end, inner_end)
            if end_in > start_in:
                inner.seek(start_in - inner_start)
                pieces.append(inner.read(end_in - start_in))
            if end > inner_end:
                pieces.append(tail[max(offset, inner_end) - inner_end : end - inner_end])
            return b"".join(pieces)

        return cls(inner_end + len(tail), read_at, frame=(head, inner, tail))

    @classmethod
    def of_stream(cls, stream: IO[bytes], size: int) -> Body:
        """``size`` bytes of a forward-only stream (a request body the local
        URL server receives). It can be read once, front to back: only the
        embedded drivers, which do exactly that, are handed one."""
        consumed = 0

        def read_at(offset: int, length: int) -> bytes:
            nonlocal consumed
            if offset != consumed:
                raise OSError("a streamed body cannot be re-read")
            data = stream.read(length) or b""
            consumed += len(data)
            return data

        return cls(size, read_at)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def __len__(self) -> int:
        return self.size

    def read(self, size: int | None = -1) -> bytes:
        remaining = self.size - self._position
        if remaining <= 0:
            return b""
        length = remaining if size is None or size < 0 else min(size, remaining)
        data = self._read_at(self._position, length)
        self._position += len(data)
        return data

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)
