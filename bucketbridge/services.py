"""The services: ``provider.storage.buckets`` and ``bucket.objects``.

Paging is the server's: ``list`` makes one driver call per page and hands back
the driver's opaque marker; iteration walks every page. ``find(name=...)`` is
an exact match made with one lookup, whatever the bucket holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .drivers.base import DeletesInBatches, Driver
from .errors import (
    BucketNotEmptyException,
    InvalidNameException,
    InvalidParamException,
    InvalidValueException,
    wrap_foreign_errors,
)
from .names import validate_bucket_name, validate_object_key
from .resources import Bucket, BucketObject
from .results import ResultList

if TYPE_CHECKING:
    from .provider import CloudProvider

ITERATION_PAGE_SIZE = 1000
DEFAULT_RESULT_LIMIT = 50


def _find_name(kwargs: dict[str, Any]) -> str:
    """``find`` takes exactly one keyword, ``name``; anything else is refused
    rather than silently ignored."""
    unknown = sorted(set(kwargs) - {"name"})
    if unknown:
        raise InvalidParamException(
            f"find() got unsupported parameter(s) {', '.join(unknown)}; only name= is supported"
        )
    if "name" not in kwargs:
        raise InvalidParamException("find() needs name=...; use list() to get everything")
    name = kwargs["name"]
    if not isinstance(name, str):
        raise InvalidParamException(f"find(name={name!r}): name must be a string")
    return name


def _marker(marker: object) -> str | None:
    if marker is not None and not isinstance(marker, str):
        raise InvalidValueException("marker", marker, "pass the marker a previous page returned")
    return marker


def _prefix(prefix: object) -> str | None:
    if prefix is not None and not isinstance(prefix, str):
        raise InvalidValueException("prefix", prefix, "must be a string")
    return prefix or None


def _limit(provider: CloudProvider, limit: int | None) -> int:
    if limit is None:
        return provider.config.get_int("default_result_limit", DEFAULT_RESULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidValueException("limit", limit, "must be a positive integer")
    return limit


class StorageService:
    def __init__(self, provider: CloudProvider) -> None:
        self.buckets = BucketService(provider)


class BucketService:
    def __init__(self, provider: CloudProvider) -> None:
        self._provider = provider

    @wrap_foreign_errors
    def get(self, bucket_id: str) -> Bucket | None:
        """The bucket, or None if it does not exist."""
        if not isinstance(bucket_id, str) or not bucket_id:
            raise InvalidNameException(f"bucket name {bucket_id!r}: must be a non-empty string")
        info = self._provider.driver.head_bucket(bucket_id)
        return Bucket(self._provider, info.name) if info else None

    @wrap_foreign_errors
    def find(self, **kwargs: Any) -> ResultList[Bucket]:
        bucket = self.get(_find_name(kwargs))
        return ResultList([bucket] if bucket else [])

    @wrap_foreign_errors
    def list(self, limit: int | None = None, marker: str | None = None) -> ResultList[Bucket]:
        page = self._provider.driver.list_buckets(
            marker=_marker(marker), limit=_limit(self._provider, limit)
        )
        return ResultList(
            (Bucket(self._provider, info.name) for info in page.items), page.next_marker
        )

    def __iter__(self) -> Iterator[Bucket]:
        marker: str | None = None
        while True:
            page = self.list(limit=ITERATION_PAGE_SIZE, marker=marker)
            yield from page
            if page.marker is None:
                return
            marker = page.marker

    @wrap_foreign_errors
    def create(self, name: str, location: str | None = None) -> Bucket:
        """Create a bucket; DuplicateResourceException if the name is taken."""
        validate_bucket_name(name)
        info = self._provider.driver.create_bucket(name, location)
        return Bucket(self._provider, info.name)

    @wrap_foreign_errors
    def delete(self, bucket: Bucket | str, *, delete_contents: bool = False) -> None:
        """Delete a bucket; with ``delete_contents`` its objects go first.

        Without it, a bucket that holds an object is refused with
        BucketNotEmptyException whatever the server's settings: some
        S3-compatible servers (SeaweedFS by default) delete a non-empty bucket
        with everything in it, so one key is listed first. A window remains
        on such servers: an object written after that listing and before the
        delete goes with the bucket. Servers that refuse by themselves (S3,
        and the local and memory drivers) close it."""
        name = bucket.name if isinstance(bucket, Bucket) else bucket
        if not isinstance(name, str) or not name:
            raise InvalidNameException(f"bucket name {name!r}: must be a non-empty string")
        driver = self._provider.driver
        if delete_contents:
            _delete_all_objects(driver, name)
        elif driver.list_objects(name, prefix=None, marker=None, limit=1).items:
            raise _not_empty(name)
        try:
            driver.delete_bucket(name)
        except BucketNotEmptyException as error:
            raise _not_empty(name) from error


def _not_empty(bucket: str) -> BucketNotEmptyException:
    return BucketNotEmptyException(
        f"bucket {bucket!r} is not empty; delete its objects first or pass delete_contents=True"
    )


def _delete_all_objects(driver: Driver, bucket: str) -> None:
    """Empty a bucket: a page of keys at a time, in one request per page
    where the driver can, else one request per object."""
    batch = driver.max_batch if isinstance(driver, DeletesInBatches) else ITERATION_PAGE_SIZE
    marker: str | None = None
    while True:
        page = driver.list_objects(bucket, prefix=None, marker=marker, limit=batch)
        keys = [info.key for info in page.items]
        if keys and isinstance(driver, DeletesInBatches):
            driver.delete_objects(bucket, keys)
        else:
            for key in keys:
                driver.delete_object(bucket, key)
        if page.next_marker is None:
            return
        marker = page.next_marker


class BucketObjectService:
    """``bucket.objects``."""

    def __init__(self, provider: CloudProvider, bucket: Bucket) -> None:
        self._provider = provider
        self._bucket = bucket

    def _object(self, info: Any) -> BucketObject:
        return BucketObject(self._provider, self._bucket, info.key, info)

    @wrap_foreign_errors
    def get(self, name: str) -> BucketObject | None:
        """The object, or None if it does not exist."""
        validate_object_key(name)
        info = self._provider.driver.head_object(self._bucket.name, name)
        return self._object(info) if info else None

    @wrap_foreign_errors
    def find(self, **kwargs: Any) -> ResultList[BucketObject]:
        """``find(name='a.txt')``: the object named exactly that, or nothing."""
        name = _find_name(kwargs)
        obj = self.get(name)
        return ResultList([obj] if obj else [])

    @wrap_foreign_errors
    def list(
        self, limit: int | None = None, marker: str | None = None, prefix: str | None = None
    ) -> ResultList[BucketObject]:
        page = self._provider.driver.list_objects(
            self._bucket.name,
            prefix=_prefix(prefix),
            marker=_marker(marker),
            limit=_limit(self._provider, limit),
        )
        return ResultList((self._object(info) for info in page.items), page.next_marker)

    def __iter__(self) -> Iterator[BucketObject]:
        marker: str | None = None
        while True:
            page = self.list(limit=ITERATION_PAGE_SIZE, marker=marker)
            yield from page
            if page.marker is None:
                return
            marker = page.marker

    @wrap_foreign_errors
    def create(self, name: str) -> BucketObject:
        """A handle for a new object; nothing is stored until content is uploaded."""
        validate_object_key(name)
        return BucketObject(self._provider, self._bucket, name, None)
