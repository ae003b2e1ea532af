"""Bucket, BucketObject, MultipartUpload and UploadPart: written once, for every provider.

A resource holds a reference to its provider and the immutable record its
driver returned; everything it does goes through the driver protocol. The
record is replaced, never mutated, so resources are safe to share between
threads.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, BinaryIO

from .checks import (
    boolean,
    check_metadata,
    instances_of,
    int_between,
    local_path,
    non_negative_int,
    optional_header_value,
    positive_int,
    writable_binary_stream,
)
from .drivers.base import Driver, Features, MultipartSession
from .drivers.parts import check_part_number, ordered_parts
from .drivers.records import (
    Body,
    ObjectInfo,
    PartInfo,
    ProgressCallback,
    ReadOptions,
    UrlRequest,
    WriteOptions,
    guess_content_type,
)
from .drivers.shielded import completed, start_upload
from .errors import (
    BucketBridgeException,
    BucketNotEmptyException,
    InvalidValueException,
    ProviderInternalException,
    wrap_foreign_errors,
)
from .lookup import head_existing
from .names import validate_object_key
from .reads import open_read

# The transfer and copy engines are imported by the methods that run them:
# a listing, a stat or a read (``bucketbridge ls``/``stat``/``cat``) does
# not pay for them at start-up.
if TYPE_CHECKING:
    from .provider import CloudProvider
    from .services import BucketObjectService
    from .transfer import TransferConfig, TransferPlan, UploadTarget

MAX_URL_EXPIRY = 7 * 24 * 3600
"""Longest signed-URL lifetime, on every provider: SigV4's limit."""

UploadSource = bytes | bytearray | memoryview | str | BinaryIO

# One lock for every BucketObject's compare-and-set of a computed etag, not
# one per object: a listing makes a BucketObject per key, and the lock is
# held only for that rare store.
_ETAG_LOCK = threading.Lock()


def format_timestamp(info: ObjectInfo) -> str:
    """UTC ISO 8601 with milliseconds, the one format every provider returns."""
    moment = info.last_modified.astimezone(timezone.utc)
    if moment.year >= 1000:
        # the same text as below, a third of its time (``ls -l`` and
        # ``ls --json`` format one a key): isoformat cuts to milliseconds as
        # the division does, and in UTC always ends in +00:00
        return moment.isoformat(timespec="milliseconds")[:-6] + "Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _Resource:
    """id == name; equality and repr as in CloudBridge."""

    _kind = "Resource"

    def __init__(self, provider: CloudProvider) -> None:
        self._provider = provider

    @property
    def id(self) -> str:
        return self._identity()

    @property
    def name(self) -> str:
        return self._identity()

    def _identity(self) -> str:
        raise NotImplementedError

    def _scope(self) -> tuple[object, ...]:
        return (self._provider.PROVIDER_ID,)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, _Resource)
            and other._provider is self._provider
            and other._scope() == self._scope()
            and other.id == self.id
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._scope(), self.id))

    def __repr__(self) -> str:
        return f"<CB-{self._kind}: {self.id}>"

    def to_json(self) -> str:
        return json.dumps({"id": self.id, "name": self.name})


class Bucket(_Resource):
    _kind = "Bucket"

    def __init__(self, provider: CloudProvider, name: str) -> None:
        super().__init__(provider)
        self._name = name
        from .services import BucketObjectService  # services import this module

        self._objects = BucketObjectService(provider, self)

    def _identity(self) -> str:
        return self._name

    @property
    def objects(self) -> BucketObjectService:
        return self._objects

    @wrap_foreign_errors
    def delete(self, delete_contents: bool = False) -> None:
        """Delete the bucket. A bucket that still holds objects raises
        BucketNotEmptyException unless ``delete_contents`` is True."""
        delete_bucket(self._provider.driver, self._provider.features, self._name, delete_contents)


class BucketObject(_Resource):
    """An object in a bucket, or (after ``objects.create``) the name of one
    that is stored only once content is uploaded."""

    _kind = "BucketObject"

    def __init__(
        self, provider: CloudProvider, bucket: Bucket, key: str, info: ObjectInfo | None
    ) -> None:
        # _Resource.__init__'s one assignment, inline: a listing makes a
        # BucketObject per key
        self._provider = provider
        self._bucket = bucket
        self._key = key
        self._info = info

    def _identity(self) -> str:
        return self._key

    def _scope(self) -> tuple[object, ...]:
        return (self._provider.PROVIDER_ID, self._bucket.name)

    @property
    def bucket(self) -> Bucket:
        return self._bucket

    @property
    def size(self) -> int:
        return self._info.size if self._info else 0

    @property
    def last_modified(self) -> str | None:
        """``2026-11-24T22:41:59.123Z`` (UTC); None until content is uploaded."""
        return format_timestamp(self._info) if self._info else None

    @property
    def etag(self) -> str | None:
        """The provider's entity tag (the content's MD5 for single-part uploads
        on S3 and the local provider); None until content is uploaded.

        The local provider computes the etag of a file stored by
        ``upload_from_file`` on first demand, from the revision this handle
        describes: if that revision was replaced before, this raises
        PreconditionFailedException (hashing at every upload or first read
        instead would double their disk reads)."""
        info = self._info
        if info is None:
            return None
        computes_etag = self._provider.features.computes_etag
        if info.etag is None and computes_etag is not None:
            etag: str = self._call(
                computes_etag.compute_etag, self._bucket.name, self._key, info.revision
            )
            with _ETAG_LOCK:  # keep a newer record another thread stored meanwhile
                if self._info is info:
                    self._info = dataclasses.replace(info, etag=etag)
            return etag
        return info.etag

    @property
    def content_type(self) -> str | None:
        return self._detail().content_type if self._info else None

    @property
    def metadata(self) -> dict[str, str]:
        """User metadata set on upload (a copy; change it by uploading again)."""
        if self._info is None:
            return {}
        return dict(self._detail().metadata or {})

    @property
    def _driver(self) -> Driver:
        return self._provider.driver

    @staticmethod
    @wrap_foreign_errors
    def _call(func: Any, *args: Any) -> Any:
        return func(*args)

    def _detail(self) -> ObjectInfo:
        """The info with content type and metadata, which listings may lack."""
        info = self._info
        assert info is not None
        if info.content_type is None or info.metadata is None:
            self.refresh()
            assert self._info is not None
            return self._info
        return info

    def _plan(self, config: TransferConfig | None) -> TransferPlan:
        return self._provider.transfer_plan(config)

    def _write_options(
        self, content_type: str | None, metadata: Mapping[str, str] | None, overwrite: bool
    ) -> WriteOptions:
        return WriteOptions(
            content_type=optional_header_value("content_type", content_type)
            or guess_content_type(self._key),
            metadata=check_metadata(metadata),
            create_only=not boolean("overwrite", overwrite),
        )

    def _target(
        self, content_type: str | None, metadata: Mapping[str, str] | None, overwrite: bool
    ) -> UploadTarget:
        from .transfer import UploadTarget

        return UploadTarget(
            self._driver,
            self._provider.features,
            self._bucket.name,
            self._key,
            self._write_options(content_type, metadata, overwrite),
        )

    @wrap_foreign_errors
    def refresh(self) -> None:
        """Fetch the object's current size, time, etag, type and metadata."""
        self._info = head_existing(self._driver, self._bucket.name, self._key)

    @wrap_foreign_errors
    def upload(
        self,
        data: UploadSource,
        config: TransferConfig | None = None,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        overwrite: bool = True,
        progress: ProgressCallback | None = None,
    ) -> BucketObject:
        """Store ``data`` (bytes, str as UTF-8, or a binary stream) as the object.

        Streams are read from their current position; a stream that cannot
        seek is read part by part, so its size need not be known. With
        ``overwrite=False`` an existing object raises PreconditionFailedException.
        """
        from .transfer import Progress, upload_stream

        stream, size = _as_stream(data)
        plan = self._plan(config)
        self._info = upload_stream(
            self._target(content_type, metadata, overwrite), stream, size, plan, Progress(progress)
        )
        return self

    @wrap_foreign_errors
    def upload_from_file(
        self,
        path: str | os.PathLike[str],
        config: TransferConfig | None = None,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        overwrite: bool = True,
        progress: ProgressCallback | None = None,
    ) -> BucketObject:
        """Upload a local file; large files go up in parallel parts."""
        from .transfer import Progress, upload_file

        path = local_path("path", path)
        if not os.path.isfile(path):
            raise InvalidValueException("path", path, "not a readable file")
        plan = self._plan(config)
        self._info = upload_file(
            self._target(content_type, metadata, overwrite), path, plan, Progress(progress)
        )
        return self

    def _open(self, options: ReadOptions) -> Iterator[bytes]:
        """Open a read; from then on the handle describes the revision read,
        so ``size`` and ``etag`` match the bytes that come back."""
        stream = self._call(
            open_read,
            self._driver,
            self._bucket.name,
            self._key,
            options,
            self._provider.settings["max_attempts"],
        )
        self._info = stream.info
        return _wrap_iterator(stream)

    def iter_content(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """Stream the object in chunks of about ``chunk_size`` bytes (config
        ``iter_chunk_size``, default 1 MiB). The request is made before this
        returns, so a missing object raises here, and the handle then
        describes the revision being read. A dropped connection is resumed
        where it broke, from the same revision."""
        size = (
            positive_int("chunk_size", chunk_size)
            if chunk_size is not None
            else int(self._provider.settings["iter_chunk_size"])
        )
        return self._open(ReadOptions(chunk_size=size))

    @wrap_foreign_errors
    def save_content(self, target_stream: BinaryIO, chunk_size: int | None = None) -> None:
        """Write the whole object into an open binary stream."""
        target_stream = writable_binary_stream("target_stream", target_stream)
        for chunk in self.iter_content(chunk_size):
            target_stream.write(chunk)

    @wrap_foreign_errors
    def download_range(self, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset`` (fewer at the end of the object)."""
        offset = non_negative_int("offset", offset)
        length = non_negative_int("length", length)
        if length == 0:
            return b""
        return b"".join(self._open(ReadOptions(start=offset, end=offset + length)))

    @wrap_foreign_errors
    def download_to_file(
        self,
        path: str | os.PathLike[str],
        config: TransferConfig | None = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Download to ``path`` atomically: it only ever holds a whole object,
        and an existing file survives a failed download untouched."""
        from .transfer import DownloadSource, Progress, download_file

        path = local_path("path", path)
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise InvalidValueException("path", path, f"directory {directory} does not exist")
        if os.path.isdir(path):
            raise InvalidValueException("path", path, "is a directory")
        plan = self._plan(config)
        source = DownloadSource(
            self._driver,
            self._provider.features,
            self._bucket.name,
            self._key,
            self._info.size if self._info is not None else None,
        )
        self._info = download_file(source, path, plan, Progress(progress))

    @wrap_foreign_errors
    def copy_to(
        self,
        bucket: Bucket,
        name: str | None = None,
        *,
        overwrite: bool = True,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        config: TransferConfig | None = None,
        progress: ProgressCallback | None = None,
    ) -> BucketObject:
        """Copy this object to ``name`` (default: the same name) in
        ``bucket``, which may belong to another provider, and return the copy.

        On the same provider the copy is made inside it where the provider
        can (no bytes through this process); otherwise the bytes stream
        through here in parts, within ``part_size * max_concurrency`` of
        memory and no temporary file. The copy has the source's content type
        and metadata unless ``content_type`` / ``metadata`` are given. What
        is copied is the object as it is when the copy starts: replaced
        meanwhile, the copy fails (PreconditionFailedException) rather than
        mix two versions. With ``overwrite=False`` an existing destination
        raises PreconditionFailedException."""
        from .copying import CopySource, copy_object
        from .transfer import Progress

        if not isinstance(bucket, Bucket):
            raise InvalidValueException("bucket", bucket, "must be a Bucket")
        key = self._key if name is None else validate_object_key(name)
        destination = BucketObject(bucket._provider, bucket, key, None)
        target = destination._target(content_type, metadata, overwrite)
        source = CopySource(
            self._provider,
            self._driver,
            self._bucket.name,
            self._key,
            self._provider.settings["max_attempts"],
        )
        destination._info = copy_object(
            source,
            target,
            bucket._provider,
            destination._plan(config),
            Progress(progress),
            content_type=target.options.content_type if content_type is not None else None,
            metadata=target.options.metadata if metadata is not None else None,
        )
        return destination

    @wrap_foreign_errors
    def generate_url(
        self,
        expires_in: int,
        writable: bool = False,
        content_disposition: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """A URL that lets anyone GET (or, if ``writable``, only PUT) this
        object for ``expires_in`` seconds. ``content_disposition`` and
        ``content_type`` set those headers on the GET response; a writable
        URL never carries them.

        On Azure the PUT must send the header ``x-ms-blob-type: BlockBlob``
        (Azure answers 400 without it); every other provider ignores it, so
        send it always: ``requests.put(url, data=..., headers={"x-ms-blob-type":
        "BlockBlob"})``."""
        expires_in = int_between("expires_in", expires_in, 1, MAX_URL_EXPIRY, " seconds")
        writable = boolean("writable", writable)
        content_disposition = optional_header_value("content_disposition", content_disposition)
        content_type = optional_header_value("content_type", content_type)
        if writable:
            request = UrlRequest("PUT", expires_in)
        else:
            request = UrlRequest(
                "GET",
                expires_in,
                response_content_disposition=content_disposition or None,
                response_content_type=content_type or None,
            )
        return self._driver.sign_url(self._bucket.name, self._key, request)

    @wrap_foreign_errors
    def delete(self) -> None:
        self._driver.delete_object(self._bucket.name, self._key)
        self._info = None

    @wrap_foreign_errors
    def create_multipart_upload(
        self, *, content_type: str | None = None, metadata: Mapping[str, str] | None = None
    ) -> MultipartUpload:
        """Start an explicit multipart upload; parts may be sent in any order."""
        options = self._write_options(content_type, metadata, overwrite=True)
        # started aside: an interrupt while the server answers the start
        # leaves no upload the caller never received (.drivers.shielded)
        starting = start_upload(self._driver, self._bucket.name, self._key, options)
        try:
            return MultipartUpload(self, starting.result(), options)
        except BaseException:
            starting.undo()
            raise

    def _set_info(self, info: ObjectInfo) -> None:
        self._info = info


class UploadPart:
    """A part that was uploaded; pass these to ``MultipartUpload.complete``.
    ``etag`` is the provider's opaque token for the part (CloudBridge's
    ``UploadPart(part_number, etag)``)."""

    def __init__(self, part_number: int, etag: str, size: int = 0) -> None:
        self.info = PartInfo(part_number, etag, size)

    @property
    def part_number(self) -> int:
        return self.info.part_number

    @property
    def etag(self) -> str:
        return self.info.token

    @property
    def size(self) -> int:
        return self.info.size

    def __repr__(self) -> str:
        return f"<CB-UploadPart: {self.part_number}>"


class MultipartUpload:
    """CloudBridge's explicit multipart API over the driver's session. An
    upload listed by ``bucket.objects.incomplete_uploads()`` can be aborted;
    only the one that started it knows its content type and metadata, so
    only that one can be completed."""

    def __init__(
        self,
        obj: BucketObject,
        session: MultipartSession,
        options: WriteOptions | None,
        initiated: datetime | None = None,
    ) -> None:
        self._object = obj
        self._session = session
        self._options = options
        self._initiated = initiated

    @property
    def id(self) -> str:
        return self._session.upload_id

    @property
    def name(self) -> str:
        return self._object.name

    object_name = name

    @property
    def bucket(self) -> Bucket:
        return self._object.bucket

    @property
    def initiated(self) -> datetime | None:
        """When the upload was started, where the provider says."""
        return self._initiated

    def __repr__(self) -> str:
        return f"<CB-MultipartUpload: {self.name} {self.id}>"

    @wrap_foreign_errors
    def upload_part(
        self, part_number: int, data: bytes | bytearray | memoryview | BinaryIO
    ) -> UploadPart:
        check_part_number(part_number)
        if isinstance(data, (bytes, bytearray, memoryview)):
            body = Body.of_bytes(data)
        elif hasattr(data, "read") and not isinstance(data, io.TextIOBase):
            body = Body.of_bytes(data.read())
        else:
            raise InvalidValueException(
                "data", type(data).__name__, "expected bytes or a binary stream"
            )
        part = self._session.upload_part(part_number, body)
        return UploadPart(part.part_number, part.token, part.size)

    @wrap_foreign_errors
    def complete(self, parts: list[UploadPart]) -> BucketObject:
        """Join ``parts`` in ascending part number, whatever order they came in."""
        if self._options is None:
            raise InvalidValueException(
                "upload", self.id, "a listed upload can only be aborted, not completed"
            )
        parts = instances_of("parts", parts, UploadPart)
        ordered = ordered_parts([part.info for part in parts])
        session, options = self._session, self._options
        # an abort() after an interrupt here must not race the server's completion
        info = completed(lambda: session.complete(ordered, options), f"upload {self.id!r}")
        self._object._set_info(info)
        return self._object

    @wrap_foreign_errors
    def abort(self) -> None:
        """Discard the upload and its parts; calling it again is harmless."""
        self._session.abort()


def delete_bucket(driver: Driver, features: Features, name: str, delete_contents: bool) -> None:
    """Delete a bucket; with ``delete_contents`` its objects (and open
    multipart uploads) go first. Where the server might delete a non-empty
    bucket, one key is listed first; an object written between that look and
    the delete can still be lost there, a window no client can close."""
    if boolean("delete_contents", delete_contents):
        _delete_all_objects(driver, features, name)
        for upload in driver.list_multipart(name):
            driver.resume_multipart(name, upload.key, upload.upload_id).abort()
    elif not features.refuses_non_empty_bucket_delete and _holds_an_object(driver, name):
        raise BucketNotEmptyException(_not_empty(name))
    try:
        driver.delete_bucket(name)
    except BucketNotEmptyException as error:
        raise BucketNotEmptyException(_not_empty(name)) from error


def _holds_an_object(driver: Driver, bucket: str) -> bool:
    return bool(driver.list_objects(bucket, prefix=None, marker=None, limit=1).items)


def _not_empty(name: str) -> str:
    return f"bucket {name!r} is not empty; delete its objects first or pass delete_contents=True"


DELETE_PAGE_SIZE = 1000


def _delete_all_objects(driver: Driver, features: Features, bucket: str) -> None:
    """Empty a bucket: a page of keys at a time, in one request per page
    where the driver can, else one request per object."""
    batch = features.deletes_in_batches
    limit = batch.max_batch if batch is not None else DELETE_PAGE_SIZE
    marker: str | None = None
    while True:
        page = driver.list_objects(bucket, prefix=None, marker=marker, limit=limit)
        keys = [info.key for info in page.items]
        if keys and batch is not None:
            batch.delete_objects(bucket, keys)
        else:
            for key in keys:
                driver.delete_object(bucket, key)
        if page.next_marker is None:
            return
        marker = page.next_marker


def _as_stream(data: UploadSource) -> tuple[BinaryIO, int | None]:
    """A stream over ``data`` and the bytes left in it, None if unknowable."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = memoryview(data).cast("B")  # bytes, not items, of any buffer
        return io.BytesIO(raw), raw.nbytes
    if not hasattr(data, "read") or isinstance(data, io.TextIOBase):
        raise InvalidValueException(
            "data", type(data).__name__, "expected bytes, str or a binary stream"
        )
    try:
        if data.seekable():
            position = data.tell()
            end = data.seek(0, io.SEEK_END)
            data.seek(position)
            return data, end - position
    except (OSError, ValueError, AttributeError):
        pass
    return data, None


def _wrap_iterator(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Map errors raised mid-stream the way ``wrap_foreign_errors`` does."""
    try:
        yield from chunks
    except BucketBridgeException:
        raise
    except Exception as error:
        raise ProviderInternalException(f"{type(error).__name__}: {error}") from error
