"""The contract between the resource layer and a provider's driver.

A driver is a thin adapter: one SDK call (or a few) per primitive, every SDK
error mapped into :mod:`bucketbridge.errors` with the SDK error as
``__cause__``. Validation, paging, ``find``, transfer planning and the public
objects live once in the resource layer, so providers cannot drift apart.

Optional capabilities are separate protocols that the resource layer discovers
with ``isinstance`` and falls back from (the way rclone's backends offer
server-side copy): a driver implements one only where a benchmark shows it
beats the generic path.
"""

from __future__ import annotations

import bisect
import mimetypes
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Generic, Literal, Protocol, TypeVar, runtime_checkable

from ..errors import InvalidValueException

T = TypeVar("T")

ProgressCallback = Callable[[int], None]
"""Called with the number of bytes moved since the previous call."""

HttpMethod = Literal["GET", "PUT"]

MIN_PART_SIZE = 5 * 1024 * 1024
"""Smallest multipart part but the last, on every provider: S3's limit, kept
everywhere so that code tested on one provider works on all."""

MAX_PARTS = 10_000
"""Most parts one multipart upload may have: S3's limit, the lowest of the providers."""


def guess_content_type(key: str) -> str:
    """The content type an object gets when the uploader names none."""
    return mimetypes.guess_type(key, strict=False)[0] or "application/octet-stream"


def read_body(body: BinaryIO, size: int) -> bytes:
    """Exactly ``size`` bytes of ``body``, merging short reads; a stream that
    ends early is the caller's error, named as such."""
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = body.read(remaining)
        if not chunk:
            raise InvalidValueException(
                "body", f"{size - remaining} bytes", f"the stream ended before {size} bytes"
            )
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def page_of_names(names: Sequence[str], after: str | None, limit: int) -> tuple[list[str], bool]:
    """The first ``limit`` of the sorted ``names`` that come after ``after``,
    and whether more follow: how bucket listings page by name."""
    start = bisect.bisect_right(names, after) if after is not None else 0
    return list(names[start : start + limit]), start + limit < len(names)


@dataclass(frozen=True)
class BucketInfo:
    name: str


@dataclass(frozen=True)
class ObjectInfo:
    """What a driver knows of a stored object.

    ``last_modified`` is timezone-aware. ``etag`` may be None where a driver
    computes it on demand (see :class:`ComputesEtag`); ``content_type`` and
    ``metadata`` may be None where the listing call does not return them and a
    ``head_object`` would. ``version`` is an opaque token that changes whenever
    the object is replaced (S3's ETag, the local file's inode and mtime); a
    read given it as ``if_version`` fails rather than mix two versions.
    """

    key: str
    size: int
    last_modified: datetime
    etag: str | None = None
    content_type: str | None = None
    metadata: Mapping[str, str] | None = field(default=None)
    version: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``next_marker`` is None on the last page."""

    items: list[T]
    next_marker: str | None


@dataclass(frozen=True)
class PartInfo:
    """A part that was uploaded: its number and the driver's opaque token."""

    part_number: int
    token: str


class Driver(Protocol):
    """The primitives every provider implements."""

    provider_id: str

    def create_bucket(self, name: str, location: str | None) -> BucketInfo:
        """Create a bucket; DuplicateResourceException if the name is taken."""
        ...

    def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket; BucketNotEmptyException / NotFoundException."""
        ...

    def head_bucket(self, name: str) -> BucketInfo | None: ...

    def list_buckets(self, *, marker: str | None, limit: int) -> Page[BucketInfo]:
        """Buckets in name order after ``marker``, at most ``limit``."""
        ...

    def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object's info with content type and metadata; None if absent.
        NotFoundException if the bucket itself is missing."""
        ...

    def list_objects(
        self, bucket: str, *, prefix: str | None, marker: str | None, limit: int
    ) -> Page[ObjectInfo]:
        """Objects in key order (UTF-8 byte order, as S3), one server request
        per page; ``marker`` is whatever ``next_marker`` the previous page gave."""
        ...

    def put_object(
        self,
        bucket: str,
        key: str,
        body: BinaryIO,
        size: int,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        if_none_match: bool = False,
    ) -> ObjectInfo:
        """Store exactly ``size`` bytes read from ``body`` in one request,
        atomically: readers see the old object or the whole new one.
        ``if_none_match`` makes it create-only (PreconditionFailedException)."""
        ...

    def read_object(
        self,
        bucket: str,
        key: str,
        *,
        start: int = 0,
        end: int | None = None,
        chunk_size: int,
        if_version: str | None = None,
    ) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of the object. The request is made before
        this returns, so a missing object raises NotFoundException here, and
        one whose ``version`` is no longer ``if_version`` raises
        PreconditionFailedException."""
        ...

    def delete_object(self, bucket: str, key: str) -> None:
        """Delete the object; deleting an absent object is not an error."""
        ...

    def create_multipart(
        self, bucket: str, key: str, *, content_type: str, metadata: Mapping[str, str]
    ) -> str:
        """Start a multipart upload and return its id."""
        ...

    def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, data: bytes
    ) -> PartInfo: ...

    def complete_multipart(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: Sequence[PartInfo],
        *,
        if_none_match: bool = False,
    ) -> ObjectInfo:
        """Join ``parts`` (sorted by number) into the object, atomically."""
        ...

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        """Discard the upload and its parts; aborting twice is not an error."""
        ...

    def sign_url(
        self,
        bucket: str,
        key: str,
        *,
        method: HttpMethod,
        expires_in: int,
        response_headers: Mapping[str, str],
    ) -> str:
        """A URL that allows ``method`` on this one object until it expires.
        ``response_headers`` (GET only) override Content-Disposition/-Type."""
        ...


@runtime_checkable
class ComputesEtag(Protocol):
    """A driver whose etag is computed on first demand rather than on write
    (the local provider: hashing would halve its write throughput)."""

    def compute_etag(self, bucket: str, key: str, version: str | None) -> str:
        """The etag of ``version`` of the object (PreconditionFailedException
        if it has been replaced since)."""
        ...


@runtime_checkable
class DeletesInBatches(Protocol):
    """A driver that deletes many objects in one request (S3's DeleteObjects)."""

    max_batch: int

    def delete_objects(self, bucket: str, keys: Sequence[str]) -> None:
        """Delete up to ``max_batch`` objects; absent ones are not an error."""
        ...


@runtime_checkable
class TransfersFiles(Protocol):
    """A driver that moves whole files faster than the generic part engine
    (the local provider copies inside the kernel)."""

    def put_file(
        self,
        bucket: str,
        key: str,
        path: str,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        progress: ProgressCallback | None,
        if_none_match: bool = False,
        etag_part_size: int | None = None,
    ) -> ObjectInfo:
        """Store the file at ``path``. ``etag_part_size`` is the part size a
        multipart upload of it would use (None below the threshold), so the
        etag matches what a multipart upload gives: ``md5(part md5s)-N``."""
        ...

    def get_file(
        self,
        bucket: str,
        key: str,
        fd: int,
        *,
        progress: ProgressCallback | None,
        if_version: str | None = None,
    ) -> None:
        """Write the whole object into the open, empty file ``fd``
        (PreconditionFailedException if it is no longer ``if_version``)."""
        ...
