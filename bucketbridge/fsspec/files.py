"""An object open as a file: ranged reads of one revision, or a write stored whole at close."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from fsspec.spec import AbstractBufferedFile

from ..drivers.base import MultipartSession
from ..drivers.parts import MIN_PART_SIZE
from ..drivers.records import Body, PartInfo, ReadOptions, WriteOptions
from ..drivers.shielded import Shielded, completed, start_upload
from ..errors import (
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
)
from ..provider import CloudProvider
from ..reads import open_read
from ..resources import Bucket, BucketObject
from .errors import FileExpired
from .readahead import SequentialReadAhead

if TYPE_CHECKING:
    from .filesystem import BucketBridgeFileSystem

READ_BLOCK_SIZE = 5 * 1024 * 1024
"""What a sequential read fetches beyond what was asked (fsspec's default block)."""

WRITE_BLOCK_SIZE = 16 * 1024 * 1024
"""The part size of a file written (the library's multipart default)."""


class BucketBridgeFile(AbstractBufferedFile):  # type: ignore[misc]
    """An object open for reading (ranged reads of one revision) or writing
    (parts of ``block_size``, stored whole at close)."""

    DEFAULT_BLOCK_SIZE = READ_BLOCK_SIZE

    def __init__(self, fs: BucketBridgeFileSystem, path: str, mode: str, **kwargs: Any) -> None:
        kwargs.setdefault("cache_type", SequentialReadAhead.name)
        self._content_type: str | None = kwargs.pop("content_type", None)
        self._metadata: dict[str, str] | None = kwargs.pop("metadata", None)
        self._multipart: Shielded[MultipartSession] | None = None
        self._parts: list[PartInfo] = []
        self._stored = False
        bucket, key = fs._split(path)
        if not key:
            raise IsADirectoryError(path)
        self._bucket_name, self._key = bucket, key
        if mode == "xb" and fs.exists(path):
            raise FileExistsError(path)
        if mode != "rb" and kwargs.get("block_size", WRITE_BLOCK_SIZE) < MIN_PART_SIZE:
            raise InvalidValueException(
                "block_size", kwargs["block_size"], f"at least {MIN_PART_SIZE} bytes to write"
            )
        super().__init__(fs, path, mode, **kwargs)

    @property
    def _provider(self) -> CloudProvider:
        provider: CloudProvider = self.fs._provider
        return provider

    # reading

    def _fetch_range(self, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        options = ReadOptions(start=start, end=end, if_revision=self.details.get("revision"))
        try:
            stream = open_read(
                self._provider.driver,
                self._bucket_name,
                self._key,
                options,
                self._provider.settings["max_attempts"],
            )
            try:
                return b"".join(stream)
            finally:
                stream.close()
        except PreconditionFailedException as error:
            raise FileExpired(self.path, self.details.get("etag")) from error
        except NotFoundException as error:
            raise FileNotFoundError(self.path) from error

    # writing

    def _options(self) -> WriteOptions:
        target = BucketObject(
            self._provider, Bucket(self._provider, self._bucket_name), self._key, None
        )
        return target._write_options(self._content_type, self._metadata, self.mode != "xb")

    def _initiate_upload(self) -> None:
        """Nothing yet: a file that stays within one block is one PUT."""

    def _upload_chunk(self, final: bool = False) -> bool:
        data = self.buffer.getvalue()
        try:
            if final and self._multipart is None:
                if self.autocommit:
                    self._put_whole(data)
                else:
                    self._pending = data
                return True
            if self._multipart is None:
                # started aside: an interrupt while the server answers the
                # start cannot lose the upload (..drivers.shielded)
                self._multipart = start_upload(
                    self._provider.driver, self._bucket_name, self._key, self._options()
                )
            session = self._multipart.result()
            if data or not self._parts:
                number = len(self._parts) + 1
                self._parts.append(session.upload_part(number, Body.of_bytes(data)))
            if final and self.autocommit:
                self.commit()
        except BaseException:
            self.discard()
            raise
        return True

    def _put_whole(self, data: bytes) -> None:
        try:
            self._provider.driver.put_object(
                self._bucket_name, self._key, Body.of_bytes(data), self._options()
            )
        except PreconditionFailedException as error:
            raise FileExistsError(self.path) from error
        self._stored = True

    def commit(self) -> None:
        if self._stored:
            return
        if self._multipart is None:
            self._put_whole(getattr(self, "_pending", b""))
            return
        if self.mode == "xb" and self._provider.driver.head_object(self._bucket_name, self._key):
            self.discard()
            raise FileExistsError(self.path)
        try:
            session, parts, options = self._multipart.result(), self._parts, self._options()
            completed(lambda: session.complete(parts, options), f"upload of {self._key!r}")
        except PreconditionFailedException as error:
            self.discard()
            raise FileExistsError(self.path) from error
        self._stored = True

    def discard(self) -> None:
        multipart, self._multipart = self._multipart, None
        if multipart is not None:
            # an abort that fails (logged) leaves the upload in incomplete_uploads()
            multipart.undo()

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is not None and self.writable():
            self.discard()  # an exception inside ``with``: store nothing
            self.closed = True
            return
        self.close()

    def __del__(self) -> None:
        if not hasattr(self, "mode"):
            return  # __init__ refused the file (xb on an existing object)
        if self.writable():
            warnings.warn(
                f"{self.path} was written but never closed: nothing was stored",
                ResourceWarning,
                stacklevel=2,
            )
            self.discard()
            self.closed = True
            return
        if not self.closed:
            self.close()
