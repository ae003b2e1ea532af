"""The services: ``provider.storage.buckets`` and ``bucket.objects``.

Paging is the server's: ``list`` makes one driver call per page and hands back
the driver's opaque marker; iteration walks every page. ``find(name=...)`` is
an exact match made with one lookup, whatever the bucket holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .checks import duration, optional_str, positive_int
from .drivers.base import ListsAhead
from .drivers.records import ObjectInfo
from .errors import (
    BucketBridgeException,
    InvalidNameException,
    InvalidParamException,
    InvalidValueException,
    NotFoundException,
    ProviderInternalException,
    wrap_foreign_errors,
)
from .names import validate_bucket_name, validate_object_key
from .resources import Bucket, BucketObject, MultipartUpload, delete_bucket
from .results import ResultList

if TYPE_CHECKING:
    from .provider import CloudProvider


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
    return optional_str("prefix", prefix) or None


def _limit(provider: CloudProvider, limit: int | None) -> int:
    if limit is None:
        default: int = provider.settings["default_result_limit"]
        return default
    return positive_int("limit", limit)


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
            page = self.list(limit=self._provider.features.list_page_size, marker=marker)
            yield from page
            if page.marker is None:
                return
            marker = page.marker

    @wrap_foreign_errors
    def create(self, name: str, location: str | None = None) -> Bucket:
        """Create a bucket; DuplicateResourceException if the name is taken."""
        validate_bucket_name(name)
        location = optional_str("location", location)
        info = self._provider.driver.create_bucket(name, location)
        return Bucket(self._provider, info.name)

    @wrap_foreign_errors
    def delete(self, bucket: Bucket | str, *, delete_contents: bool = False) -> None:
        """Delete a bucket; with ``delete_contents`` its objects go first."""
        name = bucket.name if isinstance(bucket, Bucket) else bucket
        if not isinstance(name, str) or not name:
            raise InvalidNameException(f"bucket name {name!r}: must be a non-empty string")
        delete_bucket(self._provider.driver, self._provider.features, name, delete_contents)


class BucketObjectService:
    """``bucket.objects``."""

    def __init__(self, provider: CloudProvider, bucket: Bucket) -> None:
        self._provider = provider
        self._bucket = bucket

    def _object(self, info: ObjectInfo) -> BucketObject:
        return BucketObject(self._provider, self._bucket, info.key, info)

    @wrap_foreign_errors
    def get(self, name: str) -> BucketObject | None:
        """The object, or None if it does not exist."""
        validate_object_key(name)
        driver = self._provider.driver
        info = driver.head_object(self._bucket.name, name)
        if info is None:
            if driver.head_bucket(self._bucket.name) is None:
                raise NotFoundException(f"bucket {self._bucket.name!r} does not exist")
            return None
        return self._object(info)

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
        return ResultList(map(self._object, page.items), page.next_marker)

    def __iter__(self) -> Iterator[BucketObject]:
        features = self._provider.features
        if features.lists_ahead is not None:
            yield from self._read_ahead(features.lists_ahead, features.list_page_size)
            return
        marker: str | None = None
        while True:
            page = self.list(limit=features.list_page_size, marker=marker)
            yield from page
            if page.marker is None:
                return
            marker = page.marker

    def _read_ahead(self, driver: ListsAhead, page_size: int) -> Iterator[BucketObject]:
        """The driver's walk, each page's request sent while the one before
        is read; its errors mapped as ``list``'s are. Closing this closes
        the walk (no request left in flight)."""
        pages = driver.list_ahead(self._bucket.name, prefix=None, limit=page_size)
        with closing(pages):
            while True:
                try:
                    records = next(pages)
                except StopIteration:
                    return
                except BucketBridgeException:
                    raise
                except Exception as error:
                    raise ProviderInternalException(f"{type(error).__name__}: {error}") from error
                yield from map(self._object, records)

    @wrap_foreign_errors
    def create(self, name: str) -> BucketObject:
        """A handle for a new object; nothing is stored until content is uploaded."""
        validate_object_key(name)
        return BucketObject(self._provider, self._bucket, name, None)

    @wrap_foreign_errors
    def incomplete_uploads(self) -> ResultList[MultipartUpload]:
        """The multipart uploads still open in this bucket (a crashed or
        killed upload's parts stay on the server until aborted), oldest first
        where the provider says when each started."""
        driver = self._provider.driver
        uploads = sorted(
            driver.list_multipart(self._bucket.name),
            key=lambda upload: (upload.initiated is None, upload.initiated or _EPOCH, upload.key),
        )
        return ResultList(
            MultipartUpload(
                BucketObject(self._provider, self._bucket, upload.key, None),
                driver.resume_multipart(self._bucket.name, upload.key, upload.upload_id),
                None,
                upload.initiated,
            )
            for upload in uploads
        )

    @wrap_foreign_errors
    def abort_incomplete_uploads(self, older_than: timedelta | float | None = None) -> int:
        """Abort the open multipart uploads (only those started more than
        ``older_than`` ago — a timedelta or seconds — if given, so that
        uploads in progress survive); returns how many were aborted."""
        cutoff = None if older_than is None else _started_before(duration("older_than", older_than))
        aborted = 0
        for upload in self.incomplete_uploads():
            if cutoff is not None and (upload.initiated is None or upload.initiated > cutoff):
                continue
            upload.abort()
            aborted += 1
        return aborted


_EPOCH = datetime.fromtimestamp(0, timezone.utc)


def _started_before(age: timedelta) -> datetime:
    """The moment ``age`` ago; an age reaching past year 1 leaves no upload older."""
    try:
        return datetime.now(timezone.utc) - age
    except OverflowError:
        return datetime.min.replace(tzinfo=timezone.utc)
