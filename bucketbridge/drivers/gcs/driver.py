"""The GCP provider: Google Cloud Storage over google-cloud-storage's JSON API.

One ``storage.Client`` per driver. Listings are paged by the server
(``startOffset`` at our marker, the last key); bucket listings by page token
where the server gives one. Reads look the object up, then stream its
media pinned to that ``generation``, and check that the response reports
that generation and the looked-up CRC32C, so the info and the bytes always
belong to one revision. The revision is ``<generation>/<crc32c>``, not the
generation alone: fake-gcs-server keeps an object's generation when a compose
replaces it (GCS makes a new one), so only the content hash tells those
revisions apart. Errors go through :mod:`.errors`.

Multipart uploads are parts stored as temporary objects and joined with
``compose`` (see :mod:`.uploads` for why, and what they leave behind).
"""

from __future__ import annotations

import binascii
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from ...config import Settings
from ...dataplane.client import HttpClient, Response
from ...dataplane.multiplex import Answer, Exchange
from ...dataplane.multiplex import supports as multiplexes
from ...dataplane.request import Endpoint
from ...dataplane.selection import use_lean_plane
from ...errors import (
    InvalidConfigurationException,
    NotFoundException,
    PreconditionFailedException,
)
from ..base import CopiesObjects, Driver, ListsDirectories, SmallWrites
from ..http_errors import Subject
from ..paging import page_of_names, pages_in_turn, read_ahead
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
from . import directories, rewrite
from .client import GcsSettings, build_client, read_settings, retry_policy
from .errors import network_errors, sdk_errors, status_of, translate
from .pages import decode_page, info_of_listed
from .signing import signer_for
from .uploads import (
    ETAG_METADATA_KEY,
    RESERVED_PREFIX,
    GcsUpload,
    check_metadata,
    list_uploads,
    new_upload,
)
from .wire import GcsWire, crc32c_of_bytes

if TYPE_CHECKING:
    import requests
    from google.cloud.storage import Client

_ISO_Z = sys.version_info >= (3, 11)  # datetime.fromisoformat reads RFC 3339's "Z"
_TOKEN_MARKER = "t:"
_NAME_MARKER = "n:"
# An unpinned read replaced between its look and its GET looks again, for as
# long as a read may take (the read timeout), and at least this many times: on
# fake-gcs-server with four writers replacing an object every few ms (the
# conformance race), ~70% of looks were overtaken, and 20 looks still failed reads.
_READ_LOOKS = 5
_RESUMABLE_CHUNK = 256 * 1024  # resumable chunks are multiples of this


def create_driver(settings: Settings) -> GcsDriver:
    return GcsDriver(read_settings(settings))


# The factory loads drivers by name; this line has mypy compare the driver
# with the Driver protocol.
_checked: Callable[[Settings], Driver] = create_driver
_copies: Callable[[Settings], CopiesObjects] = create_driver
_lists: Callable[[Settings], ListsDirectories] = create_driver


class GcsDriver:
    provider_id = "gcp"
    refuses_non_empty_bucket_delete = True  # GCS answers 409 to a bucket with objects
    # Iteration asks for pages this large: GCS sends 1000 a request (merged
    # into one page here), a server that sends more is asked fewer times
    list_page_size = 10_000

    def __init__(self, settings: GcsSettings) -> None:
        self.settings = settings
        self._client: Client | None = None
        self._client_lock = threading.Lock()
        self._subject = Subject("GCS", settings.endpoint_url)
        self.timeout = (settings.connection.connect_timeout, settings.connection.read_timeout)
        # resumable uploads send the body in chunks of about a part
        self.chunk_size = max(
            _RESUMABLE_CHUNK, settings.part_size // _RESUMABLE_CHUNK * _RESUMABLE_CHUNK
        )
        if settings.anonymous:
            self._who = "anonymous access"
        elif settings.signer_email:
            self._who = f"service account {settings.signer_email!r}"
        else:
            self._who = "the Application Default Credentials"
        # the hot calls' own requests (see .wire); None: everything on the SDK
        self.wire: GcsWire | None = None
        # whole reads of small objects the core multiplexes (base.SmallReads):
        # lean plane, http or https (see dataplane.multiplex)
        self.small_reads: GcsSmallReads | None = None
        # and the single-request uploads of small ones (base.SmallWrites)
        self.small_writes: GcsSmallWrites | None = None
        endpoint = Endpoint.parse(settings.endpoint_url)
        if use_lean_plane(settings.connection.data_plane, endpoint):
            self.wire = GcsWire(
                HttpClient(settings.connection),
                endpoint,
                signer_for(settings.credentials),
                self._subject,
                self._who,
            )
            if multiplexes(endpoint):
                self.small_reads = GcsSmallReads(self.wire)
                self.small_writes = GcsSmallWrites(self, self.wire)
        else:
            self._sdk_client()  # every call takes the SDK: made now, so bad settings fail here

    def __repr__(self) -> str:
        return f"<GcsDriver {self._subject.endpoint} project={self.settings.project!r}>"

    @property
    def client(self) -> Client:
        return self._sdk_client()

    def _sdk_client(self) -> Client:
        """The SDK client, made by the first call that takes the SDK (once,
        whichever thread asks first): importing google-cloud-storage costs
        ~0.2 s, and the lean plane's calls never need it."""
        client = self._client
        if client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = build_client(self.settings)
                client = self._client
        return client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self.wire is not None:
            self.wire.close()

    # --- errors ---------------------------------------------------------

    def retry(self) -> Any:
        """A fresh retry policy for one call (it counts that call's tries)."""
        return retry_policy(self.settings.connection.max_attempts)

    def mapped(self, bucket: str | None = None, key: str | None = None) -> _Mapped:
        """A ``with`` block whose SDK errors leave it as ours, naming
        ``bucket`` and ``key``."""
        return _Mapped(self, bucket, key)

    def error(self, error: BaseException, bucket: str | None, key: str | None = None) -> Exception:
        subject = self._subject.on(bucket, key)
        attempts = self.settings.connection.max_attempts
        return translate(error, subject, attempts=attempts, who=self._who)

    # --- buckets --------------------------------------------------------

    def create_bucket(self, name: str, location: str | None) -> BucketInfo:
        with self.mapped(name):
            self.client.create_bucket(
                name, location=location, timeout=self.timeout, retry=self.retry()
            )
        return BucketInfo(name)

    def delete_bucket(self, name: str) -> None:
        """Open uploads are objects in the bucket (see :mod:`.uploads`), which
        GCS would count as contents: as on S3 they go with the bucket, so they
        are deleted first, when no user object is there (with one, the
        delete below is refused, and the uploads stay open)."""
        if not self.list_objects(name, prefix=None, marker=None, limit=1).items:
            with self.mapped(name):
                leftovers = [
                    blob.name
                    for blob in self.client.list_blobs(
                        name, prefix=RESERVED_PREFIX, timeout=self.timeout, retry=self.retry()
                    )
                ]
            for key in leftovers:
                self.delete_object(name, key)
        with self.mapped(name):
            self.client.bucket(name).delete(timeout=self.timeout, retry=self.retry())

    def head_bucket(self, name: str) -> BucketInfo | None:
        try:
            with self.mapped(name):
                found = self.client.lookup_bucket(name, timeout=self.timeout, retry=self.retry())
        except NotFoundException:
            return None
        except Exception as error:
            # a name GCS cannot even parse (buckets other tools made, or typos)
            if status_of(error.__cause__ or error) == 400:
                return None
            raise
        return None if found is None else BucketInfo(name)

    def list_buckets(self, *, marker: str | None, limit: int) -> Page[BucketInfo]:
        """Server-side pages where the server gives a page token (GCS). A server
        that returns every bucket at once (fake-gcs-server) is paged here, by
        name, from its whole list."""
        if marker is not None and marker.startswith(_NAME_MARKER):
            return _page_by_name(self._bucket_names(), marker[len(_NAME_MARKER) :], limit)
        token = marker[len(_TOKEN_MARKER) :] if marker else None
        with self.mapped():
            listing = self.client.list_buckets(
                max_results=None,
                page_size=min(limit, 1000),
                page_token=token,
                timeout=self.timeout,
                retry=self.retry(),
            )
            page = next(listing.pages, None)  # no page at all when there is no bucket
            names = sorted(bucket.name for bucket in page or ())
        if listing.next_page_token:
            return Page([BucketInfo(n) for n in names], _TOKEN_MARKER + listing.next_page_token)
        if len(names) <= limit:
            return Page([BucketInfo(n) for n in names], None)
        return _page_by_name(names, "", limit)

    def _bucket_names(self) -> list[str]:
        with self.mapped():
            listing = self.client.list_buckets(timeout=self.timeout, retry=self.retry())
            return sorted(bucket.name for bucket in listing)

    # --- objects --------------------------------------------------------

    def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
        if self.wire is not None:
            with self.mapped(bucket, key):
                return self.wire.head_object(bucket, key)
        resource = self.object_resource(bucket, key)
        return None if resource is None else info_of(resource)

    def object_resource(self, bucket: str, key: str) -> dict[str, Any] | None:
        """The object's JSON resource (what :func:`info_of` reads, and the
        hidden metadata it drops); None if there is no such object."""
        if self.wire is not None:
            with self.mapped(bucket, key):
                return self.wire.get_object(bucket, key)
        with self.mapped(bucket, key):
            blob = self.client.bucket(bucket).get_blob(
                key, timeout=self.timeout, retry=self.retry()
            )
        return None if blob is None else blob._properties

    def copy_object(
        self,
        source_bucket: str,
        source: ObjectInfo,
        bucket: str,
        key: str,
        options: WriteOptions,
    ) -> ObjectInfo:
        """``objects.rewrite`` until done (see :mod:`.rewrite`)."""
        return rewrite.copy_object(self, source_bucket, source, bucket, key, options)

    def list_directory(
        self, bucket: str, *, prefix: str, marker: str | None, limit: int
    ) -> DirectoryPage:
        """``objects.list`` with ``delimiter=/`` (see :mod:`.directories`)."""
        return directories.list_directory(self, bucket, prefix=prefix, marker=marker, limit=limit)

    def list_objects(
        self, bucket: str, *, prefix: str | None, marker: str | None, limit: int
    ) -> Page[ObjectInfo]:
        """One request per page, continued by the server's page token (our
        marker is ``t:<token>``). A marker that is a key continues after that
        key (``startOffset`` is inclusive: that key is skipped).
        Upload parts (:mod:`.uploads`) are never listed; a page they thinned
        is filled from the next one."""
        token = start = None
        if marker is not None and marker.startswith(_TOKEN_MARKER):
            token = marker[len(_TOKEN_MARKER) :]
        elif marker is not None:
            start = marker
        items: list[ObjectInfo] = []
        while True:
            if self.wire is not None:
                with self.mapped(bucket):
                    page_data = self.wire.list_page(
                        bucket,
                        prefix=prefix or None,
                        start_offset=start,
                        page_token=token,
                        # GCS answers at most 1000 a page whatever is asked;
                        # a server that honours more (fake-gcs-server, which
                        # scans the whole bucket for each page) saves requests
                        max_results=limit - len(items),
                    )
                for listed in page_data.items:
                    name = listed.name
                    if name != start and not name.startswith(RESERVED_PREFIX):
                        items.append(info_of_listed(listed))
                token = page_data.nextPageToken or None
                if not token or len(items) >= limit:
                    break
                continue
            with self.mapped(bucket):
                listing = self.client.list_blobs(
                    bucket,
                    prefix=prefix or None,
                    start_offset=start,
                    page_token=token,
                    page_size=min(limit - len(items), 1000),
                    timeout=self.timeout,
                    retry=self.retry(),
                )
                page = next(listing.pages, None)
                for blob in page or ():
                    if blob.name != start and not blob.name.startswith(RESERVED_PREFIX):
                        items.append(info_of(blob._properties))
            token = listing.next_page_token
            if not token or len(items) >= limit:
                break
        if not token:
            return Page(items, None)
        if start is None:
            return Page(items, _TOKEN_MARKER + token)
        # a page token is bound to its query's startOffset: continue by key
        return Page(items, items[-1].key) if items else Page(items, None)

    def list_ahead(
        self, bucket: str, *, prefix: str | None, limit: int
    ) -> Generator[list[ObjectInfo], None, None]:
        """On the lean plane each page is requested while the one before is
        decoded; upload parts are left out as ``list_objects`` leaves them."""
        wire = self.wire
        if wire is None:
            yield from pages_in_turn(self, bucket, prefix=prefix, limit=limit)
            return

        def fetch(token: str | None) -> tuple[bytes, str | None]:
            with self.mapped(bucket):
                return wire.list_raw(bucket, prefix=prefix, page_token=token, max_results=limit)

        describe = wire.describe(bucket)

        def parse(data: bytes) -> list[ObjectInfo]:
            return [
                info_of_listed(listed)
                for listed in decode_page(data, describe).items
                if not listed.name.startswith(RESERVED_PREFIX)
            ]

        with closing(read_ahead(fetch, parse)) as pages:
            yield from pages

    def put_object(self, bucket: str, key: str, body: Body, options: WriteOptions) -> ObjectInfo:
        return self._put(bucket, key, body, options, 0)

    def _put(
        self, bucket: str, key: str, body: Body, options: WriteOptions, sent_before: int
    ) -> ObjectInfo:
        """:meth:`put_object`, ``sent_before`` copies of it already sent by
        the multiplexer (:class:`GcsSmallWrites`): a create-only 412 after
        them is checked against our bytes, as one after a retry."""
        check_metadata(options)
        if self.wire is not None:
            with self.mapped(bucket, key):
                resource = self.wire.upload(
                    bucket,
                    key,
                    body,
                    content_type=options.content_type,
                    metadata=options.metadata,
                    if_generation_match=0 if options.create_only else None,
                    sent_before=sent_before,
                )
            return info_of_listed(resource)
        blob = self.client.bucket(bucket).blob(key, chunk_size=self.chunk_size)
        blob.metadata = dict(options.metadata) or None
        with self.mapped(bucket, key):
            blob.upload_from_file(
                body,
                size=body.size,
                content_type=options.content_type,
                if_generation_match=0 if options.create_only else None,
                timeout=self.timeout,
                retry=self.retry(),
            )
        return info_of(blob._properties)

    def read_object(self, bucket: str, key: str, options: ReadOptions) -> ObjectStream:
        """Look up, then GET the media of exactly that revision. An unpinned
        read replaced between the two looks again (until the read timeout); a pinned
        one fails with PreconditionFailedException."""
        listed = options.listed
        if (
            listed is not None
            and self.wire is not None
            and listed.key == key
            and listed.revision
            and options.if_revision in (None, listed.revision)
        ):
            # A listing just named the revision: GET its media while it is
            # still the live one, without the lookup (half the requests of
            # a copy of many small objects); replaced since, look it up below.
            end = listed.size if options.end is None else min(options.end, listed.size)
            if options.start < end:
                stream = self._open_media(
                    bucket, key, listed, options.start, end, options.chunk_size, live=True
                )
                if stream is not None:
                    return stream
        deadline = time.monotonic() + self.timeout[1]
        looks = 0
        while looks < _READ_LOOKS or time.monotonic() < deadline:
            looks += 1
            info = self.head_object(bucket, key)
            if info is None:
                # GCS's 404 does not say which is missing: a second look, on misses only
                if self.head_bucket(bucket) is None:
                    raise NotFoundException(f"bucket {bucket!r} does not exist")
                raise NotFoundException(f"object {key!r} not found in bucket {bucket!r}")
            if options.if_revision is not None and info.revision != options.if_revision:
                raise PreconditionFailedException(
                    f"object {key!r} in bucket {bucket!r} was replaced since it was looked up"
                )
            end = info.size if options.end is None else min(options.end, info.size)
            if options.start >= end:
                return ObjectStream(info, iter(()))
            stream = self._open_media(bucket, key, info, options.start, end, options.chunk_size)
            if stream is not None:
                return stream
            if options.if_revision is not None:
                break
        raise PreconditionFailedException(
            f"object {key!r} in bucket {bucket!r} was replaced while being read"
        )

    def _open_media(
        self,
        bucket: str,
        key: str,
        info: ObjectInfo,
        start: int,
        end: int,
        chunk_size: int,
        *,
        live: bool = False,
    ) -> ObjectStream | None:
        """The bytes ``[start, end)`` of exactly ``info.revision`` as a
        stream; None if that revision is gone (see :meth:`_get_media`), or
        with ``live`` (lean plane only) if it is no longer the live object."""
        if self.wire is None:
            sdk_response = self._get_media(bucket, key, info, start, end)
            if sdk_response is None:
                return None
            chunks = self._chunks(sdk_response, chunk_size, bucket, key)
            return ObjectStream(info, chunks, sdk_response.close)
        generation, _, crc32c = (info.revision or "").partition("/")
        try:  # self.mapped()'s mapping, without making its object every read
            response = self.wire.get_media(bucket, key, generation, start, end, live=live)
        except sdk_errors() as error:  # a token refresh's failure, a local OSError
            raise self.error(error, bucket, key) from error
        if response is None or not _same_revision(response, generation, crc32c):
            return None
        return _MediaStream(info, response, chunk_size)

    def _get_media(
        self, bucket: str, key: str, info: ObjectInfo, start: int, end: int
    ) -> requests.Response | None:
        """GET the bytes ``[start, end)`` of exactly ``info.revision``; None
        if that revision is gone (replaced or deleted since the lookup).
        The response's own generation and CRC32C are checked, not only the
        ``generation`` asked for: a server that ignored the parameter, or
        reused a generation, would otherwise serve another revision's bytes."""
        generation, _, crc32c = (info.revision or "").partition("/")
        url = (
            f"{self.client._connection.API_BASE_URL}/download/storage/v1/b/{quote(bucket, safe='')}"
            f"/o/{quote(key, safe='')}?alt=media&generation={generation}"
        )
        headers = {"Range": f"bytes={start}-{end - 1}", "Accept-Encoding": "identity"}

        from google.api_core.exceptions import from_http_response

        def get() -> requests.Response:
            response: requests.Response = self.client._http.get(
                url, headers=headers, stream=True, timeout=self.timeout
            )
            if response.status_code >= 400 and response.status_code != 404:
                response.close()
                failure: Exception = from_http_response(response)
                raise failure
            return response

        with self.mapped(bucket, key):
            response: requests.Response = self.retry()(get)()
        served = response.headers.get("x-goog-generation")
        if (
            response.status_code == 404
            or served != generation
            or not _same_crc32c(response.headers.get("x-goog-hash"), crc32c)
        ):
            response.close()
            return None
        return response

    def _chunks(
        self, response: requests.Response, chunk_size: int, bucket: str, key: str
    ) -> Iterator[bytes]:
        try:
            yield from response.iter_content(chunk_size)
        except network_errors() as error:
            raise self.error(error, bucket, key) from error
        finally:
            response.close()

    def delete_object(self, bucket: str, key: str) -> None:
        try:
            with self.mapped(bucket, key):
                self.client.bucket(bucket).delete_blob(
                    key, timeout=self.timeout, retry=self.retry()
                )
        except NotFoundException:
            pass  # an absent object is not an error (a missing bucket is not told apart)

    # --- multipart ------------------------------------------------------

    def start_multipart(self, bucket: str, key: str, options: WriteOptions) -> GcsUpload:
        check_metadata(options)
        return new_upload(self, bucket, key)

    def resume_multipart(self, bucket: str, key: str, upload_id: str) -> GcsUpload:
        return GcsUpload(self, bucket, key, upload_id)

    def list_multipart(self, bucket: str) -> Iterator[UploadInfo]:
        return list_uploads(self, bucket)

    # --- signed URLs ----------------------------------------------------

    def sign_url(self, bucket: str, key: str, request: UrlRequest) -> str:
        """A V4 URL signed with the service account's key, or through IAM
        signBlob with an access token when only ADC tokens are at hand."""
        signing: dict[str, Any] = {}
        if self.settings.signer is not None:
            signing["credentials"] = self.settings.signer
        else:
            credentials = self.settings.credentials
            email = getattr(credentials, "service_account_email", None)
            if credentials is None or not email:  # None: anonymous
                raise InvalidConfigurationException(
                    "signing a GCS URL needs a service account: set gcp_service_creds_file or"
                    " gcp_service_creds_dict (or use ADC of a service account allowed"
                    " iam.serviceAccounts.signBlob)"
                )
            with self.mapped(bucket, key):
                if not credentials.valid:
                    credentials.refresh(google_request())
            signing.update(service_account_email=email, access_token=credentials.token)
        blob = self.client.bucket(bucket).blob(key)
        with self.mapped(bucket, key):
            url: str = blob.generate_signed_url(
                version="v4",
                expiration=timedelta(seconds=request.expires_in),
                method=request.method,
                response_disposition=request.response_content_disposition,
                response_type=request.response_content_type,
                api_access_endpoint=self.settings.endpoint_url,
                **signing,
            )
        return url


def google_request() -> Any:
    from google.auth.transport.requests import Request

    return Request()


def info_of(properties: dict[str, Any]) -> ObjectInfo:
    """An ObjectInfo from a GCS object resource (JSON API)."""
    metadata = dict(properties.get("metadata") or {})
    stored_etag = metadata.pop(ETAG_METADATA_KEY, None)
    md5 = properties.get("md5Hash")
    if stored_etag:  # a composed object (GCS keeps no MD5): the etag its upload computed
        etag = stored_etag
    elif md5:  # S3's etag of a single-request object: its MD5, in hex
        etag = binascii.a2b_base64(md5).hex()  # b64decode's checks cost 3x this
    else:  # composed by another tool
        etag = str(properties.get("etag", "")).strip('"')
    return ObjectInfo(
        key=properties["name"],
        size=int(properties.get("size", 0)),
        last_modified=_rfc3339(properties["updated"]),
        etag=etag,
        content_type=properties.get("contentType") or "application/octet-stream",
        metadata=metadata,
        revision=f"{properties['generation']}/{properties.get('crc32c') or ''}",
    )


class _Mapped:
    """:meth:`GcsDriver.mapped`: a plain class, not a ``@contextmanager``
    generator, because every lean request of a read or a ``find`` enters
    one (the generator's set-up cost ~3 us a call, bench: batch-down)."""

    __slots__ = ("_bucket", "_driver", "_key")

    def __init__(self, driver: GcsDriver, bucket: str | None, key: str | None) -> None:
        self._driver = driver
        self._bucket = bucket
        self._key = key

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: object
    ) -> Literal[False]:
        if error is not None and isinstance(error, sdk_errors()):
            raise self._driver.error(error, self._bucket, self._key) from error
        return False


class GcsSmallWrites:
    """:class:`~bucketbridge.drivers.base.SmallWrites` on the lean plane:
    :meth:`GcsDriver.put_object`'s single-request upload split into its
    request and the reading of its answer, and the blocking put again where
    its answer was lost (counted as sent, so a create-only 412 is checked
    against our own bytes: the lost copy may have stored them)."""

    __slots__ = ("_driver", "_wire")

    def __init__(self, driver: GcsDriver, wire: GcsWire) -> None:
        self._driver = driver
        self._wire = wire

    @property
    def client(self) -> HttpClient:
        return self._wire.client

    def small_write(
        self, bucket: str, key: str, body: bytes, options: WriteOptions
    ) -> Exchange | None:
        check_metadata(options)
        return self._wire.small_upload(
            bucket,
            key,
            body,
            content_type=options.content_type,
            metadata=options.metadata,
            if_generation_match=0 if options.create_only else None,
        )

    def small_written(
        self, bucket: str, key: str, body: bytes, options: WriteOptions, answer: Answer
    ) -> ObjectInfo | None:
        """The record :meth:`GcsDriver.put_object` makes of the answer; the
        exception it raises for an error status (a 412 of a first copy:
        the object was there)."""
        crc32c = crc32c_of_bytes(body)
        with self._driver.mapped(bucket, key):
            stored = self._wire.small_uploaded(answer, bucket, key, crc32c)
        return info_of_listed(stored)

    def put_again(self, bucket: str, key: str, body: Body, options: WriteOptions) -> ObjectInfo:
        return self._driver._put(bucket, key, body, options, 1)


class GcsSmallReads:
    """:class:`~bucketbridge.drivers.base.SmallReads` on the lean plane: the
    live-generation media GET of :meth:`GcsDriver.read_object` (a listing
    named the revision), split into its request and the reading of its answer."""

    __slots__ = ("_wire",)

    def __init__(self, wire: GcsWire) -> None:
        self._wire = wire

    @property
    def client(self) -> HttpClient:
        return self._wire.client

    def small_read(self, bucket: str, key: str, listed: ObjectInfo) -> Exchange | None:
        return self._wire.small_read(bucket, key, listed)

    def small_result(
        self, bucket: str, key: str, listed: ObjectInfo, answer: Answer
    ) -> ObjectInfo | None:
        """The record of what ``answer`` holds (the listed revision, whole);
        None where :meth:`GcsDriver.read_object` would look the object up
        (404, 412: replaced or deleted since the listing; another revision
        served; a body not the listed size); the blocking read's exception
        for any other error status."""
        status = answer.status
        if status in (404, 412):
            return None
        if status >= 300:
            raise self._wire.answered_error(answer, bucket, key)
        generation, _, crc32c = (listed.revision or "").partition("/")
        headers = answer.headers
        if (
            headers.get("x-goog-generation") != generation
            or not _same_crc32c(headers.get("x-goog-hash"), crc32c)
            or len(answer.body) != listed.size
        ):
            return None
        return listed


class _MediaStream(ObjectStream):
    """A lean media response as the read's stream: ``readinto`` fills the
    caller's buffer from the response, the chunks are made only if asked
    for. ObjectStream's own ``__init__`` is not run: every method that reads
    its state is replaced here, and a read of a small object is a stream a
    request, whose set-up (a generator, three bound methods) and ``readinto``
    (a second cast of the buffer) cost ~3 µs of its ~150 (bench/gcs_read_cpu.py)."""

    def __init__(self, info: ObjectInfo, response: Response, chunk_size: int) -> None:
        self.info = info
        self._response = response
        self._chunk_size = chunk_size
        self._chunked: Iterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        # one iterator, however many times it is asked for, as ObjectStream's
        if self._chunked is None:
            self._chunked = self._response.chunks(self._chunk_size)
        return self._chunked

    def readinto(self, buffer: memoryview | bytearray) -> int:
        return self._response.readinto(buffer)

    def close(self) -> None:
        self._response.close()


def _same_revision(response: Response, generation: str, crc32c: str) -> bool:
    """Whether a lean media response serves that generation and CRC32C
    (closed if not), as :meth:`GcsDriver._get_media` checks the SDK's."""
    if response.header("x-goog-generation") != generation or not _same_crc32c(
        response.header("x-goog-hash"), crc32c
    ):
        response.close()
        return False
    return True


def _same_crc32c(header: str | None, crc32c: str) -> bool:
    """Whether an ``x-goog-hash`` header (``crc32c=AAA==,md5=BBB==``) names
    ``crc32c``, or names no CRC32C at all (nothing to compare; a header
    naming it twice counts by its last). True when ``crc32c`` is empty.
    One pass over its parts, no dict: every small read checks one (a few
    µs of the ~100 a 4 KiB read costs on 16 threads, bench/gcs_read_walls.py)."""
    if not crc32c or not header:
        return True
    served = None
    for part in header.split(","):
        name, equals, value = part.strip().partition("=")
        if equals and name == "crc32c":
            served = value
    return served is None or served == crc32c


def _rfc3339(text: str) -> datetime:
    """GCS's ``2026-11-27T11:04:03.123Z`` (any digits of fraction), aware;
    the SDK's parser costs a regex and strptime per object of a listing."""
    if not text.endswith("Z") or _ISO_Z:
        # Python 3.11 reads the Z and any fraction itself, 25x faster than below
        return datetime.fromisoformat(text)
    stamp, _, fraction = text[:-1].partition(".")
    moment = datetime.fromisoformat(stamp).replace(tzinfo=timezone.utc)
    return moment.replace(microsecond=int(fraction[:6].ljust(6, "0"))) if fraction else moment


def _page_by_name(names: list[str], after: str, limit: int) -> Page[BucketInfo]:
    page = page_of_names(names, after or None, limit)
    marker = _NAME_MARKER + page.next_marker if page.next_marker else None
    return Page(page.items, marker)


# mypy compares the small writes with the protocol they claim
_small_writes: Callable[[GcsDriver, GcsWire], SmallWrites] = GcsSmallWrites
