"""The OpenStack provider: Swift, over python-swiftclient.

One Swift request per primitive, on a connection borrowed from the pool
(:mod:`.client`). Listings are paged by the server (``limit`` + ``marker``).
``revision`` is the object's ``X-Timestamp``, which every PUT changes and
every GET and HEAD returns: a read pinned to a revision compares it with the
response it streams from.

Large objects are Static Large Objects (:mod:`.large`): parts are segments in
``<bucket>_segments``, completion writes the manifest. An overwritten or
deleted one's segments are retired (:mod:`.retire`): a reader that started
before reads the old version whole if it finishes within
``swift_segment_grace`` seconds (3600 by default).

The hot calls (HEAD, GET and PUT of objects and segments, listing pages)
take the lean data plane (:mod:`.wire`) unless ``data_plane="sdk"`` or the
storage URL goes through a proxy; everything else is swiftclient's. Over
http or https, ``copy``/``sync`` read and write small objects a window at a
time on one thread (:class:`SwiftSmallReads`, :class:`SwiftSmallWrites`,
:mod:`bucketbridge.dataplane.multiplex`). A small write is put create-only
first (``NEW_KEY_FIRST``): only a taken key costs the look for an SLO.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from typing import Any

from ...config import Settings
from ...dataplane.client import HttpClient
from ...dataplane.multiplex import Answer, Exchange
from ...dataplane.multiplex import supports as multiplexes
from ...dataplane.request import Endpoint
from ...dataplane.selection import use_lean_plane
from ...errors import (
    BucketBridgeException,
    BucketNotEmptyException,
    DuplicateResourceException,
    InvalidConfigurationException,
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
    ProviderInternalException,
)
from ..base import CopiesObjects, Driver, ListsDirectories
from ..http_errors import Subject
from ..paging import pages_in_turn, read_ahead
from ..ranges import empty_read, within
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
from . import copies, metadata
from .client import ConnectionPool, SwiftSettings, read_settings
from .errors import network_errors, refused_range, status_error, swift_errors, translate
from .large import SEGMENTS_SUFFIX, SloUpload, list_uploads, remove_our_segments, segment_container
from .limits import PublishedLimits
from .listing import Listed, decode_page, records_of, utc_time
from .replies import written_info
from .retire import replaced_segments, retire_segments
from .segments import SegmentReads
from .signing import TokenSigner
from .tempurl import TempUrlSigner
from .wire import SwiftWire, decoded

NEW_KEY_FIRST = 64 * 1024
"""Bodies up to this size are put create-only first (``If-None-Match: *``).
A write that may replace an object must first look for an SLO there (a
HEAD), whose segments it then retires (:mod:`.retire`); a create that
succeeds replaced nothing, so a small write to a new key -- most of a
batch's -- is one request, not two (a 2,000-object batch up on the test
server: see bench/results.md, session 17). Where the key is taken the 412
costs a round trip and the body sent once more: small enough to be cheaper
than the HEAD it saves on every new key. A create-first PUT also closes,
for new keys, the window in which an SLO written between the HEAD and the
PUT would be replaced without its segments retired."""


def create_driver(settings: Settings) -> SwiftDriver:
    return SwiftDriver(read_settings(settings))


# The factory loads drivers by name; this line has mypy compare the driver
# with the Driver protocol.
_checked: Callable[[Settings], Driver] = create_driver
_copies: Callable[[Settings], CopiesObjects] = create_driver
_directories: Callable[[Settings], ListsDirectories] = create_driver


class SwiftDriver:
    provider_id = "openstack"
    refuses_non_empty_bucket_delete = True  # a container DELETE answers 409
    list_page_size = 10_000  # Swift's container_listing_limit default

    def __init__(self, settings: SwiftSettings) -> None:
        self._settings = settings
        self.pool = ConnectionPool(settings)
        self._subject = Subject("Swift", settings.storage_url or settings.auth_url or "")
        self._signer = TempUrlSigner(self, settings.temp_url_key)
        self.limits = PublishedLimits(self._published_info)
        # buckets seen to exist whose segments container this driver made:
        # a large upload to one skips both looks (see large.SloUpload.start)
        self.segments_ready: set[str] = set()
        self._wire_lock = threading.Lock()
        self._wire: SwiftWire | None = None
        self._segment_reads: SegmentReads | None = None
        self._wire_chosen = False
        # the lean plane's client, made now (no connection until a request)
        # so that the small reads can name it before a hot call chooses the wire
        connection = settings.connection
        self._http = None if connection.data_plane == "sdk" else HttpClient(connection)
        # whole reads of small objects the core multiplexes (base.SmallReads):
        # lean plane, http or https (see dataplane.multiplex)
        self.small_reads: SwiftSmallReads | None = None
        # and the create-first PUTs of small objects (base.SmallWrites)
        self.small_writes: SwiftSmallWrites | None = None
        if self._http is not None and _may_multiplex(settings):
            self.small_reads = SwiftSmallReads(self, self._http)
            self.small_writes = SwiftSmallWrites(self, self._http)

    def __repr__(self) -> str:
        return f"<SwiftDriver {self._subject.endpoint} auth={self._settings.mode}>"

    def close(self) -> None:
        self.pool.close()
        if self._http is not None:
            self._http.close()  # the wire's

    @property
    def segment_grace(self) -> int:
        """Seconds a replaced SLO's segments stay readable (:mod:`.retire`)."""
        return self._settings.segment_grace

    def wire(self) -> SwiftWire | None:
        """The lean data plane, or None where the SDK carries the hot calls.
        Chosen at the first hot call: with v1 or Keystone auth, the storage
        URL is only known once authenticated."""
        if self._wire_chosen:
            return self._wire
        with self._wire_lock:
            if not self._wire_chosen:
                self._wire = self._new_wire()
                self._wire_chosen = True
        return self._wire

    def _new_wire(self) -> SwiftWire | None:
        connection = self._settings.connection
        if self._http is None:  # data_plane="sdk"
            return None
        signer = TokenSigner(self.pool.authenticate, renewable=self.pool.renewable)
        try:
            endpoint = signer.endpoint()
        except swift_errors() as error:
            raise self.error(error, None) from error
        if not use_lean_plane(connection.data_plane, endpoint):
            return None
        subject = Subject("Swift", signer.storage_url())
        wire = SwiftWire(self._http, signer, endpoint, subject, self._settings.mode)
        self._segment_reads = SegmentReads(wire)
        return wire

    # --- errors ---------------------------------------------------------

    def error(
        self, error: BaseException, bucket: str | None, key: str | None = None, attempts: int = 1
    ) -> Exception:
        return translate(error, self._subject.on(bucket, key), self._settings.mode, attempts)

    @contextmanager
    def mapped(self, bucket: str | None = None, key: str | None = None) -> Iterator[Any]:
        """A pooled connection; swiftclient's errors leave as ours."""
        with self.pool.connection() as conn:
            try:
                yield conn
            except swift_errors() as error:
                # swiftclient counts the tries of its last request (5xx, resets)
                tries = max(1, int(getattr(conn, "attempts", 1) or 1))
                raise self.error(error, bucket, key, tries) from error

    # --- buckets --------------------------------------------------------

    def create_bucket(self, name: str, location: str | None) -> BucketInfo:
        # a container PUT succeeds (202) on an existing one: look first
        if self.head_bucket(name) is not None:
            raise DuplicateResourceException(f"bucket {name!r} already exists")
        with self.mapped(name) as conn:
            conn.put_container(name)
        return BucketInfo(name)

    def delete_bucket(self, name: str) -> None:
        self.segments_ready.discard(name)
        try:
            with self.mapped(name) as conn:
                conn.delete_container(name)
        except DuplicateResourceException as error:  # Swift's 409: objects remain
            raise BucketNotEmptyException(f"bucket {name!r} is not empty") from error
        # its open uploads go with it, as on S3: a bucket of the same name
        # made later must not list them (their markers and segments live in
        # <bucket>_segments, which outlives the container otherwise); and the
        # retired segments of its overwritten objects, which nothing reads now
        remove_our_segments(self, name)
        # its segments container goes too, once no segment is left in it
        try:
            with self.mapped(segment_container(name)) as conn:
                conn.delete_container(segment_container(name))
        except (NotFoundException, DuplicateResourceException):
            pass

    def head_bucket(self, name: str) -> BucketInfo | None:
        try:
            with self.mapped(name) as conn:
                conn.head_container(name)
        except (NotFoundException, InvalidValueException):
            return None  # a name Swift cannot hold (400) is no bucket either
        return BucketInfo(name)

    def list_buckets(self, *, marker: str | None, limit: int) -> Page[BucketInfo]:
        """Server-side pages; segment containers are the driver's own and
        are left out (a page may then be short, its marker still says more)."""

        def fetch(asked: int) -> list[dict[str, Any]]:
            with self.mapped() as conn:
                _, containers = conn.get_account(marker=marker, limit=asked)
            return list(containers)

        containers, asked = self.limits.account_listing.page(limit, fetch)
        names = [c["name"] for c in containers]
        shown = [BucketInfo(name) for name in names if not name.endswith(SEGMENTS_SUFFIX)]
        return Page(shown, names[-1] if len(names) == asked else None)

    # --- objects --------------------------------------------------------

    def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
        headers = self.object_headers(bucket, key)
        if headers is None:
            return None
        info = _info(key, headers, self._size_of(bucket, key, headers))
        if self._segment_reads is not None:
            self._segment_reads.saw(bucket, key, headers, info)
        return info

    def object_headers(self, bucket: str, key: str) -> Mapping[str, str] | None:
        """The object's HEAD; None if it is missing."""
        wire = self.wire()
        if wire is not None:
            return wire.head(bucket, key)
        try:
            with self.mapped(bucket, key) as conn:
                headers: Mapping[str, str] = conn.head_object(bucket, key)
        except NotFoundException:
            return None
        return headers

    def list_objects(
        self, bucket: str, *, prefix: str | None, marker: str | None, limit: int
    ) -> Page[ObjectInfo]:
        wire = self.wire()

        def fetch(asked: int) -> list[dict[str, Any]]:
            if wire is not None:
                return wire.listing(bucket, prefix=prefix, marker=marker, limit=asked)
            with self.mapped(bucket) as conn:
                _, listing = conn.get_container(
                    bucket, marker=marker, limit=asked, prefix=prefix or None
                )
            return list(listing)

        listing, asked = self.limits.container_listing.page(limit, fetch)
        items = [_listed(entry) for entry in listing]
        return Page(items, items[-1].key if len(items) == asked else None)

    def list_ahead(
        self, bucket: str, *, prefix: str | None, limit: int
    ) -> Generator[list[ObjectInfo], None, None]:
        """On the lean plane each page is requested while the records of the
        one before are made (a listing of exactly ``limit`` keys ends with an empty page:
        its round trip is then hidden behind the decode)."""
        wire = self.wire()
        if wire is None:
            yield from pages_in_turn(self, bucket, prefix=prefix, limit=limit)
            return
        describe = wire.describe(bucket)

        def fetch(marker: str | None) -> tuple[list[Listed], str | None]:
            data, asked = self.limits.container_listing.page(
                limit,
                lambda asked: wire.listing_raw(bucket, prefix=prefix, marker=marker, limit=asked),
            )
            return decode_page(data, asked, describe)

        with closing(read_ahead(fetch, records_of)) as pages:
            yield from pages

    def list_directory(
        self, bucket: str, *, prefix: str, marker: str | None, limit: int
    ) -> DirectoryPage:
        """One level, by the server (``delimiter=/``): its ``subdir``
        entries are the directories, and ``limit`` counts them with the
        objects. A marker naming a directory resumes past every key below it
        (the server skips a subdir equal to the marker)."""
        wire = self.wire()

        def fetch(asked: int) -> list[dict[str, Any]]:
            if wire is not None:
                return wire.listing(
                    bucket, prefix=prefix, marker=marker, limit=asked, delimiter="/"
                )
            with self.mapped(bucket) as conn:
                _, listing = conn.get_container(
                    bucket, marker=marker, limit=asked, prefix=prefix or None, delimiter="/"
                )
            return list(listing)

        listing, asked = self.limits.container_listing.page(limit, fetch)
        objects = [_listed(entry) for entry in listing if "subdir" not in entry]
        directories = [str(entry["subdir"]) for entry in listing if "subdir" in entry]
        last = listing[-1] if len(listing) == asked else None
        next_marker = None if last is None else str(last.get("subdir") or last["name"])
        return DirectoryPage(objects, directories, next_marker)

    def put_object(self, bucket: str, key: str, body: Body, options: WriteOptions) -> ObjectInfo:
        headers = write_headers(options)  # bad metadata refused before any request
        wire = self.wire()
        if wire is not None:
            sent = lean_headers(options, headers)
            if not options.create_only and body.size <= NEW_KEY_FIRST:
                created = self._put_lean(wire, bucket, key, body, options, sent, if_absent=True)
                if created is not None:
                    return created
            return self._replace_lean(wire, bucket, key, body, options, sent)
        response: dict[str, Any] = {}
        # an SLO replaced by this write: its segments retire (.retire)
        replaced = [] if options.create_only else replaced_segments(self, bucket, key)
        with self.mapped(bucket, key) as conn:
            conn.put_object(
                bucket,
                key,
                contents=body,
                content_length=body.size,
                content_type=options.content_type,
                headers=headers,
                response_dict=response,
            )
        retire_segments(self, bucket, replaced)
        info = self.head_object(bucket, key)
        if info is None:
            raise NotFoundException(f"object {key!r} in bucket {bucket!r} vanished after upload")
        return info

    def _replace_lean(
        self,
        wire: SwiftWire,
        bucket: str,
        key: str,
        body: Body,
        options: WriteOptions,
        sent: dict[str, str],
        sent_before: int = 0,
    ) -> ObjectInfo:
        """The PUT that may replace an object: the SLO there first looked
        for (a HEAD), its segments retired once the PUT is answered."""
        replaced = [] if options.create_only else replaced_segments(self, bucket, key)
        written = self._put_lean(wire, bucket, key, body, options, sent, sent_before=sent_before)
        assert written is not None  # None only for an if_absent PUT
        retire_segments(self, bucket, replaced)
        return written

    def _put_lean(
        self,
        wire: SwiftWire,
        bucket: str,
        key: str,
        body: Body,
        options: WriteOptions,
        sent: dict[str, str],
        *,
        if_absent: bool = False,
        sent_before: int = 0,
    ) -> ObjectInfo | None:
        """One PUT; the info from what was sent and what Swift answered (its
        MD5 and Last-Modified), without a HEAD: Swift's PUT does not return
        the new X-Timestamp, so ``revision`` is None and ``last_modified``
        whole seconds (reads pin to the revision their own response gives).
        ``if_absent``: sent create-only (``If-None-Match: *``) to learn that
        no object, and so no SLO, is replaced; None if one is there."""
        if if_absent:
            sent = {**sent, "if-none-match": "*"}
        reply = wire.put(bucket, key, body, sent, report=frozenset({412}), sent_before=sent_before)
        if reply.status == 412:
            if if_absent:
                # taken, if only by this PUT's own first attempt (its answer
                # lost): the replacing PUT writes this write's metadata over it
                return None
            # a retried create-only PUT may have met its own first attempt
            mine = self._written_by_us(bucket, key, body) if reply.attempts > 1 else None
            if mine is not None:
                return mine
            subject = self._subject.on(bucket, key)
            raise status_error(412, "", subject, self._settings.mode, reply.attempts)
        return written_info(key, body.size, reply.headers, options)

    def _written_by_us(self, bucket: str, key: str, body: Body) -> ObjectInfo | None:
        """The object at ``key`` if it holds ``body``'s bytes (hashed only
        on this rare path)."""
        info = self.head_object(bucket, key)
        if info is None or info.etag != _md5(body):
            return None
        return info

    def read_object(self, bucket: str, key: str, options: ReadOptions) -> ObjectStream:
        headers: dict[str, str] = {}
        if options.start or options.end is not None:
            if options.end is not None and options.end <= options.start:
                return empty_read(self, bucket, key, options)
            last = "" if options.end is None else options.end - 1
            headers["Range"] = f"bytes={options.start}-{last}"
        wire = self.wire()
        if wire is not None:
            return self._read_lean(wire, bucket, key, options, headers)
        # the body streams over the connection's own HTTP state: the connection
        # stays this read's until the stream ends or is closed
        conn = self.pool.borrow()
        try:
            got, body = conn.get_object(
                bucket, key, resp_chunk_size=options.chunk_size, headers=headers
            )
        except swift_errors() as error:
            self.pool.give_back(conn)
            if refused_range(error):
                return empty_read(self, bucket, key, options)
            raise self.error(error, bucket, key, max(1, int(conn.attempts or 1))) from error
        except BaseException:
            self.pool.give_back(conn)
            raise
        release = _Release(body, lambda: self.pool.give_back(conn))
        try:
            info = _info(key, got, self._size_of(bucket, key, got))
        except BaseException:
            release()
            raise
        if options.if_revision is not None and info.revision != options.if_revision:
            release()
            raise PreconditionFailedException(
                f"object {key!r} in bucket {bucket!r} was replaced while being read"
            )
        chunks = self._chunks(body, bucket, key, release)
        if "Range" in headers and "content-range" not in got:  # the whole object
            chunks = within(chunks, options.start, options.end)
        return ObjectStream(info, chunks, release)

    def _size_of(self, bucket: str, key: str, headers: Mapping[str, str]) -> int:
        """The whole object's size from its GET's or HEAD's headers. Swift
        answers a DLO of at least a listing page of segments with no size:
        its GET is chunked, its HEAD states the manifest's own 0 bytes (as
        an empty DLO's does); the size is then its segments' sum."""
        stated = _stated_size(headers)
        manifest = headers.get("x-object-manifest")
        if manifest and not stated:
            return copies.dlo_size(self, bucket, key, manifest)
        if stated is None:
            raise ProviderInternalException(
                f"Swift answered {self._subject.on(bucket, key).describe()} without its size"
            )
        return stated

    def _read_lean(
        self,
        wire: SwiftWire,
        bucket: str,
        key: str,
        options: ReadOptions,
        headers: dict[str, str],
    ) -> ObjectStream:
        if self._segment_reads is not None:
            stream = self._segment_reads.open(bucket, key, options)
            if stream is not None:
                return stream
        response = wire.get(bucket, key, {name.lower(): v for name, v in headers.items()})
        if response is None:
            return empty_read(self, bucket, key, options)
        got = decoded(response.headers)
        try:
            info = _info(key, got, self._size_of(bucket, key, got))
        except BaseException:
            response.close()
            raise
        if options.if_revision is not None and info.revision != options.if_revision:
            response.close()
            raise PreconditionFailedException(
                f"object {key!r} in bucket {bucket!r} was replaced while being read"
            )
        if "Range" in headers and "content-range" not in got:  # the whole object
            chunks = within(response.chunks(options.chunk_size), options.start, options.end)
            return ObjectStream(info, chunks, response.close)
        return ObjectStream(
            info,
            response.chunks(options.chunk_size),
            response.close,
            readinto=response.readinto,
        )

    def _chunks(
        self, body: Any, bucket: str, key: str, release: Callable[[], None]
    ) -> Iterator[bytes]:
        try:
            for chunk in body:
                if chunk:
                    yield chunk
        except network_errors() as error:
            raise self.error(error, bucket, key) from error
        finally:
            release()

    def copy_object(
        self,
        source_bucket: str,
        source: ObjectInfo,
        bucket: str,
        key: str,
        options: WriteOptions,
    ) -> ObjectInfo:
        """Inside Swift (:mod:`.copies`): one copy request for a plain
        object; an SLO, or a create-only copy, copies segments and writes a
        manifest."""
        return copies.copy_object(self, source_bucket, source, bucket, key, options)

    def delete_object(self, bucket: str, key: str) -> None:
        """An SLO's manifest goes, and its segments retire (:mod:`.retire`:
        Swift deletes them after the grace); with no grace they go at once,
        by ``multipart-manifest=delete``, which Swift refuses on a plain
        object, so the HEAD says which it is."""
        if self.segment_grace:
            replaced = replaced_segments(self, bucket, key)
            try:
                with self.mapped(bucket, key) as conn:
                    conn.delete_object(bucket, key)
            except NotFoundException:
                pass
            retire_segments(self, bucket, replaced)
            return
        try:
            headers = self.object_headers(bucket, key)
            # None may still be a DLO whose segments' container is gone
            # (Swift answers its HEAD 404): a plain delete removes it
            is_slo = headers is not None and (
                headers.get("x-static-large-object", "").lower() == "true"
            )
            query = "multipart-manifest=delete" if is_slo else None
            with self.mapped(bucket, key) as conn:
                conn.delete_object(bucket, key, query_string=query)
        except NotFoundException:
            pass

    # --- multipart (SLO) -------------------------------------------------

    def start_multipart(self, bucket: str, key: str, options: WriteOptions) -> SloUpload:
        return SloUpload.start(self, bucket, key)

    def resume_multipart(self, bucket: str, key: str, upload_id: str) -> SloUpload:
        return SloUpload(self, bucket, key, upload_id)

    def list_multipart(self, bucket: str) -> Iterator[UploadInfo]:
        return list_uploads(self, bucket)

    def _published_info(self) -> Mapping[str, Any]:
        """The cluster's ``/info`` (:class:`.limits.PublishedLimits` reads it once)."""
        with self.mapped() as conn:
            info: Mapping[str, Any] = conn.get_capabilities()
        return info

    # --- temp URLs ------------------------------------------------------

    def sign_url(self, bucket: str, key: str, request: UrlRequest) -> str:
        return self._signer.sign(bucket, key, request)


class _Multiplexed:
    """What Swift's small reads and writes share: the driver, its lean
    client, and the wire wherever the multiplexer may use it."""

    __slots__ = ("_driver", "_http")

    def __init__(self, driver: SwiftDriver, http: HttpClient) -> None:
        self._driver = driver
        self._http = http

    @property
    def client(self) -> HttpClient:
        return self._http

    def _wire(self) -> SwiftWire | None:
        """None where the blocking call must go: a storage URL the auth gave
        that is not http or https (or is proxied), or an auth that failed
        (the blocking call raises it)."""
        try:
            wire = self._driver.wire()
        except BucketBridgeException:
            return None
        return wire if wire is not None and multiplexes(wire.endpoint) else None


class SwiftSmallReads(_Multiplexed):
    """:class:`~bucketbridge.drivers.base.SmallReads` on the lean plane: the
    GET of :meth:`SwiftDriver.read_object` (a whole object, unconditional:
    a Swift listing names no revision), split into its request and the
    reading of its answer. A manifest's GET serves the joined content; the
    listed size says whether that is the object listed (an SLO lists its
    whole size, a DLO 0: the blocking read's)."""

    __slots__ = ()

    def small_read(self, bucket: str, key: str, listed: ObjectInfo) -> Exchange | None:
        """None where the blocking read must go: an empty object (a DLO
        lists 0), or where the multiplexer may not (``_wire``)."""
        if listed.key != key or listed.size <= 0:
            return None
        wire = self._wire()
        return None if wire is None else wire.small_read(bucket, key)

    def small_result(
        self, bucket: str, key: str, listed: ObjectInfo, answer: Answer
    ) -> ObjectInfo | None:
        """The record :meth:`SwiftDriver.read_object` makes of the answer;
        None where it must decide (401: it renews the token; 404, 412; a
        body or Content-Length not the listed size: replaced since, or a
        manifest whose joined content is not what was listed); the
        exception it raises for any other error status."""
        status = answer.status
        if status in (401, 404, 412):
            return None
        wire = self._driver.wire()
        if wire is None:  # the wire made the request: never here
            return None
        if status >= 300:
            raise wire.answered_error(answer, bucket, key)
        headers = decoded(answer.headers)
        served = headers.get("content-length")
        if served != str(listed.size) or len(answer.body) != listed.size:
            return None
        return _info(key, headers, listed.size)


class SwiftSmallWrites(_Multiplexed):
    """:class:`~bucketbridge.drivers.base.SmallWrites` on the lean plane:
    the create-first PUT of :meth:`SwiftDriver.put_object` (every small
    write is sent ``If-None-Match: *``), split into its request and the
    reading of its answer. A 412 of a write that may replace an object says
    the key is taken: the blocking put then looks for an SLO there and
    replaces it (``put_again``)."""

    __slots__ = ()

    def small_write(
        self, bucket: str, key: str, body: bytes, options: WriteOptions
    ) -> Exchange | None:
        """None where the blocking put must go: a body over NEW_KEY_FIRST
        (not put create-first: the blocking put looks for an SLO first), or
        where the multiplexer may not (``_wire``)."""
        wire = self._wire()
        if wire is None or len(body) > NEW_KEY_FIRST:
            return None
        sent = lean_headers(options, write_headers(options))
        sent["if-none-match"] = "*"
        return wire.small_put(bucket, key, body, sent)

    def small_written(
        self, bucket: str, key: str, body: bytes, options: WriteOptions, answer: Answer
    ) -> ObjectInfo | None:
        """The record :meth:`SwiftDriver.put_object` makes of the answer;
        None where the blocking put must decide (401: it renews the token;
        a 412 of a write that may replace: the key is taken); the exception
        it raises for any other error status (a create-only write's 412:
        the first copy met someone else's object)."""
        status = answer.status
        if status == 401 or (status == 412 and not options.create_only):
            return None
        wire = self._driver.wire()
        if wire is None:  # the wire made the request: never here
            return None
        if status >= 300:
            raise wire.answered_error(answer, bucket, key)
        return written_info(key, len(body), decoded(answer.headers), options)

    def put_again(self, bucket: str, key: str, body: Body, options: WriteOptions) -> ObjectInfo:
        """The blocking put of a write whose multiplexed copy was refused
        (the key taken) or got no usable answer, that copy counted as its
        first attempt: the PUT that may replace an object (an SLO there
        looked for first), or a create-only one that tells its own first
        copy from someone else's object."""
        driver = self._driver
        wire = driver.wire()
        if wire is None:  # the wire made the multiplexed request: never here
            return driver.put_object(bucket, key, body, options)
        sent = lean_headers(options, write_headers(options))
        return driver._replace_lean(wire, bucket, key, body, options, sent, sent_before=1)


def _may_multiplex(settings: SwiftSettings) -> bool:
    """Whether the small reads may be multiplexed: the storage URL http or
    https and not proxied. Where the auth hands the storage URL out (v1, or
    Keystone without ``os_storage_url``), the auth URL's scheme stands for
    it until then; a storage URL that turns out not to be http or https has
    each small read take the blocking path (``SwiftSmallReads.small_read``)."""
    url = settings.storage_url if settings.mode != "v1" else None
    url = url or settings.auth_url
    if not url:
        return False
    try:
        endpoint = Endpoint.parse(url)
    except InvalidConfigurationException:
        return False  # the first hot call reports it
    return multiplexes(endpoint) and use_lean_plane(settings.connection.data_plane, endpoint)


class _Release:
    """Closes a read's body and returns its connection to the pool, once
    (the stream's end and its ``close`` may both call it)."""

    def __init__(self, body: Any, give_back: Callable[[], None]) -> None:
        self._body = body
        self._give_back: Callable[[], None] | None = give_back
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            give_back, self._give_back = self._give_back, None
        if give_back is not None:
            try:
                self._body.close()
            finally:
                give_back()


def write_headers(options: WriteOptions) -> dict[str, str]:
    headers = metadata.to_headers(options.metadata)
    if options.create_only:
        headers["If-None-Match"] = "*"
    return headers


def lean_headers(options: WriteOptions, headers: Mapping[str, str]) -> dict[str, str]:
    """A lean PUT's headers, ``write_headers(options)`` named as the wire
    sends them (lower-case) and the content type."""
    sent = {name.lower(): value for name, value in headers.items()}
    sent["content-type"] = options.content_type
    return sent


def _timestamp(headers: Mapping[str, str]) -> datetime:
    value = headers.get("x-timestamp")
    if value:
        return datetime.fromtimestamp(float(value), timezone.utc)
    return datetime.now(timezone.utc)


def _md5(body: Body) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    body.seek(0)
    while block := body.read(1024 * 1024):
        digest.update(block)
    return digest.hexdigest()


def _info(key: str, headers: Mapping[str, str], size: int) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=size,
        last_modified=_timestamp(headers),
        etag=(headers.get("etag") or "").strip('"') or None,
        content_type=headers.get("content-type") or "application/octet-stream",
        metadata=metadata.from_headers(headers),
        revision=headers.get("x-timestamp"),
    )


def _listed(entry: Mapping[str, Any]) -> ObjectInfo:
    etag = str(entry.get("slo_etag") or entry.get("hash") or "").strip('"')
    content_type = str(entry.get("content_type") or "").split(";swift_bytes=")[0]
    return ObjectInfo(
        key=entry["name"],
        size=int(entry["bytes"]),
        last_modified=utc_time(entry["last_modified"]),
        etag=etag or None,
        content_type=content_type or None,
    )


def _stated_size(headers: Mapping[str, str]) -> int | None:
    """The whole object's size as an answer states it (a range's total,
    else its length), or None where it states none."""
    content_range = headers.get("content-range")
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        return int(total) if total.isdigit() else None  # "*": not known
    length = headers.get("content-length")
    return int(length) if length is not None and length.isdigit() else None
