"""The LOCAL provider: buckets are directories, objects are files.

Layout under the root::

    <bucket>/<key>                    the object's bytes, at the path its key names
    .bucketbridge/meta/<bucket>/<key> its sidecar (JSON: content type, metadata, etag)
    .bucketbridge/tmp/                files being written, on the same filesystem
    .bucketbridge/uploads/<id>/       parts of multipart uploads in progress
    .bucketbridge/signing.key         the HMAC key of this root's signed URLs

Bucket names cannot start with a dot, so ``.bucketbridge`` never shows as a
bucket, and the sidecars mirror the object tree in a tree of their own, so no
key can collide with one. Every write goes to a temporary file that
``os.replace`` (or ``os.link`` for create-only) moves into place: a reader
sees the old object or the whole new one, and a crash leaves no half object.

A sidecar records which file it describes (inode, size, mtime); one that does
not match, like a file placed by hand with none, gives the defaults instead.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import stat as stat_module
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, BinaryIO

import platformdirs

from ..config import ProviderConfig
from ..errors import (
    BucketNotEmptyException,
    DuplicateResourceException,
    InvalidNameException,
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
)
from ..urlsigning import UrlSigner, load_or_create_key
from .base import (
    MIN_PART_SIZE,
    BucketInfo,
    HttpMethod,
    ObjectInfo,
    Page,
    PartInfo,
    ProgressCallback,
    guess_content_type,
)

STATE_DIR = ".bucketbridge"
COPY_CHUNK = 64 * 1024 * 1024
READ_CHUNK = 1024 * 1024
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_MAX_SEGMENT_BYTES = 255


def create_driver(config: ProviderConfig) -> LocalDriver:
    root = config.get_value("local_root") or platformdirs.user_data_dir("bucketbridge")
    return LocalDriver(
        os.path.abspath(os.path.expanduser(str(root))),
        server_url=config.get_value("local_server_url"),
    )


class LocalDriver:
    provider_id = "local"

    def __init__(self, root: str, *, server_url: str | None = None) -> None:
        self.root = root
        self._state = os.path.join(root, STATE_DIR)
        self._tmp = os.path.join(self._state, "tmp")
        self._uploads = os.path.join(self._state, "uploads")
        self._meta = os.path.join(self._state, "meta")
        for path in (self._tmp, self._uploads, self._meta):
            os.makedirs(path, exist_ok=True)
        self.signer = UrlSigner(
            load_or_create_key(os.path.join(self._state, "signing.key")), server_url, self
        )
        # Serialises the two renames that publish an object and its sidecar,
        # so concurrent writers in this process never pair one's bytes with
        # the other's metadata.
        self._commit_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<LocalDriver root={self.root!r}>"

    def close(self) -> None:
        self.signer.close()

    # -- paths -------------------------------------------------------------

    def _bucket_dir(self, bucket: str) -> str:
        if (
            not bucket
            or bucket.startswith(".")
            or "/" in bucket
            or "\\" in bucket
            or "\x00" in bucket
        ):
            raise InvalidNameException(
                f"bucket name {bucket!r} is not valid for the local provider"
            )
        return os.path.join(self.root, bucket)

    def _existing_bucket_dir(self, bucket: str) -> str:
        path = self._bucket_dir(bucket)
        if not os.path.isdir(path):
            raise NotFoundException(f"bucket {bucket!r} does not exist")
        return path

    def _object_path(self, bucket: str, key: str) -> str:
        return os.path.join(self._existing_bucket_dir(bucket), *_key_segments(key))

    def _meta_path(self, bucket: str, key: str) -> str:
        return os.path.join(self._meta, bucket, *_key_segments(key))

    # -- buckets -----------------------------------------------------------

    def create_bucket(self, name: str, location: str | None) -> BucketInfo:
        try:
            os.mkdir(self._bucket_dir(name))
        except FileExistsError as error:
            raise DuplicateResourceException(f"bucket {name!r} already exists") from error
        return BucketInfo(name)

    def delete_bucket(self, name: str) -> None:
        path = self._existing_bucket_dir(name)
        for _dirpath, _dirs, files in os.walk(path):
            if files:
                raise BucketNotEmptyException(f"bucket {name!r} is not empty")
        shutil.rmtree(path)
        shutil.rmtree(os.path.join(self._meta, name), ignore_errors=True)

    def head_bucket(self, name: str) -> BucketInfo | None:
        return BucketInfo(name) if os.path.isdir(self._bucket_dir(name)) else None

    def list_buckets(self, *, marker: str | None, limit: int) -> Page[BucketInfo]:
        names = sorted(
            entry.name
            for entry in os.scandir(self.root)
            if entry.is_dir()
            and not entry.name.startswith(".")
            and (marker is None or entry.name > marker)
        )
        page = names[:limit]
        more = len(names) > limit
        return Page([BucketInfo(name) for name in page], page[-1] if more else None)

    # -- reading -----------------------------------------------------------

    def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
        path = self._object_path(bucket, key)
        try:
            stat = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not _is_file(stat):
            return None
        return self._info(bucket, key, stat)

    def _info(self, bucket: str, key: str, stat: os.stat_result) -> ObjectInfo:
        sidecar = self._read_sidecar(bucket, key, stat)
        return ObjectInfo(
            key=key,
            size=stat.st_size,
            last_modified=datetime.fromtimestamp(stat.st_mtime_ns / 1e9, tz=timezone.utc),
            etag=sidecar.get("etag"),
            content_type=sidecar.get("content_type") or guess_content_type(key),
            metadata=dict(sidecar.get("metadata") or {}),
        )

    def _read_sidecar(self, bucket: str, key: str, stat: os.stat_result) -> dict[str, Any]:
        try:
            with open(self._meta_path(bucket, key), encoding="utf-8") as handle:
                sidecar: dict[str, Any] = json.load(handle)
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return {}
        return sidecar if sidecar.get("identity") == _identity(stat) else {}

    def list_objects(
        self, bucket: str, *, prefix: str | None, marker: str | None, limit: int
    ) -> Page[ObjectInfo]:
        root = self._existing_bucket_dir(bucket)
        items: list[ObjectInfo] = []
        for key, stat in _walk_sorted(root, "", prefix or "", marker):
            if len(items) == limit:
                return Page(items, items[-1].key)
            items.append(self._info(bucket, key, stat))
        return Page(items, None)

    def read_object(
        self, bucket: str, key: str, *, start: int = 0, end: int | None = None, chunk_size: int
    ) -> Iterator[bytes]:
        try:
            handle = open(self._object_path(bucket, key), "rb")  # noqa: SIM115 - closed by the generator
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as error:
            raise NotFoundException(f"object {key!r} not found in bucket {bucket!r}") from error
        return _read_chunks(handle, start, end, chunk_size)

    def compute_etag(self, bucket: str, key: str) -> str:
        """MD5 of the content, computed on first demand and kept in the sidecar."""
        path = self._object_path(bucket, key)
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with open(path, "rb") as handle:
                before = os.fstat(handle.fileno())
                while chunk := handle.read(READ_CHUNK * 8):
                    digest.update(chunk)
        except FileNotFoundError as error:
            raise NotFoundException(f"object {key!r} not found in bucket {bucket!r}") from error
        etag = digest.hexdigest()
        with self._commit_lock:
            sidecar = self._read_sidecar(bucket, key, before)
            if sidecar and os.stat(path).st_ino == before.st_ino:
                sidecar["etag"] = etag
                self._write_sidecar(bucket, key, sidecar)
        return etag

    # -- writing -----------------------------------------------------------

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
        path = self._object_path(bucket, key)
        digest = hashlib.md5(usedforsecurity=False)
        with self._temp_file() as (fd, temp_path):
            remaining = size
            while remaining > 0:
                chunk = body.read(min(remaining, READ_CHUNK))
                if not chunk:
                    raise InvalidValueException(
                        "body", f"{size - remaining} bytes", f"stream ended before {size} bytes"
                    )
                digest.update(chunk)
                _write_all(fd, chunk)
                remaining -= len(chunk)
            return self._commit(
                bucket,
                key,
                path,
                fd,
                temp_path,
                content_type,
                metadata,
                digest.hexdigest(),
                if_none_match,
            )

    def put_file(
        self,
        bucket: str,
        key: str,
        path: str,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        progress: ProgressCallback | None,
        if_none_match: bool = False,
    ) -> ObjectInfo:
        """Copy inside the kernel; the etag is computed later, on demand."""
        destination = self._object_path(bucket, key)
        with open(path, "rb") as source, self._temp_file() as (fd, temp_path):
            _copy_fd(source.fileno(), fd, progress)
            return self._commit(
                bucket,
                key,
                destination,
                fd,
                temp_path,
                content_type,
                metadata,
                None,
                if_none_match,
            )

    def get_file(
        self, bucket: str, key: str, fd: int, *, progress: ProgressCallback | None
    ) -> None:
        try:
            source = open(self._object_path(bucket, key), "rb")  # noqa: SIM115
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as error:
            raise NotFoundException(f"object {key!r} not found in bucket {bucket!r}") from error
        with source:
            _copy_fd(source.fileno(), fd, progress)

    def delete_object(self, bucket: str, key: str) -> None:
        path = self._object_path(bucket, key)
        meta_path = self._meta_path(bucket, key)
        with self._commit_lock:  # pruning must not race a commit's makedirs
            for target in (path, meta_path):
                try:
                    os.unlink(target)
                except (FileNotFoundError, NotADirectoryError):
                    pass
                except IsADirectoryError:
                    return
            _prune_empty_dirs(os.path.dirname(path), self._bucket_dir(bucket))
            _prune_empty_dirs(os.path.dirname(meta_path), os.path.join(self._meta, bucket))

    def _temp_file(self) -> _TempFile:
        return _TempFile(self._tmp)

    def _commit(
        self,
        bucket: str,
        key: str,
        path: str,
        fd: int,
        temp_path: str,
        content_type: str,
        metadata: Mapping[str, str],
        etag: str | None,
        if_none_match: bool,
    ) -> ObjectInfo:
        stat = os.fstat(fd)
        sidecar = {
            "identity": _identity(stat),
            "content_type": content_type,
            "metadata": dict(metadata),
            "etag": etag,
        }
        with self._commit_lock:
            for attempt in range(5):
                _make_parent_dirs(path, self._bucket_dir(bucket), key)
                try:
                    if if_none_match:
                        os.link(temp_path, path)
                        os.unlink(temp_path)
                    else:
                        os.replace(temp_path, path)
                    break
                except FileExistsError as error:
                    raise PreconditionFailedException(
                        f"object {key!r} already exists in bucket {bucket!r}"
                    ) from error
                except IsADirectoryError as error:
                    raise InvalidNameException(
                        f"object name {key!r}: objects already exist under {key + '/'!r}; the"
                        " local provider stores keys as paths"
                    ) from error
                except FileNotFoundError:
                    if attempt == 4:  # a concurrent delete kept pruning the parent
                        raise
            self._write_sidecar(bucket, key, sidecar)
        return ObjectInfo(
            key=key,
            size=stat.st_size,
            last_modified=datetime.fromtimestamp(stat.st_mtime_ns / 1e9, tz=timezone.utc),
            etag=etag,
            content_type=content_type,
            metadata=dict(metadata),
        )

    def _write_sidecar(self, bucket: str, key: str, sidecar: Mapping[str, Any]) -> None:
        meta_path = self._meta_path(bucket, key)
        os.makedirs(os.path.dirname(meta_path), exist_ok=True)
        with self._temp_file() as (fd, temp_path):
            _write_all(fd, json.dumps(sidecar).encode("utf-8"))
            os.replace(temp_path, meta_path)

    # -- multipart ---------------------------------------------------------

    def _upload_dir(self, upload_id: str) -> str:
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise NotFoundException(f"multipart upload {upload_id!r} does not exist")
        return os.path.join(self._uploads, upload_id)

    def _existing_upload(self, bucket: str, key: str, upload_id: str) -> tuple[str, dict[str, Any]]:
        directory = self._upload_dir(upload_id)
        try:
            with open(os.path.join(directory, "upload.json"), encoding="utf-8") as handle:
                record: dict[str, Any] = json.load(handle)
        except FileNotFoundError as error:
            raise NotFoundException(f"multipart upload {upload_id!r} does not exist") from error
        if record["bucket"] != bucket or record["key"] != key:
            raise NotFoundException(f"multipart upload {upload_id!r} is not for {bucket}/{key}")
        return directory, record

    def create_multipart(
        self, bucket: str, key: str, *, content_type: str, metadata: Mapping[str, str]
    ) -> str:
        self._object_path(bucket, key)  # validates the key and the bucket now, not at complete
        upload_id = uuid.uuid4().hex
        directory = self._upload_dir(upload_id)
        os.mkdir(directory)
        record = {
            "bucket": bucket,
            "key": key,
            "content_type": content_type,
            "metadata": dict(metadata),
        }
        with open(os.path.join(directory, "upload.json"), "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        return upload_id

    def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, data: bytes
    ) -> PartInfo:
        directory, _ = self._existing_upload(bucket, key, upload_id)
        token = hashlib.md5(data, usedforsecurity=False).hexdigest()
        with self._temp_file() as (fd, temp_path):
            _write_all(fd, data)
            os.replace(temp_path, os.path.join(directory, _part_file(part_number, token)))
        for name in os.listdir(directory):  # a part sent again replaces the earlier one
            if name.startswith(f"{part_number:05d}.") and name != _part_file(part_number, token):
                os.unlink(os.path.join(directory, name))
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
        directory, record = self._existing_upload(bucket, key, upload_id)
        part_paths = [
            os.path.join(directory, _part_file(part.part_number, part.token)) for part in parts
        ]
        for index, (part, part_path) in enumerate(zip(parts, part_paths, strict=False)):
            try:
                size = os.path.getsize(part_path)
            except FileNotFoundError as error:
                raise InvalidValueException(
                    "parts", part.part_number, "no part with this number and etag was uploaded"
                ) from error
            if size < MIN_PART_SIZE and index < len(parts) - 1:
                raise InvalidValueException(
                    "parts",
                    part.part_number,
                    f"{size} bytes; every part but the last needs at least {MIN_PART_SIZE}",
                )
        digest = hashlib.md5(usedforsecurity=False)
        for part in parts:
            digest.update(bytes.fromhex(part.token))
        etag = f"{digest.hexdigest()}-{len(parts)}"  # S3's multipart etag
        destination = self._object_path(bucket, key)
        with self._temp_file() as (fd, temp_path):
            for part_path in part_paths:
                with open(part_path, "rb") as source:
                    _copy_fd(source.fileno(), fd, None)
            info = self._commit(
                bucket,
                key,
                destination,
                fd,
                temp_path,
                record["content_type"],
                record["metadata"],
                etag,
                if_none_match,
            )
        shutil.rmtree(directory, ignore_errors=True)
        return info

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        shutil.rmtree(self._upload_dir(upload_id), ignore_errors=True)

    # -- signed URLs -------------------------------------------------------

    def sign_url(
        self,
        bucket: str,
        key: str,
        *,
        method: HttpMethod,
        expires_in: int,
        response_headers: Mapping[str, str],
    ) -> str:
        self._object_path(bucket, key)
        return self.signer.sign(bucket, key, method, expires_in, response_headers)


class _TempFile:
    """A temporary file in the state dir, removed unless it was moved into place."""

    def __init__(self, directory: str) -> None:
        self._directory = directory

    def __enter__(self) -> tuple[int, str]:
        self._fd, self._path = tempfile.mkstemp(dir=self._directory, suffix=".part")
        os.fchmod(self._fd, 0o644)
        return self._fd, self._path

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)


def _key_segments(key: str) -> list[str]:
    """The path segments of a key, refusing any that could leave the bucket
    directory or that a filesystem cannot hold."""
    if key.startswith("/") or key.endswith("/"):
        raise InvalidNameException(
            f"object name {key!r}: the local provider cannot store a name that starts or ends"
            " with '/'"
        )
    segments = key.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise InvalidNameException(
                f"object name {key!r}: the local provider refuses empty, '.' and '..' path segments"
            )
        if "\x00" in segment or ("\\" in segment and os.sep == "\\"):
            raise InvalidNameException(f"object name {key!r}: contains a forbidden character")
        if len(segment.encode("utf-8")) > _MAX_SEGMENT_BYTES:
            raise InvalidNameException(
                f"object name {key[:40]!r}...: a path segment is longer than {_MAX_SEGMENT_BYTES}"
                " bytes"
            )
    if segments[0] == STATE_DIR:
        raise InvalidNameException(f"object name {key!r}: {STATE_DIR!r} is reserved")
    return segments


def _walk_sorted(
    directory: str, relative: str, prefix: str, marker: str | None
) -> Iterator[tuple[str, os.stat_result]]:
    """Yield (key, stat) of the files under ``directory`` in S3's key order,
    skipping whole subtrees that are before ``marker`` or outside ``prefix``.

    A directory sorts as its name plus '/', which puts ``a-b`` before ``a/c``
    before ``a0`` exactly as the keys themselves sort.
    """
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return
    ordered = sorted(
        (
            (relative + entry.name + ("/" if entry.is_dir(follow_symlinks=False) else ""), entry)
            for entry in entries
        ),
        key=lambda pair: pair[0],  # code point order is UTF-8 byte order, as S3 sorts
    )
    for name, entry in ordered:
        if name.endswith("/"):
            if not (prefix.startswith(name) or name.startswith(prefix)):
                continue
            if marker is not None and name < marker and not marker.startswith(name):
                continue
            yield from _walk_sorted(entry.path, name, prefix, marker)
            continue
        if not name.startswith(prefix) or (marker is not None and name <= marker):
            continue
        try:
            stat = entry.stat()
        except FileNotFoundError:  # deleted while we listed
            continue
        if _is_file(stat):
            yield name, stat


def _read_chunks(handle: BinaryIO, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = None if end is None else max(0, end - start)
        while remaining is None or remaining > 0:
            chunk = handle.read(chunk_size if remaining is None else min(chunk_size, remaining))
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


def _copy_fd(source: int, destination: int, progress: ProgressCallback | None) -> None:
    """Copy from the current offset of ``source`` to the end, in the kernel where it can."""
    while True:
        try:
            copied = os.copy_file_range(source, destination, COPY_CHUNK)
        except OSError as error:
            if error.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            copied = _copy_by_reading(source, destination)
        if copied == 0:
            return
        if progress is not None:
            progress(copied)


def _copy_by_reading(source: int, destination: int) -> int:
    chunk = os.read(source, COPY_CHUNK)
    _write_all(destination, chunk)
    return len(chunk)


def _part_file(part_number: int, token: str) -> str:
    """A part's file name carries its MD5 token, so complete joins only the
    parts the caller was told about, as S3 checks part ETags."""
    if not re.fullmatch(r"[0-9a-f]{32}", token):
        raise InvalidValueException("parts", part_number, f"unknown part etag {token!r}")
    return f"{part_number:05d}.{token}"


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _identity(stat: os.stat_result) -> list[int]:
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns]


def _is_file(stat: os.stat_result) -> bool:
    return stat_module.S_ISREG(stat.st_mode)


def _make_parent_dirs(path: str, bucket_dir: str, key: str) -> None:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except (FileExistsError, NotADirectoryError) as error:
        raise InvalidNameException(
            f"object name {key!r}: a part of its path is already an object; the local provider"
            " stores keys as paths"
        ) from error


def _prune_empty_dirs(directory: str, stop: str) -> None:
    """Remove directories a delete left empty, up to (not including) ``stop``."""
    while os.path.abspath(directory).startswith(os.path.abspath(stop) + os.sep):
        try:
            os.rmdir(directory)
        except OSError:
            return
        directory = os.path.dirname(directory)
