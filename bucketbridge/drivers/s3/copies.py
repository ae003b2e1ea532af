"""Server-side copies: CopyObject, or a multipart copy above the threshold.

The source is pinned to its revision (``x-amz-copy-source-if-match`` with the
ETag the core looked up, whose size decides the kind of copy: no HEAD here)
on CopyObject and on every UploadPartCopy, so a copy never mixes two
revisions; the copy takes the options' content type and
metadata (``MetadataDirective: REPLACE``, sent as an upload sends them) and a
create-only copy carries ``If-None-Match: *`` on CopyObject or on the
CompleteMultipartUpload, as uploads do. Above ``s3_copy_threshold`` (at most
CopyObject's 5 GiB) the parts are copied in parallel; any failure aborts the
upload after the parts in flight have ended, so no part is left behind, and
the object appears only when the upload completes.

These calls are rare and the server does the work: they stay on boto3.

What the test servers enforce (tests/servers): SeaweedFS (4.48) refuses a
stale ``x-amz-copy-source-if-match`` on CopyObject and UploadPartCopy and
``If-None-Match: *`` on CopyObject, as AWS does; moto (5.2) ignores all three
(``copy_conditions`` in its ``UNENFORCED``). The driver does not emulate them
there: a HEAD before the copy would only narrow the race, not close it.
"""

from __future__ import annotations

from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ...errors import NotFoundException, PreconditionFailedException
from ..records import ObjectInfo, PartInfo, WriteOptions
from ..shielded import completed, start_upload
from .errors import error_code, http_status
from .listing import whole_second
from .own_writes import retried_into_precondition

if TYPE_CHECKING:
    from .driver import S3Driver

MAX_PARTS = 10_000  # a multipart upload's limit


@dataclass(frozen=True)
class Source:
    bucket: str
    key: str
    info: ObjectInfo  # the revision being copied

    def replaced(self) -> PreconditionFailedException:
        return PreconditionFailedException(
            f"object {self.key!r} in bucket {self.bucket!r} was replaced since it was looked up"
        )


def copy_object(
    driver: S3Driver,
    source_bucket: str,
    info: ObjectInfo,
    bucket: str,
    key: str,
    options: WriteOptions,
) -> ObjectInfo:
    # The size the core looked up decides CopyObject or a multipart copy;
    # the copy source is pinned to that revision, so a replaced source is
    # refused by the server (412). Only a copy asked for "whatever is there"
    # is looked up here, to pin all its parts to one revision.
    _check_bucket(driver, bucket)
    if info.revision is None:
        found = driver.head_object(source_bucket, info.key)
        if found is None:
            raise NotFoundException(f"object {info.key!r} not found in bucket {source_bucket!r}")
        info = found
    source = Source(source_bucket, info.key, info)
    if info.size > driver._settings.copy_threshold:
        return _multipart_copy(driver, source, bucket, key, options)
    return _single_copy(driver, source, bucket, key, options)


def _check_bucket(driver: S3Driver, bucket: str) -> None:
    """NotFoundException for a missing destination bucket, asked once per
    bucket: SeaweedFS answers a copy into one with 500 InternalError, which
    botocore retries for seconds (the copy's own error is mapped the same way
    should the bucket go later)."""
    if bucket in driver._copy_targets:
        return
    if driver.head_bucket(bucket) is None:
        raise NotFoundException(f"bucket {bucket!r} does not exist")
    driver._copy_targets.add(bucket)


def _pinned(source: Source) -> dict[str, Any]:
    args: dict[str, Any] = {"CopySource": {"Bucket": source.bucket, "Key": source.key}}
    if source.info.revision is not None:
        args["CopySourceIfMatch"] = source.info.revision
    return args


def _single_copy(
    driver: S3Driver, source: Source, bucket: str, key: str, options: WriteOptions
) -> ObjectInfo:
    args: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        **_pinned(source),
        "MetadataDirective": "REPLACE",
        "ContentType": options.content_type,
        "Metadata": dict(options.metadata),
    }
    if options.create_only:
        args["IfNoneMatch"] = "*"
    try:
        response = driver._client.copy_object(**args)
    except ClientError as error:
        if options.create_only and retried_into_precondition(error):
            # a lost first attempt may have made this very copy (own_writes):
            # an unencrypted single-part source's copy has the source's ETag
            mine = driver._written_by_us(bucket, key, source.info.etag)
            if mine is not None:
                return mine
        raise _copy_error(driver, error, source, bucket, key, options) from error
    except BotoCoreError as error:
        raise driver._error(error, bucket, key) from error
    result = response.get("CopyObjectResult", {})
    etag = result.get("ETag")
    modified = result.get("LastModified")
    return ObjectInfo(
        key=key,
        size=source.info.size,
        last_modified=whole_second(modified) if modified else _now(),
        etag=etag.strip('"') if etag else None,
        content_type=options.content_type,
        metadata=dict(options.metadata),
        # quoted, as HEAD's ETag header (SeaweedFS's CopyObjectResult is not)
        revision=f'"{etag.strip(chr(34))}"' if etag else None,
    )


def _multipart_copy(
    driver: S3Driver, source: Source, bucket: str, key: str, options: WriteOptions
) -> ObjectInfo:
    size = source.info.size
    part_size = max(driver._settings.copy_part_size, -(-size // MAX_PARTS))
    ranges = [(start, min(start + part_size, size)) for start in range(0, size, part_size)]
    starting = start_upload(driver, bucket, key, options)  # aside: see ..shielded
    try:
        upload = starting.result()
        workers = min(driver._settings.copy_concurrency, len(ranges))
        with ThreadPoolExecutor(workers, thread_name_prefix="bucketbridge-s3-copy") as pool:
            futures: list[Future[PartInfo]] = [
                pool.submit(_copy_part, driver, source, bucket, key, upload.upload_id, number, span)
                for number, span in enumerate(ranges, 1)
            ]
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:
                future.cancel()  # after a failure, the parts not yet started
            # leaving the pool waits for the parts in flight: none lands after the abort
        for future in futures:
            if not future.cancelled() and future.exception() is not None:
                future.result()  # raises the first part's failure
        parts = [future.result() for future in futures]
        return completed(lambda: upload.complete(parts, options), f"copy to {key!r}")
    except BaseException:
        starting.undo()
        raise


def _copy_part(
    driver: S3Driver,
    source: Source,
    bucket: str,
    key: str,
    upload_id: str,
    number: int,
    span: tuple[int, int],
) -> PartInfo:
    start, end = span
    try:
        response = driver._client.upload_part_copy(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            CopySourceRange=f"bytes={start}-{end - 1}",
            **_pinned(source),
        )
    except ClientError as error:
        if http_status(error) == 412:
            raise source.replaced() from error
        raise _copy_error(driver, error, source, bucket, key, None) from error
    except BotoCoreError as error:
        raise driver._error(error, bucket, key) from error
    return PartInfo(number, response["CopyPartResult"]["ETag"], end - start)


def _copy_error(
    driver: S3Driver,
    error: ClientError,
    source: Source,
    bucket: str,
    key: str,
    options: WriteOptions | None,
) -> Exception:
    """The exception for a refused copy, naming the side that was wrong."""
    code = error_code(error)
    if http_status(error) == 412:
        if options is None or not options.create_only:
            return source.replaced()
        # both conditions answer 412: the source tells which one failed
        now = driver.head_object(source.bucket, source.key)
        if now is None or now.revision != source.info.revision:
            return source.replaced()
        return PreconditionFailedException(
            f"object {key!r} already exists in bucket {bucket!r} (copy without overwrite)"
        )
    if code == "NoSuchKey":
        return driver._error(error, source.bucket, source.key)
    if http_status(error) >= 500 and driver.head_bucket(bucket) is None:
        driver._copy_targets.discard(bucket)  # see _check_bucket
        return NotFoundException(f"bucket {bucket!r} does not exist")
    return driver._error(error, bucket, key)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)
