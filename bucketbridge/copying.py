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

import dataclasses
import io
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, TypeVar, cast

from .checks import check_metadata
from .drivers.base import Driver, SmallReads, SmallWrites
from .drivers.records import (
    Body,
    ObjectInfo,
    ObjectStream,
    ReadOptions,
    WriteOptions,
    guess_content_type,
)
from .errors import BucketBridgeException, ProviderInternalException
from .lookup import head_existing
from .reads import open_read
from .transfer import Progress, TransferPlan, UploadTarget, put_bytes, upload_stream

if TYPE_CHECKING:
    from .dataplane.multiplex import Answer, Exchange

T = TypeVar("T")

STREAM_BUFFER = 1024 * 1024
MULTIPLEX_LIMIT = 1024 * 1024
"""The largest object a copy reads through the multiplexer (its body whole
in memory, ``window`` of them at once, each taken in 64 KiB receives): a
larger one's read costs little next to its bytes, and goes the blocking way."""
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
    stream = _open(source.driver, source.bucket, source.key, source.max_attempts, listed)
    return _streamed(source, stream, target, plan, progress, content_type, metadata, metadata_of)


@dataclass(slots=True)
class SmallPut:
    """An object read whole, to be put in one request at ``key`` with
    ``options``; ``sent``: its PUT went out on the multiplexer once."""

    key: str
    data: bytes | bytearray
    options: WriteOptions
    sent: bool = False


class Copier:
    """:func:`copy_object` for the objects of one ``copy()``/``sync()``
    batch: one source bucket into one target bucket, without ``content_type``
    or ``metadata`` given (each copy keeps its source's, or has
    ``metadata_of`` make it), what they share resolved once.

    A streamed object no larger than the threshold goes from one read into
    one buffer and one put, with its write options built once and no record
    made only to be replaced: per 4 KiB object, the records, reader and
    body layers of the general path were about half of the batch path's own
    CPU (bench/engine_overhead.py). The read (:meth:`load`, or
    :meth:`load_read` from a multiplexed one) and the put (:meth:`put`, or
    :meth:`writes` and :meth:`put_written` multiplexed) are apart, so that
    either side can run many at once on one thread."""

    def __init__(
        self,
        source: CopySource,
        target: UploadTarget,
        target_provider: object,
        plan: TransferPlan,
        progress: Progress,
        small_reads: SmallReads | None = None,
        window: int = 1,
        small_writes: SmallWrites | None = None,
        write_window: int = 1,
    ) -> None:
        """``source`` and ``target`` name the buckets (their keys are
        unused); ``target.options`` gives the create-only rule.
        ``small_reads``: the source driver's, to read small objects ``window``
        at a time on this thread (:meth:`reads`); None, or a window of 1:
        each read is the blocking one. ``small_writes`` and ``write_window``
        the same for the target's puts (:meth:`writes`)."""
        self._source = source
        self._target = target
        self._target_provider = target_provider
        self._plan = plan
        self._progress = progress
        self._inside = (
            target.features.copies_objects is not None and source.provider is target_provider
        )
        self._create_only = target.options.create_only
        self._small_reads = small_reads if window > 1 and not self._inside else None
        self._window = window
        self._small_writes = small_writes if write_window > 1 and not self._inside else None
        self._write_window = write_window
        self.small_limit = min(plan.threshold, MULTIPLEX_LIMIT)

    @property
    def reads_many(self) -> bool:
        """Whether small objects are read by :meth:`reads`."""
        return self._small_reads is not None

    @property
    def writes_many(self) -> bool:
        """Whether small objects are put by :meth:`writes`."""
        return self._small_writes is not None

    def multiplexes(self, listed: ObjectInfo | None) -> bool:
        """Whether the object a listing described as ``listed`` is read by
        :meth:`reads`: small, and the source driver offers the small read."""
        return (
            self._small_reads is not None and listed is not None and listed.size <= self.small_limit
        )

    def multiplexes_writes(self, listed: ObjectInfo | None) -> bool:
        """Whether the copy of the object a listing described as ``listed``
        is put by :meth:`writes`: small, and the target driver offers the
        small write (the size the read finds decides in the end)."""
        return (
            self._small_writes is not None
            and listed is not None
            and listed.size <= self.small_limit
        )

    def reads(
        self, jobs: Iterable[tuple[T, str, ObjectInfo]]
    ) -> Generator[tuple[T, Answer | None], None, None]:
        """The whole reads of ``jobs`` (a tag, the source key, its listed
        record), at most the window in flight on this thread, each answer
        as it completes: for :meth:`load_read`."""
        small = self._small_reads
        if small is None:
            raise ValueError("this copier has no small reads")  # a caller's bug
        from .dataplane.multiplex import Multiplexer  # the lean plane's: not every copy's

        bucket = self._source.bucket
        exchanges = ((tag, small.small_read(bucket, key, listed)) for tag, key, listed in jobs)
        return Multiplexer(small.client, self._window).run(exchanges)

    def writes(
        self, jobs: Iterable[tuple[T, SmallPut | None]]
    ) -> Generator[tuple[T, Answer | None], None, None]:
        """The puts of ``jobs`` (a tag, what to put: None for none), at most
        the write window in flight on this thread, each answer as it
        completes (at once for None): for :meth:`put_written`."""
        small = self._small_writes
        if small is None:
            raise ValueError("this copier has no small writes")  # a caller's bug
        from .dataplane.multiplex import Multiplexer

        bucket = self._target.bucket

        def exchanges() -> Iterator[tuple[T, Exchange | None]]:
            for tag, put in jobs:
                exchange = None
                if put is not None:
                    if not isinstance(put.data, bytes):  # the multiplexer sends bytes
                        put.data = bytes(put.data)
                    try:
                        exchange = small.small_write(bucket, put.key, put.data, put.options)
                    except BucketBridgeException:
                        # options the driver refuses (its reserved metadata):
                        # the blocking put raises it for this object alone,
                        # not out of the whole batch's multiplexer
                        exchange = None
                    put.sent = exchange is not None
                yield tag, exchange

        return Multiplexer(small.client, self._write_window).run(exchanges())

    def put_written(self, put: SmallPut, answer: Answer | None) -> ObjectInfo:
        """The record of ``put``, from ``answer``, its PUT's by :meth:`writes`.
        Without an answer (its exchange failed, or was not made), or where
        the driver says the blocking put must decide, :meth:`put` puts it,
        told when a copy was sent already (see ``SmallWrites.put_again``).
        Progress counts the object once its answer is accepted."""
        small = self._small_writes
        target = self._target
        if small is not None and put.sent:
            data = put.data
            assert isinstance(data, bytes)  # made so by writes()
            info = None
            if answer is not None:
                info = small.small_written(target.bucket, put.key, data, put.options, answer)
            if info is None:
                info = small.put_again(target.bucket, put.key, Body.of_bytes(data), put.options)
            self._progress(info.size)
            return info
        return self.put(put)

    def load_read(
        self,
        source_key: str,
        key: str,
        listed: ObjectInfo,
        answer: Answer | None,
        metadata_of: Callable[[ObjectInfo], Mapping[str, str] | None] | None,
    ) -> SmallPut | ObjectInfo:
        """What to put at ``key`` from ``answer``, the read of ``source_key``
        by :meth:`reads`. Without an answer (its exchange failed or was not
        made), or where the driver says the blocking read must decide,
        :meth:`load` reads it again, retried and mapped as every read is."""
        small = self._small_reads
        if answer is not None and small is not None:
            info = small.small_result(self._source.bucket, source_key, listed, answer)
            if info is not None:
                metadata = None if metadata_of is None else metadata_of(info)
                options = _write_options(
                    key, info, None, listed.content_type, metadata, self._create_only
                )
                return SmallPut(key, answer.body, options)
        return self.load(source_key, key, listed, metadata_of)

    def copy(
        self,
        source_key: str,
        key: str,
        listed: ObjectInfo | None,
        metadata_of: Callable[[ObjectInfo], Mapping[str, str] | None] | None,
    ) -> ObjectInfo:
        """Copy ``source_key`` to ``key`` (checked by the caller): as
        :func:`copy_object` would, with ``listed`` the listing's record."""
        return self.put(self.load(source_key, key, listed, metadata_of))

    def load(
        self,
        source_key: str,
        key: str,
        listed: ObjectInfo | None,
        metadata_of: Callable[[ObjectInfo], Mapping[str, str] | None] | None,
    ) -> SmallPut | ObjectInfo:
        """The bytes and options of ``source_key``'s copy at ``key``, read
        whole the blocking way; or, for a copy made inside the provider or
        of an object larger than the threshold (streamed), the record of
        the copy already made."""
        source, target = self._source, self._target
        if self._inside:
            return copy_object(
                dataclasses.replace(source, key=source_key),
                dataclasses.replace(target, key=key),
                self._target_provider,
                self._plan,
                self._progress,
                content_type=None,
                metadata=None,
                listed=listed,
                metadata_of=metadata_of,
            )
        stream = _open(source.driver, source.bucket, source_key, source.max_attempts, listed)
        info = stream.info
        if info.size > self._plan.threshold:  # closes the stream
            return _streamed(
                dataclasses.replace(source, key=source_key),
                stream,
                dataclasses.replace(target, key=key),
                self._plan,
                self._progress,
                None,
                None,
                metadata_of,
            )
        try:
            metadata = None if metadata_of is None else metadata_of(info)
            options = _write_options(
                key,
                info,
                None,
                # a listing's type where the read names none, a guess last
                listed.content_type if listed is not None else None,
                metadata,
                self._create_only,
            )
            data = _read_whole(stream, info.size, source.bucket, source_key)
        finally:
            stream.close()  # before the put: its connection goes back to the pool
        return SmallPut(key, data, options)

    def put(self, loaded: SmallPut | ObjectInfo) -> ObjectInfo:
        """Put what :meth:`load` gave, the blocking way (a record: already copied)."""
        if isinstance(loaded, ObjectInfo):
            return loaded
        target = self._target
        return put_bytes(
            UploadTarget(target.driver, target.features, target.bucket, loaded.key, loaded.options),
            loaded.data,
            self._progress,
        )


def _streamed(
    source: CopySource,
    stream: ObjectStream,
    target: UploadTarget,
    plan: TransferPlan,
    progress: Progress,
    content_type: str | None,
    metadata: Mapping[str, str] | None,
    metadata_of: Callable[[ObjectInfo], Mapping[str, str] | None] | None,
) -> ObjectInfo:
    """Copy the open read ``stream`` of ``source`` to ``target``; closes it.

    The read's own response describes the revision it reads (as a HEAD
    would, from the same headers), so no HEAD goes first -- half the
    requests of a copy of many small objects (bench: batch-down)."""
    reader: _PinnedReader | None = None
    try:
        info = stream.info
        if metadata_of is not None:
            metadata = metadata_of(info)
        target = _described(target, info, content_type, metadata)
        if info.size > plan.threshold:
            # unbuffered: each part is read straight into its own buffer
            reader = _PinnedReader(source, stream)
            return upload_stream(target, cast(BinaryIO, reader), info.size, plan, progress)
        # One request, from one buffer the read fills: none of the stream
        # and part machinery a large object needs.
        data = _read_whole(stream, info.size, source.bucket, source.key)
    finally:
        # closed before the put (its connection back in the pool); the
        # reader's own stream, which a seek back to the start may replace
        (reader or stream).close()
    return put_bytes(target, data, progress)


def _open(
    driver: Driver,
    bucket: str,
    key: str,
    max_attempts: int,
    listed: ObjectInfo | None,
    revision: str | None = None,
) -> ObjectStream:
    """A read of the whole object (of ``revision``, if not None), resumed
    where a dropped connection cuts it, pinned to the revision it found."""
    small = listed is not None and listed.size <= SMALL_STREAM_BUFFER
    options = ReadOptions(
        chunk_size=SMALL_STREAM_BUFFER if small else STREAM_BUFFER,
        if_revision=revision,
        listed=listed,
    )
    return open_read(driver, bucket, key, options, max_attempts)


def _read_whole(stream: ObjectStream, size: int, bucket: str, key: str) -> bytearray:
    """Every byte of the revision ``stream`` reads, into one buffer of the
    ``size`` its record gives; a read that ends short fails (a copy is never
    shorter than what it copies)."""
    buffer = bytearray(size)
    filled = stream.readinto(buffer) if size else 0
    while filled < size:  # a stream's readinto fills its buffer: this is rare
        with memoryview(buffer) as view:
            count = stream.readinto(view[filled:])
        if not count:
            raise ProviderInternalException(
                f"read of {bucket}/{key} ended after {filled} of {size} bytes"
            )
        filled += count
    return buffer


def _described(
    target: UploadTarget,
    info: ObjectInfo,
    content_type: str | None,
    metadata: Mapping[str, str] | None,
) -> UploadTarget:
    """``target`` writing ``content_type`` and ``metadata`` where given, else the source's."""
    options = _write_options(
        target.key,
        info,
        content_type,
        target.options.content_type,
        metadata,
        target.options.create_only,
    )
    return UploadTarget(target.driver, target.features, target.bucket, target.key, options)


def _write_options(
    key: str,
    info: ObjectInfo,
    content_type: str | None,
    fallback_type: str | None,
    metadata: Mapping[str, str] | None,
    create_only: bool,
) -> WriteOptions:
    """What a copy of the revision ``info`` writes at ``key``: ``content_type``
    and ``metadata`` where given (checked by the caller), else the source's
    (checked here: InvalidValueException); where neither names a type,
    ``fallback_type``, then a guess from the key."""
    return WriteOptions(
        content_type
        or info.content_type
        or fallback_type
        # mimetypes' guess costs more than a request's signature: only
        # when neither the caller nor the source names a type
        or guess_content_type(key),
        # the source's kept metadata is checked as an upload's (sync's stamp
        # is, too): names lower-cased, a value that could not round-trip
        # refused, whether the copy streams or is made inside the provider
        check_metadata(info.metadata) if metadata is None else metadata,
        create_only,
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
            source = self._source
            self._stream = _open(
                source.driver,
                source.bucket,
                source.key,
                source.max_attempts,
                None,
                self.info.revision,
            )
            self._position = 0
        return 0

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        count = self._stream.readinto(memoryview(buffer))
        self._position += count
        return count

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()
