"""The MEMORY provider: the full contract in process memory, for users' unit tests.

Each provider instance has its own store. One lock guards it; object bytes
are immutable, so readers stream outside the lock and always see whole
objects. Signed URLs work as the local provider's do, served in-process.

This is the reference driver of ``docs/writing-a-driver.md``: every
primitive, and nothing a core helper already does.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..config import Setting, Settings
from ..errors import (
    BucketNotEmptyException,
    DuplicateResourceException,
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
)
from ..urlservice import SignedUrlService
from .base import Driver
from .paging import page_of_names
from .parts import check_part_sizes, multipart_etag
from .records import (
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

SETTINGS = (Setting("memory_server_url", str),)


def create_driver(settings: Settings) -> MemoryDriver:
    return MemoryDriver(server_url=settings["memory_server_url"])


# The factory loads drivers by name; this line has mypy compare the driver
# with the Driver protocol.
_checked: Callable[[Settings], Driver] = create_driver


@dataclass
class _Stored:
    data: bytes
    info: ObjectInfo


@dataclass
class _Bucket:
    objects: dict[str, _Stored] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # sorted, for paging


@dataclass
class _Upload:
    bucket: str
    key: str
    initiated: datetime
    parts: dict[int, tuple[PartInfo, bytes]] = field(default_factory=dict)


class MemoryDriver:
    provider_id = "memory"
    refuses_non_empty_bucket_delete = True

    def __init__(self, *, server_url: str | None = None) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._uploads: dict[str, _Upload] = {}
        self._lock = threading.Lock()
        self._revisions = itertools.count(1)  # next() is atomic under the GIL
        self._signer = SignedUrlService(secrets.token_bytes(32), server_url, self)

    def __repr__(self) -> str:
        return f"<MemoryDriver buckets={len(self._buckets)}>"

    def close(self) -> None:
        self._signer.close()

    def _bucket(self, name: str) -> _Bucket:
        try:
            return self._buckets[name]
        except KeyError:
            raise NotFoundException(f"bucket {name!r} does not exist") from None

    # -- buckets -----------------------------------------------------------

    def create_bucket(self, name: str, location: str | None) -> BucketInfo:
        with self._lock:
            if name in self._buckets:
                raise DuplicateResourceException(f"bucket {name!r} already exists")
            self._buckets[name] = _Bucket()
        return BucketInfo(name)

    def delete_bucket(self, name: str) -> None:
        with self._lock:
            if self._bucket(name).objects:
                raise BucketNotEmptyException(f"bucket {name!r} is not empty")
            del self._buckets[name]
            for upload_id in [i for i, u in self._uploads.items() if u.bucket == name]:
                del self._uploads[upload_id]

    def head_bucket(self, name: str) -> BucketInfo | None:
        with self._lock:
            return BucketInfo(name) if name in self._buckets else None

    def list_buckets(self, *, marker: str | None, limit: int) -> Page[BucketInfo]:
        with self._lock:
            names = sorted(self._buckets)
        return page_of_names(names, marker, limit)

    # -- objects -----------------------------------------------------------

    def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
        with self._lock:
            stored = self._bucket(bucket).objects.get(key)
        return stored.info if stored else None

    def list_objects(
        self, bucket: str, *, prefix: str | None, marker: str | None, limit: int
    ) -> Page[ObjectInfo]:
        prefix = prefix or ""
        with self._lock:
            store = self._bucket(bucket)
            after = max(marker or "", prefix) if prefix else marker
            index = 0 if after is None else bisect.bisect_left(store.keys, after)
            items: list[ObjectInfo] = []
            while index < len(store.keys) and len(items) <= limit:
                key = store.keys[index]
                index += 1
                if marker is not None and key <= marker:
                    continue
                if not key.startswith(prefix):
                    break
                items.append(store.objects[key].info)
        if len(items) > limit:
            return Page(items[:limit], items[limit - 1].key)
        return Page(items, None)

    def list_directory(
        self, bucket: str, *, prefix: str, marker: str | None, limit: int
    ) -> DirectoryPage:
        objects: list[ObjectInfo] = []
        directories: list[str] = []
        last = ""
        with self._lock:
            store = self._bucket(bucket)
            keys = store.keys
            if marker is None:
                index = bisect.bisect_left(keys, prefix)
            elif marker.endswith("/"):  # a directory: go past every key below it
                index = bisect.bisect_left(keys, marker[:-1] + "0")  # "0" follows "/"
            else:
                index = bisect.bisect_right(keys, marker)
            while index < len(keys) and keys[index].startswith(prefix):
                if len(objects) + len(directories) == limit:
                    return DirectoryPage(objects, directories, last)
                key = keys[index]
                slash = key.find("/", len(prefix))
                if slash < 0:
                    objects.append(store.objects[key].info)
                    last = key
                    index += 1
                else:
                    last = key[: slash + 1]
                    directories.append(last)
                    index = bisect.bisect_left(keys, last[:-1] + "0")
        return DirectoryPage(objects, directories, None)

    def read_object(self, bucket: str, key: str, options: ReadOptions) -> ObjectStream:
        with self._lock:
            stored = self._bucket(bucket).objects.get(key)
        if stored is None:
            raise NotFoundException(f"object {key!r} not found in bucket {bucket!r}")
        if options.if_revision is not None and stored.info.revision != options.if_revision:
            raise PreconditionFailedException(
                f"object {key!r} in bucket {bucket!r} was replaced since it was looked up"
            )
        view = memoryview(stored.data)[options.start : options.end]
        size = options.chunk_size
        chunks = (bytes(view[i : i + size]) for i in range(0, len(view), size))
        return ObjectStream(stored.info, chunks)

    def put_object(self, bucket: str, key: str, body: Body, options: WriteOptions) -> ObjectInfo:
        data = body.read()
        if len(data) != body.size:
            raise InvalidValueException("body", len(data), f"expected {body.size} bytes")
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return self._store(bucket, key, data, etag, options)

    def _store(
        self, bucket: str, key: str, data: bytes, etag: str, options: WriteOptions
    ) -> ObjectInfo:
        info = ObjectInfo(
            key=key,
            size=len(data),
            last_modified=datetime.now(timezone.utc),
            etag=etag,
            content_type=options.content_type,
            metadata=dict(options.metadata),
            revision=str(next(self._revisions)),
        )
        with self._lock:
            store = self._bucket(bucket)
            if key not in store.objects:
                bisect.insort(store.keys, key)
            elif options.create_only:
                raise PreconditionFailedException(
                    f"object {key!r} already exists in bucket {bucket!r}"
                )
            store.objects[key] = _Stored(data, info)
        return info

    def copy_object(
        self,
        source_bucket: str,
        source: ObjectInfo,
        bucket: str,
        key: str,
        options: WriteOptions,
    ) -> ObjectInfo:
        source_key, source_revision = source.key, source.revision
        with self._lock:
            stored = self._bucket(source_bucket).objects.get(source_key)
            self._bucket(bucket)  # a missing destination bucket is NotFound, before the source
        if stored is None:
            raise NotFoundException(f"object {source_key!r} not found in bucket {source_bucket!r}")
        if source_revision is not None and stored.info.revision != source_revision:
            raise PreconditionFailedException(
                f"object {source_key!r} in bucket {source_bucket!r} was replaced since it was"
                " looked up"
            )
        # bytes are immutable: the copy shares them, as a server-side copy shares nothing
        etag = stored.info.etag
        assert etag is not None  # the memory driver computes every etag on write
        return self._store(bucket, key, stored.data, etag, options)

    def delete_object(self, bucket: str, key: str) -> None:
        with self._lock:
            store = self._bucket(bucket)
            if store.objects.pop(key, None) is not None:
                del store.keys[bisect.bisect_left(store.keys, key)]

    # -- multipart ---------------------------------------------------------

    def start_multipart(self, bucket: str, key: str, options: WriteOptions) -> _MemoryUpload:
        upload_id = uuid.uuid4().hex
        with self._lock:
            self._bucket(bucket)
            self._uploads[upload_id] = _Upload(bucket, key, datetime.now(timezone.utc))
        return _MemoryUpload(self, bucket, key, upload_id)

    def resume_multipart(self, bucket: str, key: str, upload_id: str) -> _MemoryUpload:
        return _MemoryUpload(self, bucket, key, upload_id)

    def list_multipart(self, bucket: str) -> Iterator[UploadInfo]:
        with self._lock:
            self._bucket(bucket)
            uploads = [(i, u) for i, u in self._uploads.items() if u.bucket == bucket]
        return iter([UploadInfo(u.key, i, u.initiated) for i, u in uploads])

    def _upload(self, bucket: str, key: str, upload_id: str) -> _Upload:
        upload = self._uploads.get(upload_id)
        if upload is None or upload.bucket != bucket or upload.key != key:
            raise NotFoundException(f"multipart upload {upload_id!r} does not exist")
        return upload

    # -- signed URLs -------------------------------------------------------

    def sign_url(self, bucket: str, key: str, request: UrlRequest) -> str:
        with self._lock:
            self._bucket(bucket)
        return self._signer.sign(bucket, key, request)


class _MemoryUpload:
    def __init__(self, driver: MemoryDriver, bucket: str, key: str, upload_id: str) -> None:
        self._driver = driver
        self._bucket = bucket
        self._key = key
        self.upload_id = upload_id

    def upload_part(self, part_number: int, body: Body) -> PartInfo:
        data = body.read()
        token = hashlib.md5(data, usedforsecurity=False).hexdigest()
        part = PartInfo(part_number, token, len(data))
        with self._driver._lock:
            upload = self._driver._upload(self._bucket, self._key, self.upload_id)
            upload.parts[part_number] = (part, data)
        return part

    def complete(self, parts: Sequence[PartInfo], options: WriteOptions) -> ObjectInfo:
        with self._driver._lock:
            upload = self._driver._upload(self._bucket, self._key, self.upload_id)
            stored = [upload.parts.get(part.part_number) for part in parts]
        chunks: list[bytes] = []
        for part, found in zip(parts, stored, strict=True):
            if found is None or found[0].token != part.token:
                raise InvalidValueException(
                    "parts", part.part_number, "no part with this number and etag was uploaded"
                )
            chunks.append(found[1])
        check_part_sizes([found[0] for found in stored if found is not None])
        etag = multipart_etag([part.token for part in parts])
        info = self._driver._store(self._bucket, self._key, b"".join(chunks), etag, options)
        self.abort()
        return info

    def abort(self) -> None:
        with self._driver._lock:
            self._driver._uploads.pop(self.upload_id, None)
