"""Telling our own write from someone else's after a retried create-only write.

The SDK retries a Put Blob or Put Block List whose response was lost (a
reset, a timeout). If the lost attempt had stored the blob, the retry's
``If-None-Match: *`` meets it and Azure answers 409 BlobAlreadyExists: the
caller would be told the object already existed when the object there is the
one it just wrote. So a create-only write that the SDK retried (its
``retry_hook`` fired) into that 409 compares the object's etag and size with
those of its own bytes (the MD5 of the body, or S3's multipart etag kept in
metadata) and, if they match, reports success.

What remains: another writer that stored exactly our bytes between the lost
attempt and its retry is taken for us (the bytes at the key are the caller's
either way).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..records import ObjectInfo

if TYPE_CHECKING:
    from .driver import AzureDriver


class RetryWatch:
    """A ``retry_hook`` for one SDK call: remembers whether it was retried."""

    def __init__(self) -> None:
        self.retried = False

    def __call__(self, **_details: Any) -> None:
        self.retried = True


def own_object(
    driver: AzureDriver, bucket: str, key: str, etag: str, size: int
) -> ObjectInfo | None:
    """The object at ``key`` if it is the one a retried write stored, else None."""
    info = driver.head_object(bucket, key)
    if info is None or info.etag != etag or info.size != size:
        return None
    return info
