"""Server-side copies on GCS: ``objects.rewrite``, called until it is done.

One rewrite call copies as much as GCS chooses (all of a small object;
a large one, or one moved to another location or storage class, takes
several calls, each answering a ``rewriteToken`` to call again with). The
destination only appears when the last call is done.

The source is as the core looked it up: its revision names the generation
(and CRC32C) to copy, and an etag that is no MD5 (a composed source's,
kept in a hidden metadata key, :mod:`.uploads`) goes with the copy, so the
copy's etag is the source's, as on the other providers. The rewrite names
that ``sourceGeneration`` and requires it to still be the live one
(``ifSourceGenerationMatch``; a 404 then, explained by a look at both
sides, is a missing bucket, a missing source or a replaced one); a create-only copy sends
``ifGenerationMatch=0``. The destination resource carries the options'
content type and metadata, written as the uploads write them.

fake-gcs-server enforces neither condition on a rewrite (it copies the
generation asked for, answers 404 once it is gone, and stores over an
existing destination), so a create-only copy also looks at the destination
first, as ``complete`` does before a compose: the refusal holds there too,
though not against a writer racing that look.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import NotFoundException, PreconditionFailedException
from ..records import ObjectInfo, WriteOptions
from .uploads import ETAG_METADATA_KEY, check_metadata

if TYPE_CHECKING:
    from .driver import GcsDriver


def copy_object(
    driver: GcsDriver,
    source_bucket: str,
    info: ObjectInfo,
    bucket: str,
    key: str,
    options: WriteOptions,
) -> ObjectInfo:
    from .driver import info_of

    check_metadata(options)
    if info.revision is None:  # "whatever is there": pinned to what is there now
        found = driver.head_object(source_bucket, info.key)
        if found is None:
            raise _missing(driver, source_bucket, info.key, bucket)
        info = found
    assert info.revision is not None
    generation, _, crc32c = info.revision.partition("/")
    if options.create_only and driver.head_object(bucket, key) is not None:
        raise PreconditionFailedException(f"object {key!r} already exists in bucket {bucket!r}")
    metadata = dict(options.metadata)
    if info.etag and not _is_md5(info.etag):
        # a composed source's etag (GCS keeps no MD5 for it): the copy's too
        metadata[ETAG_METADATA_KEY] = info.etag
    resource: dict[str, Any] = {"contentType": options.content_type, "metadata": metadata}
    copied = _rewrite(
        driver,
        (source_bucket, info.key, generation, crc32c or None),
        bucket,
        key,
        resource,
        0 if options.create_only else None,
    )
    if copied is None:  # 404: a bucket, or that generation of the source, is gone
        if driver.head_object(source_bucket, info.key) is None:
            raise _missing(driver, source_bucket, info.key, bucket)
        if driver.head_bucket(bucket) is None:
            raise NotFoundException(f"bucket {bucket!r} does not exist")
        raise _replaced(source_bucket, info.key)
    return info_of(copied)


def _missing(driver: GcsDriver, source_bucket: str, source_key: str, bucket: str) -> Exception:
    """A missing destination bucket is named first, as the other drivers do."""
    if driver.head_bucket(bucket) is None:
        return NotFoundException(f"bucket {bucket!r} does not exist")
    return NotFoundException(f"object {source_key!r} not found in bucket {source_bucket!r}")


def _is_md5(etag: str) -> bool:
    return len(etag) == 32 and all(c in "0123456789abcdef" for c in etag)


def _rewrite(
    driver: GcsDriver,
    source: tuple[str, str, str, str | None],
    bucket: str,
    key: str,
    resource: dict[str, Any],
    if_generation_match: int | None,
) -> dict[str, Any] | None:
    """The new object's resource once the last call is done; None on 404."""
    source_bucket, source_key, generation, crc32c = source
    token: str | None = None
    if driver.wire is not None:
        while True:
            with driver.mapped(bucket, key):
                answer = driver.wire.rewrite(
                    source_bucket,
                    source_key,
                    generation,
                    bucket,
                    key,
                    resource,
                    if_generation_match=if_generation_match,
                    token=token,
                    source_crc32c=crc32c,
                )
            if answer is None:
                return None
            if answer.get("done"):
                done: dict[str, Any] = answer["resource"]
                return done
            token = answer["rewriteToken"]
    client = driver.client
    source_blob = client.bucket(source_bucket).blob(source_key, generation=int(generation))
    target = client.bucket(bucket).blob(key)
    target.content_type = resource["contentType"]
    target.metadata = resource["metadata"]  # {} too: the source's is not wanted
    try:
        while True:
            with driver.mapped(bucket, key):
                token, _, _ = target.rewrite(
                    source_blob,
                    token=token,
                    if_generation_match=if_generation_match,
                    if_source_generation_match=int(generation),
                    timeout=driver.timeout,
                    retry=driver.retry(),
                )
            if token is None:
                copied: dict[str, Any] = target._properties
                return copied
    except NotFoundException:
        return None


def _replaced(bucket: str, key: str) -> PreconditionFailedException:
    return PreconditionFailedException(
        f"object {key!r} in bucket {bucket!r} was replaced since it was looked up"
    )
