"""Copying an object: inside the provider when it can, else streamed through here.

The same provider with the ``CopiesObjects`` capability copies server-side,
handed the source as looked up first (pinned to its revision, its size and
etag known, so the driver need not look again), except a copy given another
content type by a driver whose copies keep the source's
(``copies_keep_content_type``): retyping it afterwards would not be atomic,
so it streams. Anything else (another provider, another account, a driver
without the capability) streams: a read (its response gives the revision,
size, type and metadata; resumed, pinned to that revision, if the connection
drops: :mod:`.reads`) feeds the
upload engine part by part (:func:`.transfer.upload_stream`), so memory stays
near ``part_size * max_concurrency`` whatever the size and no temporary
file is written. Either way the destination only ever holds a whole object.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import BinaryIO, cast

from .drivers.base import Driver
from .drivers.records import (
    ObjectInfo,
    ObjectStream,
    ReadOptions,
    WriteOptions,
    guess_content_type,
)
from .errors import ProviderInternalException
from .lookup import head_existing
from .reads import open_read
from .transfer import Progress, TransferPlan, UploadTarget, put_bytes, upload_stream

STREAM_BUFFER = 1024 * 1024
SMALL_STREAM_BUFFER = 64 * 1024
"""The chunk asked of a read whose listing said the object is no larger: a
driver that reads in chunks (LOCAL) allocates the whole chunk for each
read, which cost a 4 KiB object's copy ~30 us of CPU at 1 MiB."""


@dataclass(frozen=True)
class CopySource:
    """An object to copy from, on a provider identified by ``provider``
    (the same value on both sides means the same provider instance)."""

    provider: object
    driver: Driver
    bucket: str
    key: str
    max_attempts: int


def copy_object(
    source: CopySource,
    target: UploadTarget,
    target_provider: object,
    plan: TransferPlan,
    progress: Progress,
    *,
    content_type: str | None,
    metadata: Mapping[str, str] | None,
    listed: ObjectInfo | None = None,
    metadata_of: Callable[[ObjectInfo], Mapping[str, str] | None] | None = None,
) -> ObjectInfo:
    """Copy what the source holds now to ``target``. The copy gets
    ``content_type`` and ``metadata`` where given, else the source's;
    ``metadata_of``, where given, makes the metadata from the record of the
    revision copied instead (``sync`` adds the source etag to the source's
    metadata: the read's response carries it, so no HEAD goes first). A
    ``content_type`` or ``target.options.content_type`` of ``""`` means
    none: the type falls back to the source's, then to a guess from the
    key. ``target.options`` gives the create-only rule. ``listed`` is what
    a listing said of the source (see ``ReadOptions.listed``): a hint,
    never trusted over what the read finds."""
    features = target.features
    copies = features.copies_objects
    if copies is not None and source.provider is target_provider:
        info = head_existing(source.driver, source.bucket, source.key)
        if metadata_of is not None:
            metadata = metadata_of(info)
        described = _described(target, info, content_type, metadata)
        retyped = described.options.content_type != info.content_type
        if not (retyped and features.copies_keep_content_type):
            copied = copies.copy_object(
                source.bucket, info, described.bucket, described.key, described.options
            )
            progress(copied.size)
            return copied
    # Streamed: the read's own response describes the revision it reads (as
    # a HEAD would, from the same headers), so no HEAD goes first -- half the
    # requests of a copy of many small objects (bench: batch-down).
    reader = _PinnedReader(source, _open(source, None, listed))
    try:
        info = reader.info
        if metadata_of is not None:
            metadata = metadata_of(info)
        target = _described(target, info, content_type, metadata)
        if info.size <= plan.threshold:
            # One request, from one buffer the read fills: none of the
            # stream and part machinery a large object needs (about a third
            # of the batch path's own CPU on 4 KiB objects,
            # bench/engine_overhead.py). The read is closed before the upload.
            data = reader.read_whole()
            reader.close()
            return put_bytes(target, data, progress)
        # unbuffered: each part is read straight into its own buffer
        return upload_stream(target, cast(BinaryIO, reader), info.size, plan, progress)
    finally:
        reader.close()


def _open(source: CopySource, revision: str | None, listed: ObjectInfo | None) -> ObjectStream:
    """A read of the whole source (of ``revision``, if not None), resumed
    where a dropped connection cuts it, pinned to the revision it found."""
    small = listed is not None and listed.size <= SMALL_STREAM_BUFFER
    return open_read(
        source.driver,
        source.bucket,
        source.key,
        ReadOptions(
            chunk_size=SMALL_STREAM_BUFFER if small else STREAM_BUFFER,
            if_revision=revision,
            listed=listed,
        ),
        source.max_attempts,
    )


def _described(
    target: UploadTarget,
    info: ObjectInfo,
    content_type: str | None,
    metadata: Mapping[str, str] | None,
) -> UploadTarget:
    """``target`` writing ``content_type`` and ``metadata`` where given, else the source's."""
    return UploadTarget(
        target.driver,
        target.features,
        target.bucket,
        target.key,
        WriteOptions(
            content_type=content_type
            or info.content_type
            or target.options.content_type
            # mimetypes' guess costs more than a request's signature: only
            # when neither the caller nor the source names a type
            or guess_content_type(target.key),
            metadata=dict(info.metadata or {}) if metadata is None else dict(metadata),
            create_only=target.options.create_only,
        ),
    )


class _PinnedReader(io.RawIOBase):
    """The source object as a stream, every read pinned to the revision the
    first one found (``info``). Seeking back to the start opens the read
    again (an upload the provider made start over, see
    ``UploadSupersededException``)."""

    def __init__(self, source: CopySource, stream: ObjectStream) -> None:
        super().__init__()
        self._source = source
        self._position = 0
        self._stream = stream
        self.info: ObjectInfo = stream.info

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET or offset != 0:
            raise io.UnsupportedOperation("a copy source only seeks back to its start")
        if self._position:
            self._stream.close()
            self._stream = _open(self._source, self.info.revision, None)
            self._position = 0
        return 0

    def read_whole(self) -> bytearray:
        """Every byte of the revision, into one buffer of the size its record
        gives; a read that ends short fails (a copy is never shorter than
        what it copies)."""
        size = self.info.size
        buffer = bytearray(size)
        with memoryview(buffer) as view:
            filled = 0
            while filled < size:
                count = self._stream.readinto(view[filled:])
                if not count:
                    raise ProviderInternalException(
                        f"read of {self._source.bucket}/{self._source.key} ended after"
                        f" {filled} of {size} bytes"
                    )
                filled += count
        self._position = size
        return buffer

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        count = self._stream.readinto(memoryview(buffer))
        self._position += count
        return count

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()
