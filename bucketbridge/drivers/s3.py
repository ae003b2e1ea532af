"""The AWS provider: S3 and every S3-compatible server, over boto3.

One boto3 client per driver (boto3 clients are thread-safe), one S3 request per
primitive. Listings are paged by the server (ListObjectsV2 ``StartAfter`` with
the last key as our marker) and parsed by :mod:`.s3_listing`; every botocore
error goes through :mod:`.s3_errors`.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError
from urllib3.exceptions import HTTPError as Urllib3Error

from ..config import ProviderConfig
from ..errors import (
    InvalidValueException,
    NotFoundException,
    PermissionDeniedException,
    PreconditionFailedException,
)
from .base import BucketInfo, HttpMethod, ObjectInfo, Page, PartInfo, page_of_names, read_body
from .s3_client import S3Settings, build_client, read_settings
from .s3_errors import Target, error_code, http_status, permission_message, translate
from .s3_listing import EVENT, RESULT_KEY, TRUNCATED_KEY, from_botocore, parse_listing

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

MAX_URL_EXPIRY = 7 * 24 * 3600
"""SigV4's limit for presigned URLs."""
LEGACY_REGION = "us-east-1"
_TOKEN_MARKER = "t:"
_NAME_MARKER = "n:"


def create_driver(config: ProviderConfig) -> S3Driver:
    return S3Driver(read_settings(config))


class S3Driver:
    provider_id = "aws"

    def __init__(self, settings: S3Settings) -> None:
        self._settings = settings
        self._client, self._session = build_client(settings)
        self._client.meta.events.register(EVENT, parse_listing)
        self._endpoint = str(self._client.meta.endpoint_url)

    def __repr__(self) -> str:
        return f"<S3Driver {self._endpoint} region={self._settings.region}>"

    def close(self) -> None:
        self._client.close()

    # --- errors ---------------------------------------------------------

    def _access_key_id(self) -> str | None:
        credentials = self._session.get_credentials()
        return credentials.access_key if credentials is not None else None

    def _target(self, bucket: str | None = None, key: str | None = None) -> Target:
        return Target(
            self._endpoint,
            self._access_key_id,
            bucket,
            key,
            session_token=self._settings.session_token is not None,
        )

    @contextmanager
    def _mapped(self, bucket: str | None = None, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except (BotoCoreError, ClientError) as error:
            raise translate(error, self._target(bucket, key)) from error

    def _why_forbidden(self, bucket: str) -> str:
        """A HEAD answered 403 has no body to say why; ask with a GET that has
        one, so the message can tell a wrong key from a missing permission."""
        try:
            self._client.list_objects_v2(Bucket=bucket, MaxKeys=0)
        except ClientError as probe:
            return error_code(probe)
        except BotoCoreError:
            pass
        return "AccessDenied"

    def _denied(self, code: str, bucket: str, key: str | None) -> PermissionDeniedException:
        return PermissionDeniedException(permission_message(code, self._target(bucket, key)))

    # --- buckets --------------------------------------------------------

    def create_bucket(self, name: str, location: str | None) -> BucketInfo:
        region = location or self._settings.region
        args: dict[str, Any] = {"Bucket": name}
        if region == LEGACY_REGION:
            # us-east-1 answers 200 when you re-create a bucket you own, so
            # a duplicate there is only seen by looking first.
            if self._bucket_is_mine(name):
                raise translate(
                    ClientError({"Error": {"Code": "BucketAlreadyOwnedByYou"}}, "CreateBucket"),
                    self._target(name),
                )
        else:
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        with self._mapped(name):
            self._client.create_bucket(**args)
        return BucketInfo(name)

    def _bucket_is_mine(self, name: str) -> bool:
        try:
            with self._mapped(name):
                self._client.head_bucket(Bucket=name)
        except NotFoundException:
            return False
        except PermissionDeniedException:
            return False  # someone else's, or our credentials are wrong: create will say which
        return True

    def delete_bucket(self, name: str) -> None:
        with self._mapped(name):
            self._client.delete_bucket(Bucket=name)

    def head_bucket(self, name: str) -> BucketInfo | None:
        try:
            self._client.head_bucket(Bucket=name)
        except ClientError as error:
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
            raise translate(error, self._target(name)) from error
        except BotoCoreError as error:
            raise translate(error, self._target(name)) from error
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
            response = self._client.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            status = http_status(error)
            if status == 404:
                if self.head_bucket(bucket) is None:
                    raise NotFoundException(f"bucket {bucket!r} does not exist") from error
                return None
            if status == 403:
                raise self._denied(self._why_forbidden(bucket), bucket, key) from error
            raise translate(error, self._target(bucket, key)) from error
        except BotoCoreError as error:
            raise translate(error, self._target(bucket, key)) from error
        return ObjectInfo(
            key=key,
            size=response["ContentLength"],
            last_modified=_aware(response["LastModified"]),
            etag=_etag(response.get("ETag")),
            content_type=response.get("ContentType") or "application/octet-stream",
            metadata=dict(response.get("Metadata") or {}),
            version=response.get("ETag"),
        )

    def list_objects(
        self, bucket: str, *, prefix: str | None, marker: str | None, limit: int
    ) -> Page[ObjectInfo]:
        args: dict[str, Any] = {"Bucket": bucket, "MaxKeys": min(limit, 1000)}
        if prefix:
            args["Prefix"] = prefix
        if marker:
            args["StartAfter"] = marker
        with self._mapped(bucket):
            response: Mapping[str, Any] = self._client.list_objects_v2(**args)
        if RESULT_KEY in response:
            items: list[ObjectInfo] = response[RESULT_KEY]
            truncated = bool(response[TRUNCATED_KEY])
        else:
            items, truncated = from_botocore(response)
        return Page(items, items[-1].key if truncated and items else None)

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
        args: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            # botocore reads a body twice (to sign or checksum it, then to
            # send it) and rewinds it to retry: one that cannot seek goes in
            # memory, at most the multipart threshold.
            "Body": body if _seekable(body) else read_body(body, size),
            "ContentLength": size,
            "ContentType": content_type,
            "Metadata": dict(metadata),
        }
        if if_none_match:
            args["IfNoneMatch"] = "*"
        with self._mapped(bucket, key):
            response = self._client.put_object(**args)
        return ObjectInfo(
            key=key,
            size=size,
            last_modified=_response_date(response),
            etag=_etag(response.get("ETag")),
            content_type=content_type,
            metadata=dict(metadata),
            version=response.get("ETag"),
        )

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
        args: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if start or end is not None:
            if end is not None and end <= start:
                return iter(())
            args["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        if if_version is not None:
            args["IfMatch"] = if_version  # the version is the ETag
        try:
            response = self._client.get_object(**args)
        except ClientError as error:
            if error_code(error) == "InvalidRange":  # starts at or past the end
                return iter(())
            if http_status(error) == 412:
                raise PreconditionFailedException(
                    f"object {key!r} in bucket {bucket!r} was replaced while being read"
                ) from error
            raise translate(error, self._target(bucket, key)) from error
        except BotoCoreError as error:
            raise translate(error, self._target(bucket, key)) from error
        return self._stream(response, chunk_size, self._target(bucket, key))

    @staticmethod
    def _stream(
        response: GetObjectOutputTypeDef, chunk_size: int, target: Target
    ) -> Iterator[bytes]:
        body = response["Body"]
        try:
            while True:
                chunk = body.read(chunk_size)
                if not chunk:
                    return
                yield chunk
        except (BotoCoreError, Urllib3Error, OSError) as error:
            raise translate(error, target) from error
        finally:
            body.close()

    def delete_object(self, bucket: str, key: str) -> None:
        with self._mapped(bucket, key):
            self._client.delete_object(Bucket=bucket, Key=key)

    max_batch = 1000  # DeleteObjects' limit

    def delete_objects(self, bucket: str, keys: Sequence[str]) -> None:
        objects: list[Any] = [{"Key": key} for key in keys]
        with self._mapped(bucket):
            response = self._client.delete_objects(
                Bucket=bucket, Delete={"Objects": objects, "Quiet": True}
            )
        failures = response.get("Errors") or []
        if failures:
            first = failures[0]
            error = ClientError(
                {"Error": {"Code": first.get("Code", ""), "Message": first.get("Message", "")}},
                "DeleteObjects",
            )
            raise translate(error, self._target(bucket, first.get("Key"))) from error

    # --- multipart ------------------------------------------------------

    def create_multipart(
        self, bucket: str, key: str, *, content_type: str, metadata: Mapping[str, str]
    ) -> str:
        with self._mapped(bucket, key):
            response = self._client.create_multipart_upload(
                Bucket=bucket, Key=key, ContentType=content_type, Metadata=dict(metadata)
            )
        return response["UploadId"]

    def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, data: bytes
    ) -> PartInfo:
        with self._mapped(bucket, key):
            response = self._client.upload_part(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=part_number,
                Body=data,
                ContentLength=len(data),
            )
        return PartInfo(part_number, response["ETag"])

    def complete_multipart(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: Sequence[PartInfo],
        *,
        if_none_match: bool = False,
    ) -> ObjectInfo:
        args: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "UploadId": upload_id,
            "MultipartUpload": {
                "Parts": [{"PartNumber": part.part_number, "ETag": part.token} for part in parts]
            },
        }
        if if_none_match:
            args["IfNoneMatch"] = "*"
        with self._mapped(bucket, key):
            self._client.complete_multipart_upload(**args)
        info = self.head_object(bucket, key)
        if info is None:
            raise NotFoundException(f"object {key!r} in bucket {bucket!r} vanished after upload")
        return info

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        try:
            with self._mapped(bucket, key):
                self._client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except NotFoundException:
            pass  # already aborted or completed: aborting twice is not an error

    # --- signed URLs ----------------------------------------------------

    def sign_url(
        self,
        bucket: str,
        key: str,
        *,
        method: HttpMethod,
        expires_in: int,
        response_headers: Mapping[str, str],
    ) -> str:
        if not 0 < expires_in <= MAX_URL_EXPIRY:
            raise InvalidValueException(
                "expires_in", expires_in, f"S3 signs URLs for 1 to {MAX_URL_EXPIRY} seconds"
            )
        params: dict[str, str] = {"Bucket": bucket, "Key": key}
        if method == "GET":
            overrides = {
                "Content-Disposition": "ResponseContentDisposition",
                "Content-Type": "ResponseContentType",
            }
            for header, value in response_headers.items():
                if header not in overrides:
                    raise InvalidValueException(
                        "response_headers", header, "only Content-Disposition and Content-Type"
                    )
                params[overrides[header]] = value
        operation = "get_object" if method == "GET" else "put_object"
        with self._mapped(bucket, key):
            url: str = self._client.generate_presigned_url(
                operation, Params=params, ExpiresIn=expires_in, HttpMethod=method
            )
        return url


def _seekable(body: BinaryIO) -> bool:
    try:
        return bool(body.seekable())
    except (AttributeError, ValueError):
        return False


def _page_by_name(names: list[str], after: str, limit: int) -> Page[BucketInfo]:
    page, more = page_of_names(names, after or None, limit)
    return Page([BucketInfo(name) for name in page], _NAME_MARKER + page[-1] if more else None)


def _etag(value: str | None) -> str | None:
    return value.strip('"') if value else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _response_date(response: Mapping[str, Any]) -> datetime:
    """When the server stored a write: its Date header, which S3's
    second-precision Last-Modified equals; saves a HEAD per upload."""
    header = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if header:
        try:
            return _aware(email.utils.parsedate_to_datetime(header))
        except (TypeError, ValueError):
            pass
    return datetime.now(timezone.utc)
