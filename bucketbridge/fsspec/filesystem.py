"""The filesystem: paths, listings, whole-object transfers (files are in :mod:`.files`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, ClassVar

from fsspec.spec import AbstractFileSystem

from ..directories import walk_directory, walk_objects
from ..drivers.parts import MIN_PART_SIZE
from ..drivers.records import ObjectInfo, ReadOptions
from ..errors import (
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
    ProviderInternalException,
)
from ..locations import shared_provider
from ..provider import CloudProvider
from ..reads import open_read
from ..resources import Bucket, BucketObject
from ..scratch import ScratchFile
from .errors import as_os_errors
from .files import READ_BLOCK_SIZE, WRITE_BLOCK_SIZE, BucketBridgeFile
from .scope import Scopes


class BucketBridgeFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """A provider as an fsspec filesystem. ``provider`` names it (a
    ProviderList value) where the class does not; ``config`` is the dict
    ``create_provider`` takes, and what it omits comes from the environment
    and the config file, as always. ``block_size`` replaces the default
    read-ahead (5 MiB) of files opened, and their write part size (16 MiB)
    where it is at least 5 MiB."""

    protocol: ClassVar[str | tuple[str, ...]] = "bucketbridge"
    provider_id: ClassVar[str | None] = None
    root_marker = ""

    def __init__(
        self,
        provider: str | None = None,
        config: dict[str, Any] | None = None,
        block_size: int | None = None,
        **storage_options: Any,
    ) -> None:
        super().__init__(provider=provider, config=config, block_size=block_size, **storage_options)
        self._block_size = block_size
        chosen = self.provider_id or provider
        if not chosen:
            raise InvalidValueException(
                "provider", provider, "name one (bucketbridge://...) or use a bb+ protocol"
            )
        if config is not None and not isinstance(config, dict):
            raise InvalidValueException("config", type(config).__name__, "expected a dict")
        self._provider: CloudProvider = shared_provider(chosen, config or {})
        self._scopes = Scopes()

    # -- paths ---------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        text = str(os.fspath(path))
        if "://" in text:
            text = text.split("://", 1)[1]
        return text.strip("/")

    @staticmethod
    def _split(path: str) -> tuple[str, str]:
        bucket, _, key = path.partition("/")
        return bucket, key

    def _bucket(self, name: str) -> Bucket:
        return Bucket(self._provider, name)

    # -- information ---------------------------------------------------------

    @staticmethod
    def _file_entry(bucket: str, info: ObjectInfo) -> dict[str, Any]:
        return {
            "name": f"{bucket}/{info.key}",
            "size": info.size,
            "type": "file",
            "etag": info.etag,
            "LastModified": info.last_modified,
            "revision": info.revision,
            "content_type": info.content_type,
        }

    @staticmethod
    def _directory_entry(name: str) -> dict[str, Any]:
        return {"name": name, "size": 0, "type": "directory"}

    @as_os_errors
    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        if not path:
            names = [bucket.name for bucket in self._provider.storage.buckets]
            entries = [self._directory_entry(name) for name in names]
        else:
            entries = self._list_level(path)
        for entry in entries:
            self._scopes.remember(entry)
        return entries if detail else [entry["name"] for entry in entries]

    def _list_level(self, path: str) -> list[dict[str, Any]]:
        bucket, key = self._split(path)
        prefix = f"{key}/" if key else ""
        driver, features = self._provider.driver, self._provider.features
        entries = [
            self._file_entry(bucket, item)
            if isinstance(item, ObjectInfo)
            else self._directory_entry(f"{bucket}/{item[:-1]}")
            for item in walk_directory(driver, features, bucket, prefix)
        ]
        if entries:
            return entries
        if not key:
            if driver.head_bucket(bucket) is None:
                raise FileNotFoundError(path)
            return []
        found = driver.head_object(bucket, key)
        if found is None:
            raise FileNotFoundError(path)
        return [self._file_entry(bucket, found)]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        known = self._scopes.known(path)
        if known is not None:
            return known
        found = self._info(path)
        self._scopes.remember(found)
        return found

    @as_os_errors
    def _info(self, path: str) -> dict[str, Any]:
        """A HEAD: the object; for a miss, one key below makes a directory."""
        if not path:
            return self._directory_entry("")
        bucket, key = self._split(path)
        driver = self._provider.driver
        if not key:
            if driver.head_bucket(bucket) is None:
                raise FileNotFoundError(path)
            return self._directory_entry(bucket)
        found = driver.head_object(bucket, key)
        if found is not None:
            return self._file_entry(bucket, found)
        below = driver.list_objects(bucket, prefix=f"{key}/", marker=None, limit=1)
        if below.items:
            return self._directory_entry(path)
        raise FileNotFoundError(path)

    @as_os_errors
    def find(
        self,
        path: str,
        maxdepth: int | None = None,
        withdirs: bool = False,
        detail: bool = False,
        **kwargs: Any,
    ) -> Any:
        """One flat listing of everything below ``path`` (not a walk of
        every level, as fsspec's default would do)."""
        path = self._strip_protocol(path)
        bucket, key = self._split(path)
        if maxdepth is not None or not bucket:
            return super().find(path, maxdepth, withdirs, detail, **kwargs)
        found: dict[str, dict[str, Any]] = {}
        if key:
            single = self._provider.driver.head_object(bucket, key)
            if single is not None:
                found[path] = self._file_entry(bucket, single)
        for info in self._flat(bucket, f"{key}/" if key else ""):
            entry = self._file_entry(bucket, info)
            found[entry["name"]] = entry
            if withdirs:
                parent = entry["name"].rsplit("/", 1)[0]
                while len(parent) > len(path):
                    found.setdefault(parent, self._directory_entry(parent))
                    parent = parent.rsplit("/", 1)[0]
        if withdirs and found and path not in found:
            found[path] = self._directory_entry(path)
        ordered = dict(sorted(found.items()))
        for entry in ordered.values():
            self._scopes.remember(entry)
        return ordered if detail else list(ordered)

    # -- bulk calls: one listing answers every isdir/info on what it listed --

    def copy(self, *args: Any, **kwargs: Any) -> Any:
        with self._scopes.opened():
            return super().copy(*args, **kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        with self._scopes.opened():
            return super().get(*args, **kwargs)

    def put(self, *args: Any, **kwargs: Any) -> Any:
        with self._scopes.opened():
            return super().put(*args, **kwargs)

    def _is_known_directory(self, path: str) -> bool:
        known = self._scopes.known(path)
        return known is not None and known["type"] == "directory"

    def _flat(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        return walk_objects(self._provider.driver, self._provider.features, bucket, prefix)

    def checksum(self, path: str) -> int:
        return int(self.ukey(path), 16) if self.ukey(path) else 0

    def ukey(self, path: str) -> str:
        info = self.info(path)
        return str(info.get("etag") or info.get("revision") or "")

    def modified(self, path: str) -> datetime:
        info = self.info(path)
        if info["type"] != "file":
            raise IsADirectoryError(path)
        modified: datetime = info["LastModified"]
        return modified

    # -- reading -------------------------------------------------------------

    @as_os_errors
    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        path = self._strip_protocol(path)
        bucket, key = self._split(path)
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = self.info(path)["size"]
            start = size + start if start is not None and start < 0 else start
            end = size + end if end is not None and end < 0 else end
        first = max(0, start or 0)
        if end is not None and end <= first:
            return b""
        options = ReadOptions(start=first, end=end)
        stream = open_read(
            self._provider.driver, bucket, key, options, self._provider.settings["max_attempts"]
        )
        try:
            return b"".join(stream)
        finally:
            stream.close()

    def _default_block_size(self, mode: str) -> int:
        if mode == "rb":
            return self._block_size or READ_BLOCK_SIZE
        # a part is at least MIN_PART_SIZE: a smaller read-ahead is not a part size
        if self._block_size and self._block_size >= MIN_PART_SIZE:
            return self._block_size
        return WRITE_BLOCK_SIZE

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> BucketBridgeFile:
        if mode not in ("rb", "wb", "xb"):
            raise ValueError(
                f"mode {mode!r}: objects are read ('rb') or written whole ('wb', 'xb')"
            )
        return BucketBridgeFile(
            self,
            self._strip_protocol(path),
            mode,
            block_size=block_size or self._default_block_size(mode),
            autocommit=autocommit,
            cache_options=cache_options,
            **kwargs,
        )

    @as_os_errors
    def get_file(self, rpath: str, lpath: str, callback: Any = None, **kwargs: Any) -> None:
        rpath = self._strip_protocol(rpath)
        bucket, key = self._split(rpath)
        if os.path.isdir(lpath) or not key or self._is_known_directory(rpath):
            os.makedirs(lpath, exist_ok=True)
            return
        os.makedirs(os.path.dirname(os.path.abspath(lpath)), exist_ok=True)
        report = _progress(callback)
        known = self._scopes.known(rpath)
        threshold = self._provider.transfer_plan(None).threshold
        try:  # the object first: one request where it is one
            if known is not None and known["size"] <= threshold:
                self._download_small(bucket, key, lpath, report)
                return
            self._bucket(bucket).objects.create(key).download_to_file(lpath, progress=report)
        except NotFoundException:
            if not self.isdir(rpath):
                raise
            os.makedirs(lpath, exist_ok=True)

    def _download_small(
        self, bucket: str, key: str, lpath: str, report: Callable[[int], None] | None
    ) -> None:
        """One GET of an object the listing showed below the download
        threshold (the download engine would HEAD it first, to size it),
        into a scratch file put in place whole, as ``download_to_file`` does."""
        provider = self._provider
        options = ReadOptions(chunk_size=1 << 20)
        stream = open_read(provider.driver, bucket, key, options, provider.settings["max_attempts"])
        try:
            with ScratchFile(lpath) as scratch:
                written = 0
                for chunk in stream:
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(scratch.fd, view) :]
                    written += len(chunk)
                    if report is not None:
                        report(len(chunk))
                if written != stream.info.size:
                    raise ProviderInternalException(
                        f"download of {bucket}/{key} got {written} bytes, expected"
                        f" {stream.info.size}"
                    )
                scratch.publish()
        finally:
            stream.close()

    # -- writing -------------------------------------------------------------

    @as_os_errors
    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        bucket, key = self._split(path)
        self._scopes.forget(path)
        try:
            self._bucket(bucket).objects.create(key).upload(
                value,
                overwrite=mode != "create",
                content_type=kwargs.get("content_type"),
                metadata=kwargs.get("metadata"),
            )
        except PreconditionFailedException as error:
            raise FileExistsError(path) from error

    @as_os_errors
    def put_file(
        self, lpath: str, rpath: str, callback: Any = None, mode: str = "overwrite", **kwargs: Any
    ) -> None:
        if os.path.isdir(lpath):
            return  # object stores hold no directories: the files below make it
        rpath = self._strip_protocol(rpath)
        bucket, key = self._split(rpath)
        self._scopes.forget(rpath)
        try:
            self._bucket(bucket).objects.create(key).upload_from_file(
                lpath,
                overwrite=mode != "create",
                content_type=kwargs.get("content_type"),
                metadata=kwargs.get("metadata"),
                progress=_progress(callback),
            )
        except PreconditionFailedException as error:
            raise FileExistsError(rpath) from error

    @as_os_errors
    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copied inside the provider where it can (``copy_to``)."""
        path1, path2 = self._strip_protocol(path1), self._strip_protocol(path2)
        bucket1, key1 = self._split(path1)
        bucket2, key2 = self._split(path2)
        if not key1 or self._is_known_directory(path1):
            return  # a directory: the files below it are copied one by one
        self._scopes.forget(path2)
        try:  # the object first: a HEAD and the copy where it is one
            BucketObject(self._provider, self._bucket(bucket1), key1, None).copy_to(
                self._bucket(bucket2), key2
            )
        except NotFoundException:
            if not self.isdir(path1):
                raise

    @as_os_errors
    def rm_file(self, path: str) -> None:
        path = self._strip_protocol(path)
        bucket, key = self._split(path)
        self._scopes.forget(path)
        self._provider.driver.delete_object(bucket, key)

    @as_os_errors
    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        """Every object the paths name or hold, deleted in batches where the
        driver can. No HEAD per path: the expansion's listing says which are
        directories, and deleting a key that names no object is no error."""
        with self._scopes.opened():
            paths = self.expand_path(path, recursive=recursive, maxdepth=maxdepth)
            files = [p for p in paths if self._split(p)[1] and not self._is_known_directory(p)]
            for file in files:
                self._scopes.forget(file)
            self._delete(files)

    def _delete(self, files: list[str]) -> None:
        by_bucket: dict[str, list[str]] = {}
        for file in files:
            bucket, key = self._split(file)
            by_bucket.setdefault(bucket, []).append(key)
        batches = self._provider.features.deletes_in_batches
        for bucket, keys in by_bucket.items():
            if batches is not None:
                for start in range(0, len(keys), batches.max_batch):
                    batches.delete_objects(bucket, keys[start : start + batches.max_batch])
            else:
                for key in keys:
                    self._provider.driver.delete_object(bucket, key)

    @as_os_errors
    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        bucket, key = self._split(self._strip_protocol(path))
        if key:
            return  # a deeper "directory" exists once a key is written below it
        if self._provider.driver.head_bucket(bucket) is None:
            self._provider.storage.buckets.create(bucket, kwargs.get("location"))
        elif not create_parents:
            raise FileExistsError(bucket)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        bucket, key = self._split(self._strip_protocol(path))
        if not key and not exist_ok and self._provider.driver.head_bucket(bucket) is not None:
            raise FileExistsError(bucket)
        self.mkdir(path, create_parents=True)

    @as_os_errors
    def rmdir(self, path: str) -> None:
        bucket, key = self._split(self._strip_protocol(path))
        if not key:
            self._provider.storage.buckets.delete(bucket)

    @as_os_errors
    def sign(self, path: str, expiration: int = 100, **kwargs: Any) -> str:
        bucket, key = self._split(self._strip_protocol(path))
        obj = BucketObject(self._provider, self._bucket(bucket), key, None)
        return obj.generate_url(expiration, writable=bool(kwargs.get("writable", False)))

    def invalidate_cache(self, path: str | None = None) -> None:
        """Nothing to invalidate: no listing is ever cached."""


def _progress(callback: Any) -> Callable[[int], None] | None:
    """An fsspec Callback as a progress function."""
    if callback is None or not hasattr(callback, "relative_update"):
        return None
    update: Callable[[int], None] = callback.relative_update
    return update
