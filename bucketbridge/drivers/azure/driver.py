"""The Azure provider: Blob Storage over azure-storage-blob. A bucket is a container.

One ``BlobServiceClient`` per driver (thread-safe), one REST call per
primitive. Listings are paged by the server: Azure's continuation token is
our marker. Multipart uploads are staged blocks (:mod:`.blocks`), signed URLs
SAS (:mod:`.sas`), metadata names encoded as :mod:`.metadata` says, copies
inside the account Copy Blob (:mod:`.copies`), and a directory level is one
List Blobs with ``delimiter=/``. The
hot calls (HEAD, GET, Put Blob, Put Block, List Blobs) go over the lean data
plane (:mod:`.wire`, signed by :mod:`.signing`) unless ``data_plane="sdk"``
or a proxy keeps them on the SDK.

The etag is S3's, as on every provider: the MD5 of the content for an object
stored in one request (Azure computes and keeps it as Content-MD5), and
``md5(part tokens)-N`` for one committed from N blocks, kept in a reserved
metadata entry (the tokens are the parts' checksums: their CRC-64s where the
server takes them, as Azure does, else their MD5s, S3's value then; see
:mod:`.checksums`). An object written by another tool from blocks has neither;
its etag is then Azure's own (``0x8D...``). The revision that reads are
pinned to is always Azure's ETag.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING, Any

from ...config import Settings
from ...dataplane.client import HttpClient
from ...dataplane.multiplex import Answer, Exchange
from ...dataplane.multiplex import supports as multiplexes
from ...dataplane.request import Endpoint
from ...dataplane.selection import use_lean_plane
from ...errors import NotFoundException, PreconditionFailedException
from ..base import SmallWrites
from ..http_errors import Subject
from ..lazy import LazyModule
from ..paging import pages_in_turn, read_ahead
from ..records import (
    Body,
    BucketInfo,
    DirectoryPage,
    ObjectInfo,
    ObjectStream,
    Page,
    ReadOptions,
    UploadInfo,
    UrlRequest,
    WriteOptions,
)
from . import checksums, metadata
from .client import API_VERSION, AzureSettings, read_settings, token_credential
from .errors import error_code, sdk_errors, status_of, translate
from .own_writes import RetryWatch, own_object
from .properties import object_info, quoted, total_size, unquoted
from .signing import signer_for
from .wire import AzureWire, RetriedCreate, parse_listing

if TYPE_CHECKING:
    import azure.core.exceptions as sdk
    from azure.storage.blob import BlobServiceClient, StorageStreamDownloader

    from . import blocks, copies, sas
else:
    from .errors import sdk

    # they call the SDK: imported by the first call that takes it
    blocks = LazyModule(f"{__package__}.blocks")
    copies = LazyModule(f"{__package__}.copies")
    sas = LazyModule(f"{__package__}.sas")

MAX_PAGE = 5000  # List Blobs / List Containers return at most this many a request


def create_driver(settings: Settings) -> AzureDriver:
    return AzureDriver(read_settings(settings))


class AzureDriver:
    provider_id = "azure"
    list_page_size = MAX_PAGE  # iteration: 5000 names a request, not S3's 1000
    # Delete Container deletes the blobs in it: the core must look first, so
    # refuses_non_empty_bucket_delete stays unset.
    copies_keep_content_type = True  # Copy Blob takes no content type: see .copies

    def __init__(self, settings: AzureSettings) -> None:
        self.settings = settings
        self.subject = Subject("Azure Blob", settings.endpoint_url)
        # An Entra ID credential is shared by both planes (one token cache).
        self._credential = (
            token_credential(settings) if settings.auth not in ("key", "sas") else None
        )
        self._client: BlobServiceClient | None = None
        self._client_lock = threading.Lock()
        # what staged blocks carry on the lean plane (``auto`` may switch once)
        self.checksum = checksums.Choice(settings.checksum)
        # The hot calls' lean path (:mod:`.wire`); None keeps them on the SDK.
        self.wire: AzureWire | None = None
        # whole reads of small blobs the core multiplexes (base.SmallReads):
        # lean plane, http or https (see dataplane.multiplex)
        self.small_reads: AzureWire | None = None
        # and their Put Blobs (base.SmallWrites)
        self.small_writes: AzureSmallWrites | None = None
        if use_lean_plane(settings.connection.data_plane, Endpoint.parse(settings.endpoint_url)):
            self.wire = AzureWire(
                settings, signer_for(settings, self._credential), API_VERSION, self.subject
            )
            if multiplexes(self.wire.endpoint):
                self.small_reads = self.wire
                self.small_writes = AzureSmallWrites(self, self.wire)
        else:
            self._sdk_client()  # every call takes the SDK: made now, so bad settings fail here

    def __repr__(self) -> str:
        return f"<AzureDriver {self.settings.endpoint_url} auth={self.settings.auth}>"

    @property
    def client(self) -> BlobServiceClient:
        return self._sdk_client()

    def _sdk_client(self) -> BlobServiceClient:
        """The SDK client, made by the first call that takes the SDK (once,
        whichever thread asks first): the lean plane's calls never need it."""
        client = self._client
        if client is None:
            with self._client_lock:
                if self._client is None:
                    from .sdk import build_client

                    self._client = build_client(self.settings, self._credential)
                client = self._client
        return client

    def close(self) -> None:
        if self.wire is not None:
            self.wire.close()
        if self._client is not None:
            self._client.close()

    # --- errors ---------------------------------------------------------

    def error(self, error: Exception, bucket: str | None, key: str | None = None) -> Exception:
        return translate(error, self.subject.on(bucket, key), self.settings.auth)

    @contextmanager
    def mapped(self, bucket: str | None = None, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except sdk.AzureError as error:
            raise self.error(error, bucket, key) from error

    def blob(self, bucket: str, key: str) -> Any:
        return self.client.get_blob_client(bucket, key)

    # --- buckets --------------------------------------------------------

    def create_bucket(self, name: str, location: str | None) -> BucketInfo:
        # ``location`` is the storage account's, chosen when it was made.
        with self.mapped(name):
            self.client.create_container(name)
        return BucketInfo(name)

    def delete_bucket(self, name: str) -> None:
        with self.mapped(name):
            self.client.delete_container(name)

    def head_bucket(self, name: str) -> BucketInfo | None:
        try:
            self.client.get_container_client(name).get_container_properties()
        except sdk.HttpResponseError as error:
            if status_of(error) == 404:
                return None
            raise self.error(error, name) from error
        except sdk.AzureError as error:
            raise self.error(error, name) from error
        return BucketInfo(name)

    def list_buckets(self, *, marker: str | None, limit: int) -> Page[BucketInfo]:
        with self.mapped():
            pages: Any = self.client.list_containers(results_per_page=min(limit, MAX_PAGE)).by_page(
                continuation_token=marker
            )
            items = [BucketInfo(container.name) for container in next(pages)]
        return Page(items, pages.continuation_token or None)

    # --- objects --------------------------------------------------------

    def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
        if self.wire is not None:
            return self.wire.head(bucket, key)
        try:
            properties = self.blob(bucket, key).get_blob_properties()
        except sdk.HttpResponseError as error:
            if status_of(error) == 404:  # the core tells a missing bucket apart
                return None
            raise self.error(error, bucket, key) from error
        except sdk.AzureError as error:
            raise self.error(error, bucket, key) from error
        return object_info(key, properties, properties.size)

    def list_objects(
        self, bucket: str, *, prefix: str | None, marker: str | None, limit: int
    ) -> Page[ObjectInfo]:
        if self.wire is not None:
            return self.wire.list_page(
                bucket, prefix=prefix, marker=marker, limit=min(limit, MAX_PAGE)
            )
        container = self.client.get_container_client(bucket)
        with self.mapped(bucket):
            pages: Any = container.list_blobs(
                name_starts_with=prefix or None,
                include=["metadata"],
                results_per_page=min(limit, MAX_PAGE),
            ).by_page(continuation_token=marker)
            items = [object_info(item.name, item, item.size) for item in next(pages)]
        return Page(items, pages.continuation_token or None)

    def list_ahead(
        self, bucket: str, *, prefix: str | None, limit: int
    ) -> Generator[list[ObjectInfo], None, None]:
        """On the lean plane each page is requested while the one before is
        parsed (Azurite takes ~0.1 s a page of 5000, the parse ~0.05 s)."""
        wire = self.wire
        if wire is None:
            yield from pages_in_turn(self, bucket, prefix=prefix, limit=limit)
            return
        size = min(limit, MAX_PAGE)
        with closing(
            read_ahead(
                lambda marker: wire.list_raw(bucket, prefix=prefix, marker=marker, limit=size),
                lambda xml: parse_listing(xml).objects,
            )
        ) as pages:
            yield from pages

    def list_directory(
        self, bucket: str, *, prefix: str, marker: str | None, limit: int
    ) -> DirectoryPage:
        if self.wire is not None:
            return self.wire.list_directory(
                bucket, prefix=prefix, marker=marker, limit=min(limit, MAX_PAGE)
            )
        from azure.storage.blob import BlobPrefix

        container = self.client.get_container_client(bucket)
        objects: list[ObjectInfo] = []
        directories: list[str] = []
        with self.mapped(bucket):
            pages: Any = container.walk_blobs(
                name_starts_with=prefix or None,
                include=["metadata"],
                delimiter="/",
                results_per_page=min(limit, MAX_PAGE),
            ).by_page(continuation_token=marker)
            for item in next(pages):
                if isinstance(item, BlobPrefix):  # a directory; iterating it would list it
                    directories.append(item.name)
                else:
                    objects.append(object_info(item.name, item, item.size))
        return DirectoryPage(objects, directories, pages.continuation_token or None)

    def put_object(self, bucket: str, key: str, body: Body, options: WriteOptions) -> ObjectInfo:
        if self.wire is not None:
            return self._put_lean(self.wire, bucket, key, body, options)
        from azure.storage.blob import ContentSettings

        watch = RetryWatch()
        try:
            response = self.blob(bucket, key).upload_blob(
                body,
                length=body.size,
                overwrite=not options.create_only,  # False sends If-None-Match: *
                content_settings=ContentSettings(content_type=options.content_type),
                metadata=metadata.encode(options.metadata),
                retry_hook=watch,
            )
        except sdk.HttpResponseError as error:
            if watch.retried and error_code(error) == "BlobAlreadyExists":
                mine = own_object(self, bucket, key, blocks.md5_of(body), body.size)
                if mine is not None:
                    return mine
            raise self.error(error, bucket, key) from error
        except sdk.AzureError as error:
            raise self.error(error, bucket, key) from error
        md5 = response.get("content_md5")
        return ObjectInfo(
            key=key,
            size=body.size,
            last_modified=response["last_modified"],
            etag=bytes(md5).hex() if md5 else unquoted(response["etag"]),
            content_type=options.content_type,
            metadata=dict(options.metadata),
            revision=quoted(response["etag"]),
        )

    def _put_lean(
        self,
        wire: AzureWire,
        bucket: str,
        key: str,
        body: Body,
        options: WriteOptions,
        sent_before: int = 0,
    ) -> ObjectInfo:
        """``sent_before``: copies the multiplexer sent (:class:`AzureSmallWrites`):
        a create-only write that then meets a blob checks whether it is ours."""
        try:
            return wire.put(bucket, key, body, options, sent_before=sent_before)
        except RetriedCreate:
            mine = own_object(self, bucket, key, blocks.md5_of(body), body.size)
            if mine is not None:
                return mine
            raise

    def read_object(self, bucket: str, key: str, options: ReadOptions) -> ObjectStream:
        if options.end is not None and options.end <= options.start:
            return self._empty_read(bucket, key, options)
        if self.wire is not None:
            stream = self.wire.get(bucket, key, options)
            return stream if stream is not None else self._empty_read(bucket, key, options)
        from azure.core import MatchConditions

        args: dict[str, Any] = {"offset": options.start, "max_concurrency": 1}
        if options.end is not None:
            args["length"] = options.end - options.start
        if options.if_revision is not None:
            args["etag"] = options.if_revision
            args["match_condition"] = MatchConditions.IfNotModified
        try:
            downloader = self.blob(bucket, key).download_blob(**args)
        except sdk.HttpResponseError as error:
            if error_code(error) == "InvalidRange":  # starts at or past the end
                return self._empty_read(bucket, key, options)
            if status_of(error) == 412:
                raise self._replaced(bucket, key) from error
            raise self.error(error, bucket, key) from error
        except sdk.AzureError as error:
            raise self.error(error, bucket, key) from error
        properties = downloader.properties
        info = object_info(key, properties, total_size(properties))
        return ObjectStream(info, self._chunks(downloader, options.chunk_size, bucket, key))

    def _empty_read(self, bucket: str, key: str, options: ReadOptions) -> ObjectStream:
        info = self.head_object(bucket, key)
        if info is None:
            raise NotFoundException(f"object {key!r} not found in bucket {bucket!r}")
        if options.if_revision is not None and info.revision != options.if_revision:
            raise self._replaced(bucket, key)
        return ObjectStream(info, iter(()))

    def _replaced(self, bucket: str, key: str) -> PreconditionFailedException:
        return PreconditionFailedException(
            f"object {key!r} in bucket {bucket!r} was replaced while being read"
        )

    def _chunks(
        self, downloader: StorageStreamDownloader[bytes], size: int, bucket: str, key: str
    ) -> Iterator[bytes]:
        """The downloader's chunks (one request each, pinned by the SDK to the
        first response's ETag), cut to about ``size`` bytes."""
        try:
            for chunk in downloader.chunks():
                if len(chunk) <= size:
                    yield chunk
                    continue
                view = memoryview(chunk)
                for start in range(0, len(view), size):
                    yield bytes(view[start : start + size])
        except sdk.HttpResponseError as error:
            if status_of(error) == 412:
                raise self._replaced(bucket, key) from error
            raise self.error(error, bucket, key) from error
        except sdk_errors() as error:
            raise self.error(error, bucket, key) from error

    def delete_object(self, bucket: str, key: str) -> None:
        try:
            self.blob(bucket, key).delete_blob()
        except sdk.HttpResponseError as error:
            if error_code(error) == "BlobNotFound":
                return  # deleting an absent object is not an error
            raise self.error(error, bucket, key) from error
        except sdk.AzureError as error:
            raise self.error(error, bucket, key) from error

    def copy_object(
        self,
        source_bucket: str,
        source: ObjectInfo,
        bucket: str,
        key: str,
        options: WriteOptions,
    ) -> ObjectInfo:
        """Copy Blob, waited for (see :mod:`.copies`); only with the
        source's content type."""
        return copies.copy_blob(self, source_bucket, source, bucket, key, options)

    # --- multipart ------------------------------------------------------

    def start_multipart(self, bucket: str, key: str, options: WriteOptions) -> blocks.BlockUpload:
        return blocks.BlockUpload(self, bucket, key, blocks.new_upload_id())

    def resume_multipart(self, bucket: str, key: str, upload_id: str) -> blocks.BlockUpload:
        return blocks.BlockUpload(self, bucket, key, blocks.checked_upload_id(upload_id))

    def list_multipart(self, bucket: str) -> Iterator[UploadInfo]:
        return blocks.list_uploads(self, bucket)

    # --- signed URLs ----------------------------------------------------

    def sign_url(self, bucket: str, key: str, request: UrlRequest) -> str:
        with self.mapped(bucket, key):
            return sas.sign(self, bucket, key, request)


class AzureSmallWrites:
    """:class:`~bucketbridge.drivers.base.SmallWrites` on the lean plane:
    :meth:`AzureDriver.put_object`'s Put Blob split into its request and
    the reading of its answer (:meth:`.AzureWire.small_put`), and the
    blocking put again where its answer was lost (counted as sent, so a
    create-only write that meets a blob checks whether the lost copy stored
    it)."""

    __slots__ = ("_driver", "_wire")

    def __init__(self, driver: AzureDriver, wire: AzureWire) -> None:
        self._driver = driver
        self._wire = wire

    @property
    def client(self) -> HttpClient:
        return self._wire.client

    def small_write(
        self, bucket: str, key: str, body: bytes, options: WriteOptions
    ) -> Exchange | None:
        return self._wire.small_put(bucket, key, body, options)

    def small_written(
        self, bucket: str, key: str, body: bytes, options: WriteOptions, answer: Answer
    ) -> ObjectInfo | None:
        return self._wire.small_put_result(bucket, key, body, options, answer)

    def put_again(self, bucket: str, key: str, body: Body, options: WriteOptions) -> ObjectInfo:
        return self._driver._put_lean(self._wire, bucket, key, body, options, sent_before=1)


# mypy compares the small writes with the protocol they claim
_small_writes: Callable[[AzureDriver, AzureWire], SmallWrites] = AzureSmallWrites
