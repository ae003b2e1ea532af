"""Ranged reads every driver answers alike.

A read of no bytes (an empty range, or one that starts at or past the
end, which HTTP servers refuse with 416) is answered from the object's
info, honouring the revision the read is pinned to, without a request for
bytes (:func:`empty_read`). A range the server answered with the whole
object is cut to the range (:func:`within`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

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


def within(chunks: Iterable[bytes], start: int, end: int | None) -> Iterator[bytes]:
    """The bytes ``[start, end)`` of a whole object's ``chunks``: for a
    ranged GET the server answered with all of the object (HTTP lets a server
    ignore ``Range``; Swift does for a DLO of more segments than a listing
    page). The bytes before ``start`` are read and dropped; reading stops
    at ``end``."""
    position = 0
    for chunk in chunks:
        size = len(chunk)
        low = max(start - position, 0)
        high = size if end is None else min(end - position, size)
        position += size
        if low < high:
            yield chunk if low == 0 and high == size else chunk[low:high]
        if end is not None and position >= end:
            return
