"""The contract between the core and a provider's driver (``docs/writing-a-driver.md``).

A driver is its provider's wire protocol and nothing else: one SDK call (or
a few) per primitive, taking and returning the records of :mod:`.records`,
with errors mapped through :mod:`.http_errors`. Validation, paging, ``find``,
transfer planning, retries of interrupted reads and the public objects live
once in the core, so providers cannot drift apart.

A driver module exports ``SETTINGS`` (the config keys it reads, see
:mod:`bucketbridge.config`) and ``create_driver(settings)``.

Optional capabilities are separate protocols (as rclone's optional
interfaces); :meth:`Features.of` resolves them once, when the provider is
made, and the core reads the record instead of probing on every call.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .records import (
    Body,
    BucketInfo,
    DirectoryPage,
    ObjectInfo,
    ObjectStream,
    Page,
    PartInfo,
    ProgressCallback,
    ReadOptions,
    UploadInfo,
    UrlRequest,
    WriteOptions,
)

if TYPE_CHECKING:
    from ..dataplane.client import HttpClient
    from ..dataplane.multiplex import Answer, Exchange


class MultipartSession(Protocol):
    """One multipart upload in progress (``Driver.start_multipart``)."""

    upload_id: str

    def upload_part(self, part_number: int, body: Body) -> PartInfo:
        """Store one part; sending a number again replaces that part."""
        ...

    def complete(self, parts: Sequence[PartInfo], options: WriteOptions) -> ObjectInfo:
        """Join ``parts`` (ascending, checked by the core) into the object,
        atomically. ``options`` are the ones the upload was started with:
        a provider that takes content type and metadata at the end (Azure's
        Put Block List, a Swift manifest) takes them here."""
        ...

    def abort(self) -> None:
        """Discard the upload and its parts; aborting twice is not an error.
        An upload already completed is left as it is, its object whole (a
        caller interrupted while ``complete`` answered cannot tell, and aborts)."""
        ...


class Driver(Protocol):
    """The primitives every provider implements."""

    provider_id: str

    def create_bucket(self, name: str, location: str | None) -> BucketInfo:
        """Create a bucket; DuplicateResourceException if the name is taken."""
        ...

    def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket; BucketNotEmptyException / NotFoundException.
        (The core checks emptiness first where ``Features`` says the server
        may not.)"""
        ...

    def head_bucket(self, name: str) -> BucketInfo | None: ...

    def list_buckets(self, *, marker: str | None, limit: int) -> Page[BucketInfo]:
        """Buckets in name order after ``marker``, at most ``limit``."""
        ...

    def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object's info with content type and metadata; None if there is
        no such object. The core tells a missing bucket from a missing object."""
        ...

    def list_objects(
        self, bucket: str, *, prefix: str | None, marker: str | None, limit: int
    ) -> Page[ObjectInfo]:
        """Objects in key order (UTF-8 byte order, as S3), one server request
        per page; ``marker`` is whatever ``next_marker`` the previous page gave."""
        ...

    def put_object(self, bucket: str, key: str, body: Body, options: WriteOptions) -> ObjectInfo:
        """Store ``body`` (seekable, ``body.size`` bytes) in one request,
        atomically: readers see the old object or the whole new one."""
        ...

    def read_object(self, bucket: str, key: str, options: ReadOptions) -> ObjectStream:
        """Open a read of ``options``' range. The request is made before this
        returns: a missing object raises NotFoundException here, one no
        longer at ``options.if_revision`` PreconditionFailedException, and a
        range starting at or past the end gives no chunks. A connection lost
        mid-body raises ProviderConnectionException from the iterator; the
        core resumes it."""
        ...

    def delete_object(self, bucket: str, key: str) -> None:
        """Delete the object; deleting an absent object is not an error."""
        ...

    def start_multipart(self, bucket: str, key: str, options: WriteOptions) -> MultipartSession:
        """Start a multipart upload. A provider that takes content type and
        metadata at the start (S3) takes them here; the same options come
        again with ``complete``."""
        ...

    def resume_multipart(self, bucket: str, key: str, upload_id: str) -> MultipartSession:
        """The session of an upload started earlier (to abort or finish it)."""
        ...

    def list_multipart(self, bucket: str) -> Iterator[UploadInfo]:
        """The multipart uploads still open in the bucket, in any order."""
        ...

    def sign_url(self, bucket: str, key: str, request: UrlRequest) -> str:
        """A URL that allows ``request.method`` on this one object until it
        expires (``expires_in`` already checked by the core)."""
        ...

    def close(self) -> None:
        """Release connections, threads and servers the driver holds."""
        ...


class SmallReads(Protocol):
    """Optional, a driver's ``small_reads`` attribute (None: not offered):
    the whole read of a small object a listing named, split so that the
    core can run many on one thread (:mod:`bucketbridge.dataplane.multiplex`).
    ``small_read`` builds the request; ``small_result`` reads its whole
    answer (status, headers, body) and gives the record of the revision it
    holds -- the body is then the object's bytes -- or None where the
    blocking ``read_object`` must decide (the object replaced or gone since
    the listing: the core reads it the blocking way, which maps a miss as
    it always does), or raises what ``read_object`` raises for that status.
    A failed connection or a 429/5xx never reaches ``small_result``: the
    core reads those the blocking way too (one retry policy)."""

    @property
    def client(self) -> HttpClient:
        """The lean-plane client whose pooled connections the requests use."""
        ...

    def small_read(self, bucket: str, key: str, listed: ObjectInfo) -> Exchange | None:
        """The GET of all of the revision ``listed`` names, or None for the
        blocking read (an object this cannot read whole so, an empty one)."""
        ...

    def small_result(
        self, bucket: str, key: str, listed: ObjectInfo, answer: Answer
    ) -> ObjectInfo | None: ...


class SmallWrites(Protocol):
    """Optional, a driver's ``small_writes`` attribute (None: not offered):
    the single PUT of a small object, split so that the core can run many
    on one thread (:mod:`bucketbridge.dataplane.multiplex`), as
    ``SmallReads`` splits the read. ``small_write`` builds the request;
    ``small_written`` reads its whole answer and gives the record
    ``put_object`` would make of it, or None where the blocking put must
    decide, or raises what ``put_object`` raises for that status (a 412 of
    a create-only write: the object was there).

    A failed connection or a 429/5xx never reaches ``small_written``: the
    core then puts the object with ``put_again``, the blocking put told
    that one copy was sent already and may have been stored (its answer
    lost): a create-only write that then meets an object must tell its own
    first copy from someone else's, as after any retry. Either way the
    object is stored whole or not at all."""

    @property
    def client(self) -> HttpClient:
        """The lean-plane client whose pooled connections the requests use."""
        ...

    def small_write(
        self, bucket: str, key: str, body: bytes, options: WriteOptions
    ) -> Exchange | None:
        """The PUT of ``body`` with ``options``, or None for the blocking put
        (options or a bucket the single lean PUT cannot serve)."""
        ...

    def small_written(
        self, bucket: str, key: str, body: bytes, options: WriteOptions, answer: Answer
    ) -> ObjectInfo | None: ...

    def put_again(self, bucket: str, key: str, body: Body, options: WriteOptions) -> ObjectInfo:
        """``put_object`` of a write whose multiplexed copy was sent and
        got no usable answer (its retry policy applies)."""
        ...


@runtime_checkable
class ComputesEtag(Protocol):
    """A driver whose etag is computed on first demand rather than on write
    (the local provider: hashing would halve its write throughput)."""

    def compute_etag(self, bucket: str, key: str, revision: str | None) -> str:
        """The etag of ``revision`` of the object (PreconditionFailedException
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
        options: WriteOptions,
        *,
        progress: ProgressCallback | None,
        etag_part_size: int | None,
    ) -> ObjectInfo:
        """Store the file at ``path``. ``etag_part_size`` is the part size a
        multipart upload of it would use (None below the threshold), so the
        etag matches what a multipart upload gives: ``md5(part md5s)-N``."""
        ...

    def get_file(
        self, bucket: str, key: str, fd: int, *, progress: ProgressCallback | None
    ) -> ObjectInfo:
        """Write the whole object into the open, empty file ``fd``, and
        return the info of the revision written."""
        ...


@runtime_checkable
class CopiesObjects(Protocol):
    """A driver that copies an object without its bytes leaving the provider
    (S3 CopyObject, Azure copy from URL, GCS rewrite, Swift COPY, a kernel
    copy). Without it the core streams the bytes through this process."""

    def copy_object(
        self,
        source_bucket: str,
        source: ObjectInfo,
        bucket: str,
        key: str,
        options: WriteOptions,
    ) -> ObjectInfo:
        """Store a copy of revision ``source.revision`` of ``source.key`` in
        ``source_bucket`` as the core just looked it up (its size, etag,
        content type, metadata: no need to look again) as ``key`` in
        ``bucket``, atomically, with ``options``' content type, metadata and
        create-only rule (the core fills them in from the source when the
        caller gave none). PreconditionFailedException if the source was
        replaced since; ``source.revision`` None: whatever is there (the
        driver looks it up if it needs to). A missing source is
        NotFoundException."""
        ...


@runtime_checkable
class KeepsContentTypeOnCopy(Protocol):
    """A driver whose server-side copy keeps the source's content type
    (Azure's Copy Blob). The core copies server-side only when the copy's
    type is the source's, and streams it otherwise: setting the type after
    the copy would show the source's type for a round trip."""

    copies_keep_content_type: bool


@runtime_checkable
class ListsDirectories(Protocol):
    """A driver whose server lists one "directory" level (S3's
    ``Delimiter=/``). Without it the core folds a flat listing of
    everything under the prefix, which costs a request per 1000 keys below."""

    def list_directory(
        self, bucket: str, *, prefix: str, marker: str | None, limit: int
    ) -> DirectoryPage:
        """Objects whose key is ``prefix`` + a name without ``/``, and the
        distinct ``prefix + name + "/"`` below which more keys exist, in key
        order, at most ``limit`` of both together. ``prefix`` is "" or ends
        in ``/``."""
        ...


@runtime_checkable
class ListsDirectoriesInexactly(Protocol):
    """A ``ListsDirectories`` driver that can say, per configuration, that its
    server's one-level listing is not exact (SeaweedFS lists a folder whose
    objects were all deleted): ``lists_directories_exactly`` False has the
    core fold the flat listing instead."""

    lists_directories_exactly: bool


@runtime_checkable
class RefusesNonEmptyBucketDelete(Protocol):
    """A driver whose ``delete_bucket`` always refuses a bucket that still
    holds objects. Without it the core lists one key first (SeaweedFS, for
    one, deletes non-empty buckets unless told not to)."""

    refuses_non_empty_bucket_delete: bool


@runtime_checkable
class PagesWidely(Protocol):
    """A driver whose server lists more than S3's 1000 names a request
    (Azure: 5000). Iterating a bucket or the buckets asks for pages this
    large, so a listing costs fewer round trips."""

    list_page_size: int


@runtime_checkable
class ListsAhead(Protocol):
    """A driver that walks a whole listing itself, requesting each page while
    the caller reads the one before (:func:`.paging.read_ahead`): iteration
    then costs the server's time plus the last page's parse, not the sum of
    both. Without it the core asks ``list_objects`` for one page after
    another."""

    def list_ahead(
        self, bucket: str, *, prefix: str | None, limit: int
    ) -> Generator[list[ObjectInfo], None, None]:
        """Every object whose key starts with ``prefix`` (None: all), in key
        order, as ``list_objects`` pages of at most ``limit`` would give them,
        a page's records at a time (a page may be empty). Stopping early
        leaves no request, thread or connection behind."""
        ...


DEFAULT_LIST_PAGE_SIZE = 1000
"""The page iteration asks for where the driver says nothing (S3's maximum)."""


@dataclass(frozen=True)
class Features:
    """A driver's optional capabilities, resolved once (as rclone's
    ``Features.Fill``)."""

    computes_etag: ComputesEtag | None
    deletes_in_batches: DeletesInBatches | None
    transfers_files: TransfersFiles | None
    refuses_non_empty_bucket_delete: bool
    copies_objects: CopiesObjects | None = None
    copies_keep_content_type: bool = False
    lists_directories: ListsDirectories | None = None
    list_page_size: int = DEFAULT_LIST_PAGE_SIZE
    lists_ahead: ListsAhead | None = None
    small_reads: SmallReads | None = None
    small_writes: SmallWrites | None = None

    @classmethod
    def of(cls, driver: Driver) -> Features:
        return cls(
            computes_etag=driver if isinstance(driver, ComputesEtag) else None,
            deletes_in_batches=driver if isinstance(driver, DeletesInBatches) else None,
            transfers_files=driver if isinstance(driver, TransfersFiles) else None,
            copies_objects=driver if isinstance(driver, CopiesObjects) else None,
            copies_keep_content_type=bool(getattr(driver, "copies_keep_content_type", False)),
            lists_directories=(
                driver
                if isinstance(driver, ListsDirectories)
                and not (
                    isinstance(driver, ListsDirectoriesInexactly)
                    and not driver.lists_directories_exactly
                )
                else None
            ),
            refuses_non_empty_bucket_delete=bool(
                getattr(driver, "refuses_non_empty_bucket_delete", False)
            ),
            list_page_size=(
                driver.list_page_size if isinstance(driver, PagesWidely) else DEFAULT_LIST_PAGE_SIZE
            ),
            lists_ahead=driver if isinstance(driver, ListsAhead) else None,
            small_reads=getattr(driver, "small_reads", None),
            small_writes=getattr(driver, "small_writes", None),
        )
