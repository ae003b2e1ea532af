"""The MEMORY provider: the full contract in process memory, for users' unit tests.

Each provider instance has its own store. One lock guards it; object bytes
are immutable, so readers stream outside the lock and always see whole
objects. Signed URLs work as the local provider's do, served in-process.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import secrets
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO

from ..config import ProviderConfig
from ..errors import (
    BucketNotEmptyException,
    DuplicateResourceException,
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
)
from ..localserver import SignedUrlService
from .base import (
    MIN_PART_SIZE,
    BucketInfo,
    HttpMethod,
    ObjectInfo,
    Page,
    PartInfo,
    page_of_names,
    read_body,
)


def create_driver(config: ProviderConfig) -> MemoryDriver:
    return MemoryDriver(server_url=config.get_value("memory_server_url"))


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
    content_type: str
    metadata: dict[str, str]
    parts: dict[int, tuple[str, bytes]] = field(default_factory=dict)


class MemoryDriver:
    provider_id = "memory"

    def __init__(self, *, server_url: str | None = None) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._uploads: dict[str, _Upload] = {}
        self._lock = threading.Lock()
        self._versions = itertools.count(1)  # next() is atomic under the GIL
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

    def head_bucket(self, name: str) -> BucketInfo | None:
        with self._lock:
            return BucketInfo(name) if name in self._buckets else None

    def list_buckets(self, *, marker: str | None, limit: int) -> Page[BucketInfo]:
        with self._lock:
            names = sorted(self._buckets)
        page, more = page_of_names(names, marker, limit)
        return Page([BucketInfo(name) for name in page], page[-1] if more else None)

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
        with self._lock:
            stored = self._bucket(bucket).objects.get(key)
        if stored is None:
            raise NotFoundException(f"object {key!r} not found in bucket {bucket!r}")
        if if_version is not None and stored.info.version != if_version:
            raise PreconditionFailedException(
                f"object {key!r} in bucket {bucket!r} was replaced since it was looked up"
            )
        view = memoryview(stored.data)[start:end]
        return (bytes(view[i : i + chunk_size]) for i in range(0, len(view), chunk_size))

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
        data = read_body(body, size)
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return self._store(bucket, key, data, etag, content_type, metadata, if_none_match)

    def _store(
        self,
        bucket: str,
        key: str,
        data: bytes,
        etag: str,
        content_type: str,
        metadata: Mapping[str, str],
        if_none_match: bool,
    ) -> ObjectInfo:
        info = ObjectInfo(
            key=key,
            size=len(data),
            last_modified=datetime.now(timezone.utc),
            etag=etag,
            content_type=content_type,
            metadata=dict(metadata),
            version=str(next(self._versions)),
        )
        with self._lock:
            store = self._bucket(bucket)
            if key not in store.objects:
                bisect.insort(store.keys, key)
            elif if_none_match:
                raise PreconditionFailedException(
                    f"object {key!r} already exists in bucket {bucket!r}"
                )
            store.objects[key] = _Stored(data, info)
        return info

    def delete_object(self, bucket: str, key: str) -> None:
        with self._lock:
            store = self._bucket(bucket)
            if store.objects.pop(key, None) is not None:
                del store.keys[bisect.bisect_left(store.keys, key)]

    # -- multipart ---------------------------------------------------------

    def _upload(self, bucket: str, key: str, upload_id: str) -> _Upload:
        upload = self._uploads.get(upload_id)
        if upload is None or upload.bucket != bucket or upload.key != key:
            raise NotFoundException(f"multipart upload {upload_id!r} does not exist")
        return upload

    def create_multipart(
        self, bucket: str, key: str, *, content_type: str, metadata: Mapping[str, str]
    ) -> str:
        upload_id = uuid.uuid4().hex
        with self._lock:
            self._bucket(bucket)
            self._uploads[upload_id] = _Upload(bucket, key, content_type, dict(metadata))
        return upload_id

    def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, data: bytes
    ) -> PartInfo:
        token = hashlib.md5(data, usedforsecurity=False).hexdigest()
        with self._lock:
            self._upload(bucket, key, upload_id).parts[part_number] = (token, bytes(data))
        return PartInfo(part_number, token)

    def complete_multipart(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: Sequence[PartInfo],
        *,
        if_none_match: bool = False,
    ) -> ObjectInfo:
        with self._lock:
            upload = self._upload(bucket, key, upload_id)
            chunks: list[bytes] = []
            for index, part in enumerate(parts):
                token, data = upload.parts.get(part.part_number, ("", b""))
                if token != part.token:
                    raise InvalidValueException(
                        "parts", part.part_number, "no part with this number and etag was uploaded"
                    )
                if len(data) < MIN_PART_SIZE and index < len(parts) - 1:
                    raise InvalidValueException(
                        "parts",
                        part.part_number,
                        f"{len(data)} bytes; every part but the last needs at least"
                        f" {MIN_PART_SIZE}",
                    )
                chunks.append(data)
        digest = hashlib.md5(usedforsecurity=False)
        for part in parts:
            digest.update(bytes.fromhex(part.token))
        info = self._store(
            bucket,
            key,
            b"".join(chunks),
            f"{digest.hexdigest()}-{len(parts)}",
            upload.content_type,
            upload.metadata,
            if_none_match,
        )
        with self._lock:
            self._uploads.pop(upload_id, None)
        return info

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        with self._lock:
            self._uploads.pop(upload_id, None)

    def sign_url(
        self,
        bucket: str,
        key: str,
        *,
        method: HttpMethod,
        expires_in: int,
        response_headers: Mapping[str, str],
    ) -> str:
        with self._lock:
            self._bucket(bucket)
        return self._signer.sign(bucket, key, method, expires_in, response_headers)
