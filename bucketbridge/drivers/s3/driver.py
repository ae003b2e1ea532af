"""The AWS provider: S3 and every S3-compatible server, over boto3.

One boto3 client per driver (boto3 clients are thread-safe), one S3 request
per primitive. The hot calls (HeadObject, GetObject, PutObject, UploadPart,
ListObjectsV2, DeleteObject) take the lean data plane (:mod:`.wire`) unless
``data_plane="sdk"`` or the endpoint is proxied; both paths map errors with
:mod:`.errors`. Listings are paged by the server (ListObjectsV2
``StartAfter`` with the last key as our marker) and parsed by :mod:`.listing`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

from botocore.exceptions import BotoCoreError, ClientError

from ...config import Settings
from ...dataplane.client import HttpClient, Response
from ...dataplane.multiplex import Answer, Exchange
from ...dataplane.multiplex import supports as multiplexes
from ...dataplane.request import Endpoint
from ...dataplane.selection import use_lean_plane
from ...errors import (
    BucketBridgeException,
    NotFoundException,
    PermissionDeniedException,
    PreconditionFailedException,
    ProviderConnectionException,
    ProviderInternalException,
)
from ..base import CopiesObjects, Driver, ListsDirectories, SmallWrites
from ..http_errors import Subject
from ..paging import page_of_names, pages_in_turn, read_ahead
from ..ranges import empty_read
from ..records import (
    Body,
    BucketInfo,
    DirectoryPage,
    ObjectInfo,
    ObjectStream,
    Page,
    PartInfo,
    ReadOptions,
    UploadInfo,
    UrlRequest,
    WriteOptions,
)
from . import copies
from .client import S3Settings, SdkClient, read_settings
from .control import FailedDelete, ListedUpload, S3ControlWire, Started, UploadsPage
from .errors import (
    Credentials,
    ErrorResponse,
    S3ResponseError,
    error_code,
    http_status,
    network_errors,
    permission_denied,
)
from .errors import translate as translate_error
from .listing import (
    EVENT,
    PREFIXES_KEY,
    RESULT_KEY,
    TOKEN_KEY,
    TRUNCATED_KEY,
    Listed,
    directory_from_botocore,
    from_botocore,
    parse_list_body,
    parse_listing,
    whole_second,
)
from .lost_starts import failed_start_leftovers, leftovers
from .own_writes import body_etag, multipart_etag, retried_into_precondition
from .sigv4 import SigV4Signer
from .wire import (
    Put,
    WrongRegion,
    date_of,
    error_of,
    object_info,
    total_size,
    virtual_hosted,
)

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

log = logging.getLogger("bucketbridge")
T = TypeVar("T")

LEGACY_REGION = "us-east-1"
_TOKEN_MARKER = "t:"
_NAME_MARKER = "n:"


def create_driver(settings: Settings) -> S3Driver:
    return S3Driver(read_settings(settings))


# The factory loads drivers by name; this line has mypy compare the driver
# with the Driver protocol.
_checked: Callable[[Settings], Driver] = create_driver


class S3Driver:
    provider_id = "aws"
    max_batch = 1000  # DeleteObjects' limit

    def __init__(self, settings: S3Settings) -> None:
        self._settings = settings
        self._sdk = SdkClient(
            settings, lambda client: client.meta.events.register(EVENT, parse_listing)
        )
        self._subject = Subject("S3", self._sdk.endpoint_url)
        self._who = Credentials(self._access_key_id, settings.session_token is not None)
        self._wire = self._lean_wire()
        if self._wire is None:
            self._sdk.build()  # every call takes the SDK: made now, so bad settings fail here
        # whole reads of small objects the core multiplexes (base.SmallReads):
        # lean plane, http or https (see dataplane.multiplex)
        self.small_reads: S3SmallReads | None = None
        if self._wire is not None and multiplexes(self._wire.endpoint):
            self.small_reads = S3SmallReads(self, self._wire)
            self.small_writes: S3SmallWrites | None = S3SmallWrites(self, self._wire)
        else:
            self.small_writes = None
        # buckets that answered the lean plane from another region: botocore's
        # redirector follows them (see wire.WrongRegion)
        self._redirected: set[str] = set()
        # buckets a copy went into (copies._check_bucket)
        self._copy_targets: set[str] = set()

    def __repr__(self) -> str:
        return f"<S3Driver {self._subject.endpoint} region={self._settings.region}>"

    @property
    def _client(self) -> S3Client:
        return self._sdk.client

    @property
    def _session(self) -> boto3.session.Session:
        return self._sdk.session

    def close(self) -> None:
        if self._wire is not None:
            self._wire.close()
        self._sdk.close()

    # --- the data plane -------------------------------------------------

    def _lean_wire(self) -> S3ControlWire | None:
        """The lean plane, where it can address requests as botocore does:
        not for accelerated or dual-stack endpoints, whose host botocore
        picks per request (they stay on the SDK, as a proxied endpoint does)."""
        endpoint = Endpoint.parse(self._sdk.endpoint_url)
        if not use_lean_plane(self._settings.connection.data_plane, endpoint):
            return None
        # a given endpoint is never accelerated nor dual-stack (botocore refuses both)
        config = None if self._sdk.deferred else self._client.meta.config
        s3_config = getattr(config, "s3", None) or {}
        if (
            s3_config.get("use_accelerate_endpoint")
            or s3_config.get("use_dualstack_endpoint")
            or getattr(config, "use_dualstack_endpoint", False)
        ):
            log.info("S3 accelerate or dual-stack endpoint: requests stay on the SDK")
            return None
        signer = SigV4Signer(self._sdk.credentials, self._sdk.region)
        return S3ControlWire(
            HttpClient(self._settings.connection, verify=self._settings.verify),
            signer,
            endpoint,
            virtual_hosted=virtual_hosted(
                self._settings.addressing_style, self._settings.endpoint_url is not None
            ),
            subject=self._subject,
        )

    def _call(self, bucket: str, lean: Callable[[S3ControlWire], T], sdk: Callable[[], T]) -> T:
        """``lean`` on the lean plane where it can be right, else ``sdk``."""
        wire = self._wire
        if wire is not None and bucket not in self._redirected:
            try:
                return lean(wire)
            except WrongRegion as moved:
                log.info("bucket %r answered %s: its requests go through the SDK", bucket, moved)
                self._redirected.add(bucket)
        return sdk()

    # --- errors ---------------------------------------------------------

    def _access_key_id(self) -> str | None:
        credentials = self._sdk.credentials()
        return credentials.access_key if credentials is not None else None

    def _error(self, error: Exception, bucket: str | None, key: str | None = None) -> Exception:
        return translate_error(error, self._subject.on(bucket, key), self._who)

    @contextmanager
    def _mapped(self, bucket: str | None = None, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except (BotoCoreError, *ErrorResponse) as error:
            raise self._error(error, bucket, key) from error

    def _why_forbidden(self, bucket: str) -> str:
        """A HEAD answered 403 has no body to say why; ask with a GET that has
        one, so the message can tell a wrong key from a missing permission."""
        try:
            self._call(
                bucket,
                lambda wire: wire.list_objects(bucket, prefix=None, start_after=None, max_keys=0),
                lambda: self._client.list_objects_v2(Bucket=bucket, MaxKeys=0),
            )
        except ErrorResponse as probe:
            return error_code(probe)
        except BotoCoreError:
            pass
        return "AccessDenied"

    def _denied(self, code: str, bucket: str, key: str | None) -> PermissionDeniedException:
        return permission_denied(code, self._subject.on(bucket, key), self._who)

    # --- buckets --------------------------------------------------------

    def create_bucket(self, name: str, location: str | None) -> BucketInfo:
        region = location or self._settings.region
        args: dict[str, Any] = {"Bucket": name}
        if region == LEGACY_REGION:
            # us-east-1 answers 200 when you re-create a bucket you own, so
            # a duplicate there is only seen by looking first.
            if self._bucket_is_mine(name):
                duplicate = ClientError(
                    {"Error": {"Code": "BucketAlreadyOwnedByYou"}}, "CreateBucket"
                )
                raise self._error(duplicate, name)
        else:
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        constraint = args.get("CreateBucketConfiguration", {}).get("LocationConstraint")
        with self._mapped(name):
            self._call(
                name,
                lambda wire: wire.create_bucket(name, constraint),
                lambda: self._client.create_bucket(**args),
            )
        return BucketInfo(name)

    def _bucket_is_mine(self, name: str) -> bool:
        try:
            with self._mapped(name):
                self._call(
                    name,
                    lambda wire: wire.head_bucket(name),
                    lambda: self._client.head_bucket(Bucket=name),
                )
        except NotFoundException:
            return False
        except PermissionDeniedException:
            return False  # someone else's, or our credentials are wrong: create will say which
        return True

    def delete_bucket(self, name: str) -> None:
        self._copy_targets.discard(name)
        with self._mapped(name):
            self._call(
                name,
                lambda wire: wire.delete_bucket(name),
                lambda: self._client.delete_bucket(Bucket=name),
            )

    def head_bucket(self, name: str) -> BucketInfo | None:
        try:
            self._call(
                name,
                lambda wire: wire.head_bucket(name),
                lambda: self._client.head_bucket(Bucket=name),
            )
        except ErrorResponse as error:
            status = http_status(error)
            if status == 404:
                return None
            if status == 403:
                code = self._why_forbidden(name)
                if code == "AccessDenied":
                    # It exists but these credentials may not list it: CloudBridge
                    # returns such a bucket, for the objects they may reach.
                    return BucketInfo(name)
                raise self._denied(code, name, None) from error
            raise self._error(error, name) from error
        except BotoCoreError as error:
            raise self._error(error, name) from error
        return BucketInfo(name)

    def list_buckets(self, *, marker: str | None, limit: int) -> Page[BucketInfo]:
        """Server-side pages where the server gives a continuation token (AWS,
        SeaweedFS). A server that cuts the list without one, or ignores
        MaxBuckets (moto), is paged here, by name, from its whole list."""
        if marker is not None and marker.startswith(_NAME_MARKER):
            return _page_by_name(self._bucket_names(), marker[len(_NAME_MARKER) :], limit)
        args: dict[str, Any] = {"MaxBuckets": min(limit, 10_000)}
        if marker is not None:
            args["ContinuationToken"] = marker[len(_TOKEN_MARKER) :]
        with self._mapped():
            response = self._client.list_buckets(**args)
        names = sorted(bucket["Name"] for bucket in response.get("Buckets", []))
        token = response.get("ContinuationToken")
        if token:
            return Page([BucketInfo(name) for name in names], _TOKEN_MARKER + token)
        # No token on a page that followed one: the server pages with tokens
        # and this is its last page, even one of exactly ``limit`` names.
        if len(names) < limit or (marker is not None and len(names) == limit):
            return Page([BucketInfo(name) for name in names], None)
        return _page_by_name(names if len(names) > limit else self._bucket_names(), "", limit)

    def _bucket_names(self) -> list[str]:
        with self._mapped():
            response = self._client.list_buckets()
        return sorted(bucket["Name"] for bucket in response.get("Buckets", []))

    # --- objects --------------------------------------------------------

    def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            return self._call(
                bucket,
                lambda wire: wire.head_object(bucket, key),
                lambda: self._sdk_head(bucket, key),
            )
        except ErrorResponse as error:
            status = http_status(error)
            if status == 404:
                return None
            if status == 403:
                raise self._denied(self._why_forbidden(bucket), bucket, key) from error
            raise self._error(error, bucket, key) from error
        except BotoCoreError as error:
            raise self._error(error, bucket, key) from error

    def _sdk_head(self, bucket: str, key: str) -> ObjectInfo:
        response = self._client.head_object(Bucket=bucket, Key=key)
        return _info(key, response, response["ContentLength"])

    def list_objects(
        self, bucket: str, *, prefix: str | None, marker: str | None, limit: int
    ) -> Page[ObjectInfo]:
        max_keys = min(limit, 1000)
        with self._mapped(bucket):
            items, truncated = self._call(
                bucket,
                lambda wire: wire.list_objects(
                    bucket, prefix=prefix, start_after=marker, max_keys=max_keys
                ),
                lambda: self._sdk_list(bucket, prefix, marker, max_keys),
            )
        return Page(items, items[-1].key if truncated and items else None)

    def list_ahead(
        self, bucket: str, *, prefix: str | None, limit: int
    ) -> Generator[list[ObjectInfo], None, None]:
        """On the lean plane each page is requested while the one before is
        parsed (SeaweedFS takes ~15 ms a page of 1,000, the parse ~3 ms of
        CPU), resumed at the server's continuation token; on the SDK plane,
        or for a bucket botocore must redirect, page after page."""
        wire = self._wire
        max_keys = min(limit, 1000)
        last: str | None = None  # the last key handed out: where the SDK resumes
        if wire is not None and bucket not in self._redirected:
            pages = read_ahead(
                lambda marker: wire.list_raw(
                    bucket, prefix=prefix, marker=marker, max_keys=max_keys
                ),
                lambda body: parse_list_body(body)[0],
            )
            with closing(pages):
                try:
                    while True:
                        with self._mapped(bucket):
                            try:
                                records = next(pages)
                            except StopIteration:
                                return
                        if records:
                            last = records[-1].key
                        yield records
                except WrongRegion as moved:
                    log.info(
                        "bucket %r answered %s: its requests go through the SDK", bucket, moved
                    )
                    self._redirected.add(bucket)
        yield from pages_in_turn(self, bucket, prefix=prefix, limit=max_keys, marker=last)

    def _sdk_list(
        self, bucket: str, prefix: str | None, marker: str | None, max_keys: int
    ) -> tuple[list[ObjectInfo], bool]:
        args: dict[str, Any] = {"Bucket": bucket, "MaxKeys": max_keys}
        if prefix:
            args["Prefix"] = prefix
        if marker:
            args["StartAfter"] = marker
        response: Mapping[str, Any] = self._client.list_objects_v2(**args)
        if RESULT_KEY in response:
            return response[RESULT_KEY], bool(response[TRUNCATED_KEY])
        return from_botocore(response)

    @property
    def lists_directories_exactly(self) -> bool:
        """False under ``s3_delimiter_listing = false`` (see ListsDirectoriesInexactly)."""
        return self._settings.delimiter_listing

    def list_directory(
        self, bucket: str, *, prefix: str, marker: str | None, limit: int
    ) -> DirectoryPage:
        """ListObjectsV2 with ``Delimiter=/``: its CommonPrefixes are the
        directories, MaxKeys counts them with the objects, and the marker is
        the server's continuation token."""
        max_keys = min(limit, 1000)
        with self._mapped(bucket):
            listed = self._call(
                bucket,
                lambda wire: wire.list_directory(
                    bucket, prefix=prefix, token=marker, max_keys=max_keys
                ),
                lambda: self._sdk_list_directory(bucket, prefix, marker, max_keys),
            )
        if listed.truncated and listed.next_token is None:
            raise ProviderInternalException(
                f"S3 endpoint {self._subject.endpoint} cut the listing of bucket {bucket!r}"
                f" prefix {prefix!r} without a continuation token"
            )
        return DirectoryPage(listed.objects, listed.prefixes, listed.next_token)

    def _sdk_list_directory(
        self, bucket: str, prefix: str, token: str | None, max_keys: int
    ) -> Listed:
        args: dict[str, Any] = {"Bucket": bucket, "Delimiter": "/", "MaxKeys": max_keys}
        if prefix:
            args["Prefix"] = prefix
        if token:
            args["ContinuationToken"] = token
        response: Mapping[str, Any] = self._client.list_objects_v2(**args)
        if RESULT_KEY in response:
            return Listed(
                response[RESULT_KEY],
                response[PREFIXES_KEY],
                bool(response[TRUNCATED_KEY]),
                response[TOKEN_KEY],
            )
        return directory_from_botocore(response)

    def put_object(self, bucket: str, key: str, body: Body, options: WriteOptions) -> ObjectInfo:
        return self._put(bucket, key, body, options, 0)

    def _put(
        self, bucket: str, key: str, body: Body, options: WriteOptions, sent_before: int
    ) -> ObjectInfo:
        """:meth:`put_object`, ``sent_before`` copies of it already sent by
        the multiplexer (:class:`S3SmallWrites`): a create-only 412 after
        them is checked against our bytes, as one after a retry."""
        try:
            put = self._call(
                bucket,
                lambda wire: wire.put_object(
                    bucket,
                    key,
                    body,
                    content_type=options.content_type,
                    metadata=options.metadata,
                    create_only=options.create_only,
                    sent_before=sent_before,
                ),
                lambda: self._sdk_put(bucket, key, body, options),
            )
        except ErrorResponse as error:
            if options.create_only and (
                retried_into_precondition(error) or (sent_before and http_status(error) == 412)
            ):
                mine = self._written_by_us(bucket, key, body_etag(body))
                if mine is not None:
                    return mine
            raise self._error(error, bucket, key) from error
        except BotoCoreError as error:
            raise self._error(error, bucket, key) from error
        return _put_info(key, body.size, put.etag, put.date, options)

    def _sdk_put(self, bucket: str, key: str, body: Body, options: WriteOptions) -> Put:
        args: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "Body": body,
            "ContentLength": body.size,
            "ContentType": options.content_type,
            "Metadata": dict(options.metadata),
        }
        if options.create_only:
            args["IfNoneMatch"] = "*"
        response = self._client.put_object(**args)
        return Put(response.get("ETag"), _response_date(response))

    def read_object(self, bucket: str, key: str, options: ReadOptions) -> ObjectStream:
        byte_range = None
        if options.start or options.end is not None:
            if options.end is not None and options.end <= options.start:
                return empty_read(self, bucket, key, options)
            last = "" if options.end is None else options.end - 1
            byte_range = f"bytes={options.start}-{last}"
        try:
            return self._call(
                bucket,
                lambda wire: _lean_stream(
                    *wire.read_object(
                        bucket, key, byte_range=byte_range, if_match=options.if_revision
                    ),
                    options.chunk_size,
                ),
                lambda: self._sdk_read(bucket, key, byte_range, options),
            )
        except ErrorResponse as error:
            if error_code(error) == "InvalidRange":  # starts at or past the end
                return empty_read(self, bucket, key, options)
            if http_status(error) == 412:
                raise PreconditionFailedException(
                    f"object {key!r} in bucket {bucket!r} was replaced while being read"
                ) from error
            raise self._error(error, bucket, key) from error
        except BotoCoreError as error:
            raise self._error(error, bucket, key) from error

    def _sdk_read(
        self, bucket: str, key: str, byte_range: str | None, options: ReadOptions
    ) -> ObjectStream:
        args: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if byte_range is not None:
            args["Range"] = byte_range
        if options.if_revision is not None:
            args["IfMatch"] = options.if_revision  # the revision is the ETag
        response = self._client.get_object(**args)
        info = _info(key, response, _total_size(response))
        return ObjectStream(
            info, self._chunks(response, options.chunk_size, bucket, key), response["Body"].close
        )

    def _chunks(
        self, response: GetObjectOutputTypeDef, chunk_size: int, bucket: str, key: str
    ) -> Iterator[bytes]:
        body = response["Body"]
        try:
            while chunk := body.read(chunk_size):
                yield chunk
        except network_errors() as error:
            raise self._error(error, bucket, key) from error
        finally:
            body.close()

    def copy_object(
        self,
        source_bucket: str,
        source: ObjectInfo,
        bucket: str,
        key: str,
        options: WriteOptions,
    ) -> ObjectInfo:
        """CopyObject, or a multipart copy above ``s3_copy_threshold``
        (:mod:`.copies`)."""
        return copies.copy_object(self, source_bucket, source, bucket, key, options)

    def _written_by_us(self, bucket: str, key: str, etag: str | None) -> ObjectInfo | None:
        """The object at ``key`` if its ETag is the one our write gives it:
        a retried create-only write met the object its lost first attempt
        stored (see :mod:`.own_writes`)."""
        if etag is None:
            return None
        info = self.head_object(bucket, key)
        return info if info is not None and info.etag == etag else None

    def delete_object(self, bucket: str, key: str) -> None:
        with self._mapped(bucket, key):
            self._call(
                bucket,
                lambda wire: wire.delete_object(bucket, key),
                lambda: self._sdk_delete(bucket, key),
            )

    def _sdk_delete(self, bucket: str, key: str) -> None:
        self._client.delete_object(Bucket=bucket, Key=key)

    def delete_objects(self, bucket: str, keys: Sequence[str]) -> None:
        with self._mapped(bucket):
            failures = self._call(
                bucket,
                lambda wire: wire.delete_objects(bucket, keys),
                lambda: self._sdk_delete_objects(bucket, keys),
            )
        if failures:
            first = failures[0]
            error = S3ResponseError(0, first.code, first.message, 1)
            raise self._error(error, bucket, first.key) from error

    def _sdk_delete_objects(self, bucket: str, keys: Sequence[str]) -> list[FailedDelete]:
        objects: list[Any] = [{"Key": key} for key in keys]
        response = self._client.delete_objects(
            Bucket=bucket, Delete={"Objects": objects, "Quiet": True}
        )
        return [
            FailedDelete(
                failure.get("Key", ""), failure.get("Code", ""), failure.get("Message", "")
            )
            for failure in response.get("Errors") or []
        ]

    # --- multipart ------------------------------------------------------

    def start_multipart(self, bucket: str, key: str, options: WriteOptions) -> _S3Upload:
        began = time.monotonic()
        try:
            with self._mapped(bucket, key):
                started = self._call(
                    bucket,
                    lambda wire: wire.create_multipart(
                        bucket, key, content_type=options.content_type, metadata=options.metadata
                    ),
                    lambda: self._sdk_create_multipart(bucket, key, options),
                )
        except ProviderConnectionException:
            # no answer to any copy, each of which may have made an upload
            # whose id nobody holds
            self._abort_failed_starts(bucket, key, began)
            raise
        if started.attempts > 1:  # only a retried start pays for the listing
            self._abort_lost_starts(bucket, key, started, time.monotonic() - began)
        return _S3Upload(self, bucket, key, started.upload_id)

    def _sdk_create_multipart(self, bucket: str, key: str, options: WriteOptions) -> Started:
        response = self._client.create_multipart_upload(
            Bucket=bucket,
            Key=key,
            ContentType=options.content_type,
            Metadata=dict(options.metadata),
        )
        retries = int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
        return Started(response["UploadId"], retries + 1)

    def _abort_lost_starts(self, bucket: str, key: str, started: Started, elapsed: float) -> None:
        """Abort the uploads an earlier copy of a retried start made, whose
        answer was lost (:mod:`.lost_starts` says which are safe to). Best
        effort: the upload in hand is sound, so a failure here is logged,
        not raised; ``abort_incomplete_uploads`` can still remove them."""
        try:
            listed = self._uploads_of(bucket, key)
        except BucketBridgeException as error:
            log.warning("could not list %r's uploads after a retried start: %s", key, error)
            return
        found = leftovers(listed, key, started.upload_id, started.attempts, elapsed)
        self._abort_leftovers(bucket, key, found, "made by a start whose answer was lost")

    def _abort_failed_starts(self, bucket: str, key: str, began: float) -> None:
        """Abort the uploads the copies of a start that got no answer may
        have made (:func:`.lost_starts.failed_start_leftovers`). Best
        effort, as :meth:`_abort_lost_starts`: the start's own error is
        what the caller is told."""
        try:
            listed, answered = self._uploads_of(bucket, key, dated=True)
        except BucketBridgeException as error:
            log.warning("could not list %r's uploads after a failed start: %s", key, error)
            return
        sent = self._settings.connection.max_attempts
        elapsed = time.monotonic() - began
        found = failed_start_leftovers(listed, key, sent, elapsed, answered)
        self._abort_leftovers(bucket, key, found, "its start got no answer")

    def _abort_leftovers(self, bucket: str, key: str, upload_ids: list[str], why: str) -> None:
        """Abort each of ``key``'s ``upload_ids``, logging ``why``; a failed
        abort is logged, not raised (the upload stays listed)."""
        for upload_id in upload_ids:
            log.info("aborting upload %s of %r: %s", upload_id, key, why)
            try:
                _S3Upload(self, bucket, key, upload_id).abort()
            except BucketBridgeException as error:
                log.warning("could not abort upload %s of %r: %s", upload_id, key, error)

    @overload
    def _uploads_of(self, bucket: str, key: str) -> list[ListedUpload]: ...
    @overload
    def _uploads_of(
        self, bucket: str, key: str, *, dated: Literal[True]
    ) -> tuple[list[ListedUpload], datetime | None]: ...
    def _uploads_of(
        self, bucket: str, key: str, *, dated: bool = False
    ) -> list[ListedUpload] | tuple[list[ListedUpload], datetime | None]:
        """The open uploads of ``key`` (listed by it as a prefix: longer keys
        sort after it, so the walk stops at the first of them)."""
        found: list[ListedUpload] = []
        key_marker = upload_id_marker = ""
        while True:
            page = self._list_multipart_page(bucket, key_marker, upload_id_marker, prefix=key)
            found.extend(upload for upload in page.uploads if upload.key == key)
            if not page.truncated or any(upload.key > key for upload in page.uploads):
                return (found, page.date) if dated else found
            key_marker, upload_id_marker = page.next_key_marker, page.next_upload_id_marker

    def resume_multipart(self, bucket: str, key: str, upload_id: str) -> _S3Upload:
        return _S3Upload(self, bucket, key, upload_id)

    def list_multipart(self, bucket: str) -> Iterator[UploadInfo]:
        key_marker = upload_id_marker = ""
        while True:
            page = self._list_multipart_page(bucket, key_marker, upload_id_marker)
            for upload in page.uploads:
                yield UploadInfo(upload.key, upload.upload_id, upload.initiated)
            if not page.truncated:
                return
            key_marker, upload_id_marker = page.next_key_marker, page.next_upload_id_marker

    def _list_multipart_page(
        self, bucket: str, key_marker: str, upload_id_marker: str, prefix: str = ""
    ) -> UploadsPage:
        with self._mapped(bucket):
            return self._call(
                bucket,
                lambda wire: wire.list_multipart(
                    bucket,
                    key_marker=key_marker,
                    upload_id_marker=upload_id_marker,
                    prefix=prefix,
                ),
                lambda: self._sdk_list_multipart(bucket, key_marker, upload_id_marker, prefix),
            )

    def _sdk_list_multipart(
        self, bucket: str, key_marker: str, upload_id_marker: str, prefix: str = ""
    ) -> UploadsPage:
        args: dict[str, Any] = {"Bucket": bucket}
        if prefix:
            args["Prefix"] = prefix
        if key_marker:
            args["KeyMarker"] = key_marker
        if upload_id_marker:
            args["UploadIdMarker"] = upload_id_marker
        response = self._client.list_multipart_uploads(**args)
        uploads = []
        for upload in response.get("Uploads", []):
            initiated = upload.get("Initiated")
            uploads.append(
                ListedUpload(
                    upload["Key"],
                    upload["UploadId"],
                    whole_second(initiated) if initiated else None,
                    upload.get("Initiator", {}).get("ID"),
                )
            )
        return UploadsPage(
            uploads,
            bool(response.get("IsTruncated")),
            response.get("NextKeyMarker", ""),
            response.get("NextUploadIdMarker", ""),
            _server_date(response),
        )

    # --- signed URLs ----------------------------------------------------

    def sign_url(self, bucket: str, key: str, request: UrlRequest) -> str:
        params: dict[str, str] = {"Bucket": bucket, "Key": key}
        response_params: list[tuple[str, str]] = []
        if request.response_content_disposition is not None:
            params["ResponseContentDisposition"] = request.response_content_disposition
            response_params.append(
                ("response-content-disposition", request.response_content_disposition)
            )
        if request.response_content_type is not None:
            params["ResponseContentType"] = request.response_content_type
            response_params.append(("response-content-type", request.response_content_type))
        operation = "get_object" if request.method == "GET" else "put_object"
        with self._mapped(bucket, key):
            url: str = self._call(
                bucket,
                lambda wire: wire.presigned_url(
                    request.method, bucket, key, request.expires_in, response_params
                ),
                lambda: self._client.generate_presigned_url(
                    operation,
                    Params=params,
                    ExpiresIn=request.expires_in,
                    HttpMethod=request.method,
                ),
            )
        return url


class _S3Upload:
    def __init__(self, driver: S3Driver, bucket: str, key: str, upload_id: str) -> None:
        self._driver = driver
        self._bucket = bucket
        self._key = key
        self.upload_id = upload_id

    def upload_part(self, part_number: int, body: Body) -> PartInfo:
        with self._driver._mapped(self._bucket, self._key):
            etag = self._driver._call(
                self._bucket,
                lambda wire: wire.upload_part(
                    self._bucket, self._key, self.upload_id, part_number, body
                ),
                lambda: self._sdk_upload_part(part_number, body),
            )
        return PartInfo(part_number, etag, body.size)

    def _sdk_upload_part(self, part_number: int, body: Body) -> str:
        response = self._driver._client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self.upload_id,
            PartNumber=part_number,
            Body=cast(IO[bytes], body),
            ContentLength=body.size,
        )
        return response["ETag"]

    def complete(self, parts: Sequence[PartInfo], options: WriteOptions) -> ObjectInfo:
        args: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": self._key,
            "UploadId": self.upload_id,
            "MultipartUpload": {
                "Parts": [{"PartNumber": part.part_number, "ETag": part.token} for part in parts]
            },
        }
        if options.create_only:
            args["IfNoneMatch"] = "*"
        try:
            self._driver._call(
                self._bucket,
                lambda wire: wire.complete_multipart(
                    self._bucket, self._key, self.upload_id, parts, options.create_only
                ),
                lambda: self._driver._client.complete_multipart_upload(**args),
            )
        except ErrorResponse as error:
            if options.create_only and retried_into_precondition(error):
                etag = multipart_etag(parts)
                mine = self._driver._written_by_us(self._bucket, self._key, etag)
                if mine is not None:
                    return mine
            raise self._driver._error(error, self._bucket, self._key) from error
        except BotoCoreError as error:
            raise self._driver._error(error, self._bucket, self._key) from error
        # The HEAD is kept: CompleteMultipartUpload answers the ETag alone,
        # and the object's Last-Modified is server-dependent (AWS dates a
        # multipart object from the upload's initiation, MinIO and SeaweedFS
        # from its completion), so no answer in hand makes the record exact.
        # One request per object of at least multipart_threshold bytes.
        info = self._driver.head_object(self._bucket, self._key)
        if info is None:
            raise NotFoundException(
                f"object {self._key!r} in bucket {self._bucket!r} vanished after upload"
            )
        return info

    def abort(self) -> None:
        try:
            with self._driver._mapped(self._bucket, self._key):
                self._driver._call(
                    self._bucket,
                    lambda wire: wire.abort_multipart(self._bucket, self._key, self.upload_id),
                    lambda: self._driver._client.abort_multipart_upload(
                        Bucket=self._bucket, Key=self._key, UploadId=self.upload_id
                    ),
                )
        except NotFoundException:
            pass  # already aborted or completed: aborting twice is not an error


def _page_by_name(names: list[str], after: str, limit: int) -> Page[BucketInfo]:
    page = page_of_names(names, after or None, limit)
    marker = _NAME_MARKER + page.next_marker if page.next_marker else None
    return Page(page.items, marker)


class S3SmallReads:
    """:class:`~bucketbridge.drivers.base.SmallReads` on the lean plane: the
    GET of :meth:`S3Driver.read_object` (a whole object, unconditional),
    split into its request and the reading of its answer."""

    __slots__ = ("_driver", "_wire")

    def __init__(self, driver: S3Driver, wire: S3ControlWire) -> None:
        self._driver = driver
        self._wire = wire

    @property
    def client(self) -> HttpClient:
        return self._wire.client

    def small_read(self, bucket: str, key: str, listed: ObjectInfo) -> Exchange | None:
        if bucket in self._driver._redirected:  # the SDK's, whose redirector follows it
            return None
        return self._wire.small_read(bucket, key)

    def small_result(
        self, bucket: str, key: str, listed: ObjectInfo, answer: Answer
    ) -> ObjectInfo | None:
        """The record :meth:`S3Driver.read_object` makes of the answer; None
        where it must decide (another region; a body shorter than its
        size); the exception it raises for any other error status."""
        if answer.status >= 300:
            error = error_of(answer.status, answer.body, answer.attempts)
            if isinstance(error, WrongRegion):
                return None
            raise self._driver._error(error, bucket, key) from error
        size = total_size(answer)
        if len(answer.body) != size:
            return None
        return object_info(key, answer, size)


class S3SmallWrites:
    """:class:`~bucketbridge.drivers.base.SmallWrites` on the lean plane:
    :meth:`S3Driver.put_object`'s PUT split into its request and the
    reading of its answer, and the blocking put again where its answer was
    lost (counted as sent, so a create-only 412 is checked against our own
    bytes: the lost copy may have stored them)."""

    __slots__ = ("_driver", "_wire")

    def __init__(self, driver: S3Driver, wire: S3ControlWire) -> None:
        self._driver = driver
        self._wire = wire

    @property
    def client(self) -> HttpClient:
        return self._wire.client

    def small_write(
        self, bucket: str, key: str, body: bytes, options: WriteOptions
    ) -> Exchange | None:
        if bucket in self._driver._redirected:  # the SDK's, whose redirector follows it
            return None
        return self._wire.small_put(
            bucket,
            key,
            body,
            content_type=options.content_type,
            metadata=options.metadata,
            create_only=options.create_only,
        )

    def small_written(
        self, bucket: str, key: str, body: bytes, options: WriteOptions, answer: Answer
    ) -> ObjectInfo | None:
        """The record :meth:`S3Driver.put_object` makes of the answer; None
        where it must decide (another region); the exception it raises for
        any other error status (a 412 of a first copy: the object was there)."""
        if answer.status >= 300:
            error = error_of(answer.status, answer.body, answer.attempts)
            if isinstance(error, WrongRegion):
                return None
            raise self._driver._error(error, bucket, key) from error
        etag = answer.header("etag")
        return _put_info(key, len(body), etag, date_of(answer), options)

    def put_again(self, bucket: str, key: str, body: Body, options: WriteOptions) -> ObjectInfo:
        return self._driver._put(bucket, key, body, options, 1)


def _put_info(
    key: str, size: int, etag: str | None, date: datetime, options: WriteOptions
) -> ObjectInfo:
    """The record of a PUT the server answered with ``etag`` at ``date``."""
    return ObjectInfo(
        key=key,
        size=size,
        last_modified=date,
        etag=_etag(etag),
        content_type=options.content_type,
        metadata=dict(options.metadata),
        revision=etag,
    )


def _lean_stream(info: ObjectInfo, response: Response, chunk_size: int) -> ObjectStream:
    """A lean GET's body: chunks, or ``readinto`` straight into the caller's buffer."""
    return ObjectStream(
        info, response.chunks(chunk_size), response.close, readinto=response.readinto
    )


def _info(key: str, response: Mapping[str, Any], size: int) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=size,
        last_modified=whole_second(response["LastModified"]),
        etag=_etag(response.get("ETag")),
        content_type=response.get("ContentType") or "application/octet-stream",
        metadata=dict(response.get("Metadata") or {}),
        revision=response.get("ETag"),
    )


def _total_size(response: Mapping[str, Any]) -> int:
    """The whole object's size: a ranged GET's Content-Range ends in it."""
    content_range = response.get("ContentRange")
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return int(response["ContentLength"])


def _etag(value: str | None) -> str | None:
    return value.strip('"') if value else None


def _server_date(response: Mapping[str, Any]) -> datetime | None:
    """When the server answered, by its clock; None if it did not say."""
    header = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if header:
        try:
            import email.utils  # rare: not on every command's start

            return whole_second(email.utils.parsedate_to_datetime(header))
        except (TypeError, ValueError):
            pass
    return None


def _response_date(response: Mapping[str, Any]) -> datetime:
    """When the server stored a write: its Date header, which S3's
    second-precision Last-Modified equals; saves a HEAD per upload."""
    return _server_date(response) or datetime.now(timezone.utc).replace(microsecond=0)


# mypy compares the driver with the optional capabilities it claims
_copies: Callable[[S3Settings], CopiesObjects] = S3Driver
_lists: Callable[[S3Settings], ListsDirectories] = S3Driver
_small_writes: Callable[[S3Driver, S3ControlWire], SmallWrites] = S3SmallWrites
