"""Which of bucket or object is missing, decided once above the drivers.

A driver's ``head_object`` answers None for a missing object whether or not
its bucket exists (S3 answers a bare 404 to both); the error a user sees
names what is really missing, on every provider alike.
"""

from __future__ import annotations

from .drivers.base import Driver
from .drivers.records import ObjectInfo
from .errors import NotFoundException


def head_existing(driver: Driver, bucket: str, key: str) -> ObjectInfo:
    """The object's info, or NotFoundException naming what is missing: the
    object, or the bucket itself."""
    info = driver.head_object(bucket, key)
    if info is not None:
        return info
    if driver.head_bucket(bucket) is None:
        raise NotFoundException(f"bucket {bucket!r} does not exist")
    raise NotFoundException(f"object {key!r} not found in bucket {bucket!r}")
