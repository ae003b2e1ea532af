"""A read of no bytes: an empty range, or one that starts at or past the
end, which HTTP servers refuse with 416. It is answered from the object's
info, honouring the revision the read is pinned to, so every driver answers
it alike without a request for bytes."""

from __future__ import annotations

from ..errors import NotFoundException, PreconditionFailedException
from .base import Driver
from .records import ObjectStream, ReadOptions


def empty_read(driver: Driver, bucket: str, key: str, options: ReadOptions) -> ObjectStream:
    info = driver.head_object(bucket, key)
    if info is None:
        raise NotFoundException(f"object {key!r} not found in bucket {bucket!r}")
    if options.if_revision is not None and info.revision != options.if_revision:
        raise PreconditionFailedException(
            f"object {key!r} in bucket {bucket!r} was replaced while being read"
        )
    return ObjectStream(info, iter(()))
