"""TransferConfig and the generic transfer engine every provider shares.

Uploads above the threshold go multipart with at most ``max_concurrency``
parts in flight and are aborted on any failure, so no parts are left behind.
Downloads above it are parallel ranged reads, each resumed where a dropped
connection cut it (:mod:`.reads`), written with ``os.pwrite`` straight into
their place in a scratch file beside the destination (:mod:`.scratch`), which
replaces the destination only once it is whole; each range is read into a
reused aligned buffer and written around the page cache where the
filesystem allows it (:mod:`.filesink`). Memory stays near
``part_size * max_concurrency`` for uploads of streams and near
``max_concurrency`` buffers of :data:`.filesink.BUFFER_SIZE` for downloads,
whatever the object size.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

from .checks import integer, non_negative_int, optional_callable, positive_int
from .config import ConnectionSettings, Settings
from .drivers.base import Driver, Features
from .drivers.parts import MAX_PARTS, MIN_PART_SIZE
from .drivers.records import (
    Body,
    ObjectInfo,
    PartInfo,
    ProgressCallback,
    ReadOptions,
    WriteOptions,
)
from .drivers.shielded import completed, start_upload
from .errors import (
    InvalidValueException,
    PreconditionFailedException,
    ProviderInternalException,
    UploadSupersededException,
)
from .filesink import BLOCK, FileSink
from .lookup import head_existing
from .reads import open_read
from .scratch import ScratchFile

log = logging.getLogger("bucketbridge")
T = TypeVar("T")

MiB = 1024 * 1024
# Where a commit discards other uploads' parts (Azure), an upload overtaken
# by another writer of the same name is re-run from its source, after a
# jittered pause that grows to at most SUPERSEDED_PAUSE, this many times in
# all. Three writers looping on one name on Azurite
# (tests/conformance/test_races.py) re-ran about 22 uploads a run; without
# the pause one upload needed 7 attempts, with it at most 5 in 4 runs.
SUPERSEDED_ATTEMPTS = 16
SUPERSEDED_PAUSE = 1.0
STREAM_CHUNK = 1 * MiB
DOWNLOAD_RANGE_CAP = 64 * MiB


class TransferConfig:
    """Per-call transfer settings; a None field falls back to the provider's
    ``multipart_threshold`` / ``multipart_part_size`` /
    ``multipart_max_concurrency`` config keys, then to the defaults.

    Checked when built, naming the parameter: ``threshold`` >= 0 bytes,
    ``part_size`` >= 5 MiB (every provider's smallest multipart part),
    ``max_concurrency`` >= 1; it is capped at the provider's connection
    pool, max(32, ``multipart_max_concurrency``): set that key to go wider.

    ``part_size`` is the size of an upload's parts and, when given here, of
    a download's ranges too. Left None, a download's ranges are derived
    from the object's size (:meth:`TransferPlan.range_size_for`): split
    evenly over the workers, between ``multipart_part_size`` and 64 MiB. A
    download holds no range in memory (each worker reuses one buffer), an
    upload of a stream holds a part per worker, so only downloads grow.
    A ``part_size`` that is not a multiple of 4 KiB is honoured, but its
    ranges cannot be written with O_DIRECT (:mod:`.filesink`).
    Read-only once built, so it stays valid when shared between calls.
    """

    __slots__ = ("_max_concurrency", "_part_size", "_threshold")

    def __init__(
        self,
        threshold: int | None = None,
        part_size: int | None = None,
        max_concurrency: int | None = None,
    ) -> None:
        self._threshold = None if threshold is None else non_negative_int("threshold", threshold)
        self._part_size = None if part_size is None else _part_size(part_size)
        self._max_concurrency = (
            None if max_concurrency is None else positive_int("max_concurrency", max_concurrency)
        )

    @property
    def threshold(self) -> int | None:
        return self._threshold

    @property
    def part_size(self) -> int | None:
        return self._part_size

    @property
    def max_concurrency(self) -> int | None:
        return self._max_concurrency

    def __repr__(self) -> str:
        return (
            f"TransferConfig(threshold={self.threshold!r}, part_size={self.part_size!r},"
            f" max_concurrency={self.max_concurrency!r})"
        )


def _part_size(value: object) -> int:
    size = integer("part_size", value)
    if size < MIN_PART_SIZE:
        raise InvalidValueException(
            "part_size", value, f"must be at least {MIN_PART_SIZE} bytes (5 MiB)"
        )
    return size


@dataclass(frozen=True)
class TransferPlan:
    """A TransferConfig with every field resolved and checked."""

    threshold: int
    part_size: int
    max_concurrency: int
    max_attempts: int
    download_part_size: int | None = None
    """The size of a download's ranges when the caller named one
    (``TransferConfig.part_size``); None: derived from the object's size
    (:meth:`range_size_for`)."""
    direct_io: bool = True
    """Write downloads with O_DIRECT where the filesystem takes it (the
    ``download_direct_io`` config key; see :mod:`.filesink`)."""

    @classmethod
    def resolve(cls, config: TransferConfig | None, settings: Settings) -> TransferPlan:
        if config is None:
            config = TransferConfig()
        elif not isinstance(config, TransferConfig):
            raise InvalidValueException("config", config, "must be a TransferConfig or None")
        # A TransferConfig was checked when built, the provider's config keys
        # when the provider was made (config.CORE_SETTINGS' minimums).
        threshold = _pick(config.threshold, settings["multipart_threshold"])
        part_size = _pick(config.part_size, settings["multipart_part_size"])
        concurrency = _pick(config.max_concurrency, settings["multipart_max_concurrency"])
        # No wider than the client's connection pool: threads past it would
        # open and discard a connection per request.
        concurrency = min(concurrency, ConnectionSettings.of(settings).pool_size)
        return cls(
            threshold,
            part_size,
            concurrency,
            settings["max_attempts"],
            config.part_size,
            bool(settings.get("download_direct_io", True)),
        )

    def part_size_for(self, size: int) -> int:
        """The configured part size, grown where needed to stay within MAX_PARTS."""
        return max(self.part_size, -(-size // MAX_PARTS))

    def range_size_for(self, size: int) -> int:
        """The size of the ranges a download of ``size`` bytes is read in.

        The caller's ``TransferConfig.part_size`` if it named one. Otherwise
        the object split evenly over the workers, in whole MiB, no smaller
        than ``part_size`` and no larger than DOWNLOAD_RANGE_CAP (or
        ``part_size``, if that is larger): a download holds no range in
        memory, so its ranges need not be as small as an upload's parts, and
        fewer, longer ranges were faster (64 MiB against 16 MiB: +8% on
        512 MiB, data-path.md), while an object of a few parts still gets
        every worker.
        """
        if self.download_part_size is not None:
            return self.download_part_size
        even = -(-size // (self.max_concurrency * MiB)) * MiB
        return max(self.part_size, min(even, DOWNLOAD_RANGE_CAP))


def _pick(explicit: int | None, configured: int) -> int:
    return explicit if explicit is not None else configured


class Progress:
    """Serialises progress reports from worker threads into the user's callback."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = optional_callable("progress", callback)
        self._lock = threading.Lock()

    def __call__(self, nbytes: int) -> None:
        if self._callback is not None and nbytes:
            with self._lock:
                self._callback(nbytes)

    @property
    def wanted(self) -> ProgressCallback | None:
        return self if self._callback is not None else None


def _counted(body: Body, progress: Progress) -> Body:
    """``body`` reporting bytes as a driver reads them (or as the data plane
    sends its file window). An SDK may rewind a body to sign it or to
    retry; only bytes past the furthest offset reached so far are reported,
    so a second pass never counts twice."""
    if progress.wanted is None:
        return body
    furthest = 0
    lock = threading.Lock()

    def reached(end: int) -> None:
        nonlocal furthest
        with lock:
            if end > furthest:
                progress(end - furthest)
                furthest = end

    def read_at(offset: int, length: int) -> bytes:
        body.seek(offset)
        data = body.read(length)
        reached(offset + len(data))
        return data

    return Body(body.size, read_at, window=body.window, reached=reached)


@dataclass(frozen=True)
class UploadTarget:
    driver: Driver
    features: Features
    bucket: str
    key: str
    options: WriteOptions


def upload_stream(
    target: UploadTarget,
    stream: BinaryIO,
    size: int | None,
    plan: TransferPlan,
    progress: Progress,
) -> ObjectInfo:
    """Upload from a stream of known or unknown size, read on this thread.
    A small body goes in one request, from memory (at most the threshold):
    a driver is always handed a seekable body of known size."""
    if size is not None and size <= plan.threshold:
        return _put_single(target, Body.of_bytes(_read_exactly(stream, size)), progress)
    start = _position(stream)
    rewind = None if start is None else functools.partial(stream.seek, start)
    if size is not None:
        part_size = plan.part_size_for(size)
        return _rerun_superseded(
            lambda: _upload_parts(target, _stream_parts([], stream, part_size), plan, progress),
            rewind,
        )
    # Unknown size: read ahead a part at a time, only until it is clear which
    # side of the threshold the stream is on.
    head: list[bytes] = []
    total = 0
    while total <= plan.threshold:
        part = _read_exactly(stream, plan.part_size)
        head.append(part)
        total += len(part)
        if len(part) < plan.part_size:
            break
    if total <= plan.threshold:
        return _put_single(target, Body.of_bytes(b"".join(head)), progress)
    # A re-run reads from the rewound stream: the head is handed out once.
    return _rerun_superseded(
        lambda: _upload_parts(target, _stream_parts(head, stream, plan.part_size), plan, progress),
        rewind,
    )


def _position(stream: BinaryIO) -> int | None:
    """Where a seekable stream stands (to read it again from there); None if it cannot seek."""
    try:
        return stream.tell() if stream.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


def _rerun_superseded(
    attempt: Callable[[], ObjectInfo], rewind: Callable[[], object] | None
) -> ObjectInfo:
    """Run a multipart upload; when another writer's commit of the same name
    discarded its parts, rewind the source and run it again (a bounded number
    of times). Every attempt was aborted by ``_upload_parts``: nothing is
    left staged. Progress counts the bytes of every attempt."""
    for number in range(1, SUPERSEDED_ATTEMPTS + 1):
        try:
            return attempt()
        except UploadSupersededException as error:
            if rewind is None:
                raise UploadSupersededException(
                    f"{error}; the source stream cannot seek, so the upload was not re-run"
                ) from error
            if number == SUPERSEDED_ATTEMPTS:
                raise UploadSupersededException(
                    f"{error}; gave up after {number} attempts, each overtaken by another writer"
                ) from error
            log.info("multipart upload overtaken by another writer; re-running it (%s)", number)
            # the jitter takes re-runs out of step with the writers that overtook them
            time.sleep(random.uniform(0, min(SUPERSEDED_PAUSE, 0.05 * 2**number)))
            rewind()
    raise AssertionError("unreachable")


def upload_file(
    target: UploadTarget, path: str, plan: TransferPlan, progress: Progress
) -> ObjectInfo:
    """Upload a local file. Every part is a window onto the file, read only
    when the driver sends it, so memory stays near what is in flight."""
    transfers_files = target.features.transfers_files
    if transfers_files is not None:
        size = os.path.getsize(path)
        return transfers_files.put_file(
            target.bucket,
            target.key,
            path,
            target.options,
            progress=progress.wanted,
            etag_part_size=plan.part_size_for(size) if size > plan.threshold else None,
        )
    with open(path, "rb") as source:
        fd = source.fileno()
        size = os.fstat(fd).st_size
        if size <= plan.threshold:
            return _put_single(target, Body.of_file(fd, 0, size), progress)
        part_size = plan.part_size_for(size)

        def windows() -> Iterator[Body]:
            for offset in range(0, size, part_size):
                yield Body.of_file(fd, offset, min(part_size, size - offset))

        # a file is read again from its windows: nothing to rewind
        return _rerun_superseded(
            lambda: _upload_parts(target, windows(), plan, progress), lambda: None
        )


COUNTED_AFTER = 1 * MiB
"""A body up to this size reports its bytes once its put succeeded, not as
the driver reads them: a counting body is a closure, a lock and a second
Body per object, for a progress bar that could not tell the difference."""


def put_bytes(
    target: UploadTarget, data: bytes | bytearray | memoryview, progress: Progress
) -> ObjectInfo:
    """Upload ``data`` (at most the threshold) in one request."""
    body = Body.of_bytes(data)
    if body.size > COUNTED_AFTER:
        return _put_single(target, body, progress)
    info = target.driver.put_object(target.bucket, target.key, body, target.options)
    progress(body.size)
    return info


def _put_single(target: UploadTarget, body: Body, progress: Progress) -> ObjectInfo:
    return target.driver.put_object(
        target.bucket, target.key, _counted(body, progress), target.options
    )


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes, merging short reads; fewer only at end of stream."""
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _stream_parts(head: list[bytes], stream: BinaryIO, part_size: int) -> Iterator[Body]:
    """Cut a stream into parts, read in order on the calling thread (a stream
    is not safe to read from several threads). Parts already read ahead come
    first, each released as it is handed out."""
    while True:
        part = head.pop(0) if head else _read_exactly(stream, part_size)
        if not part:
            return
        yield Body.of_bytes(part)
        if len(part) < part_size:
            return


def _upload_parts(
    target: UploadTarget, parts: Iterator[Body], plan: TransferPlan, progress: Progress
) -> ObjectInfo:
    """Upload parts with at most ``max_concurrency`` in flight; abort on failure.

    Pulling the next part from ``parts`` only when a worker is free bounds
    memory: a stream's parts are bytes read ahead, a file's are windows.
    A create-only upload looks for the object before completing: some
    S3-compatible servers (Ceph RGW) ignore If-None-Match on completion, and
    replacing an object the caller meant to keep is worse than one HEAD.
    A writer that creates the object between that look and the completion
    can still be replaced on such servers; elsewhere the server refuses.
    """
    # started aside: an interrupt (Ctrl-C, the CLI's SIGTERM) landing while
    # the server answers the start cannot lose the upload (.drivers.shielded)
    start = start_upload(target.driver, target.bucket, target.key, target.options)

    def send(number: int, body: Body) -> PartInfo:
        info = start.result().upload_part(number, body)
        progress(body.size)
        return info

    def tasks() -> Iterator[Callable[[], PartInfo]]:
        for number, body in enumerate(parts, start=1):
            if number > MAX_PARTS:
                raise InvalidValueException(
                    "multipart_part_size", plan.part_size, f"more than {MAX_PARTS} parts"
                )
            yield functools.partial(send, number, body)

    try:
        session = start.result()
        log.debug(
            "multipart upload %s of %s/%s started", session.upload_id, target.bucket, target.key
        )
        done = run_bounded(tasks(), plan.max_concurrency, "bb-upload")
        if target.options.create_only and target.driver.head_object(target.bucket, target.key):
            raise PreconditionFailedException(
                f"object {target.key!r} already exists in bucket {target.bucket!r}"
            )
        return completed(
            lambda: session.complete(done, target.options),
            f"upload of {target.key!r} in bucket {target.bucket!r}",
        )
    except BaseException:
        start.undo()
        raise


def run_bounded(tasks: Iterator[Callable[[], T]], concurrency: int, name: str) -> list[T]:
    """Run ``tasks`` on ``concurrency`` threads, taking the next task only
    when a thread is free, and return their results in order.

    The first failure stops the taking of tasks and is raised once the
    running ones finish; an interrupt of the calling thread (Ctrl-C) cancels
    what has not started instead of running it to the end.
    """
    slots = threading.Semaphore(concurrency)
    failed = threading.Event()

    def settle(future: Future[T]) -> None:
        if future.exception() is not None:
            failed.set()
        slots.release()

    futures: list[Future[T]] = []
    pool = ThreadPoolExecutor(concurrency, thread_name_prefix=name)
    try:
        for task in tasks:
            slots.acquire()
            if failed.is_set():
                break
            future = pool.submit(task)
            future.add_done_callback(settle)
            futures.append(future)
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


MAX_CHANGED_ATTEMPTS = 3


@dataclass(frozen=True)
class DownloadSource:
    driver: Driver
    features: Features
    bucket: str
    key: str
    # the size a listing or an earlier look gave: at most the threshold, the
    # object is read in one GET without a HEAD first (a round trip a file in
    # a tree download); grown since, it is still read whole, only not in parts
    size_hint: int | None = None


def download_file(
    source: DownloadSource, path: str, plan: TransferPlan, progress: Progress
) -> ObjectInfo:
    """Download into an unnamed scratch file beside ``path``, then put it in
    place of ``path`` in one link or rename (see :mod:`.scratch`).

    ``path`` only ever holds a whole object of one revision. An object up to
    the threshold is one read (resumed, if cut, from the same revision); a
    larger one is read in parts that all name the revision the download
    started with, and a download the object changed under starts again (a
    few times, then PreconditionFailedException). On any
    failure, an existing ``path`` is left as it was and nothing is left
    beside it (see :mod:`.scratch`). Returns the info of the revision
    downloaded.
    """
    with ScratchFile(path) as scratch:
        info = _download_into(source, scratch.fd, plan, progress)
        scratch.publish()
    return info


class _CountedOnce:
    """A download's progress, each byte of the object counted once: a download
    begun again (the object changed under it) reports nothing until it has
    passed the bytes already reported."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._lock = threading.Lock()
        self._reported = 0
        self._moved = 0

    def restart(self) -> None:
        with self._lock:
            self._moved = 0

    def __call__(self, nbytes: int) -> None:
        with self._lock:
            self._moved += nbytes
            news = self._moved - self._reported
            if news <= 0:
                return
            self._reported = self._moved
        self._progress(news)

    @property
    def wanted(self) -> ProgressCallback | None:
        return self if self._progress.wanted is not None else None


def _download_into(
    source: DownloadSource, fd: int, plan: TransferPlan, progress: Progress
) -> ObjectInfo:
    driver, bucket, key = source.driver, source.bucket, source.key
    counted = _CountedOnce(progress)
    for attempt in range(1, MAX_CHANGED_ATTEMPTS + 1):
        # The scratch file is new and empty at first. A truncation of an empty
        # ext4 file (auto_da_alloc) makes its close flush it to disk at once:
        # 5-9% of the CPU of a download of 2,000 small files (perf), in close.
        if attempt > 1:
            os.ftruncate(fd, 0)
        counted.restart()
        try:
            if source.features.transfers_files is not None:
                info = source.features.transfers_files.get_file(
                    bucket, key, fd, progress=counted.wanted
                )
            else:
                hint = source.size_hint
                small = hint is not None and hint <= plan.threshold
                found = None if small else head_existing(driver, bucket, key)
                if found is None or found.size <= plan.threshold:
                    # One read, of whatever revision is there by now: pinning it
                    # to the look's revision would fail a download of a small
                    # object replaced in between, for nothing.
                    info = _read_range_into(source, fd, 0, None, None, plan, counted)
                else:
                    info = found
                    _parallel_ranges(source, fd, info, plan, counted)
        except PreconditionFailedException as error:
            if attempt == MAX_CHANGED_ATTEMPTS:
                raise PreconditionFailedException(
                    f"object {key!r} in bucket {bucket!r} kept changing during the download"
                    f" ({attempt} attempts)"
                ) from error
            log.info("%s/%s changed during download; starting again", bucket, key)
            continue
        written = os.fstat(fd).st_size
        if written != info.size:
            raise ProviderInternalException(
                f"download of {bucket}/{key} got {written} bytes, expected {info.size}"
            )
        return info
    raise AssertionError("unreachable")


def _parallel_ranges(
    source: DownloadSource,
    fd: int,
    info: ObjectInfo,
    plan: TransferPlan,
    progress: Callable[[int], None],
) -> None:
    size = info.size
    range_size = plan.range_size_for(size)
    # Allocating every block up front, rather than as scattered pwrites reach
    # them, made 8-thread downloads ~1.8x faster here (bench_s3.py).
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError:
        os.ftruncate(fd, size)
    # O_DIRECT writes must start on a block: ranges of a part size that is
    # not a multiple of it go through the page cache
    with FileSink(fd, direct=plan.direct_io and range_size % BLOCK == 0) as sink:
        tasks = (
            functools.partial(
                _read_range_into,
                source,
                fd,
                start,
                min(start + range_size, size),
                info.revision,
                plan,
                progress,
                sink=sink,
                object_size=size,
            )
            for start in range(0, size, range_size)
        )
        run_bounded(tasks, plan.max_concurrency, "bb-download")
        sink.finish(size)


def _read_range_into(
    source: DownloadSource,
    fd: int,
    start: int,
    end: int | None,
    revision: str | None,
    plan: TransferPlan,
    progress: Callable[[int], None],
    *,
    sink: FileSink | None = None,
    object_size: int = 0,
) -> ObjectInfo:
    """Write bytes ``start``-``end`` of the object (of ``revision``, if not
    None) at their place in ``fd``; returns the info of the revision read.
    A range with a ``sink`` (of an object of ``object_size`` bytes) is read
    into its reused buffers and written as it decides; the one read of a
    small object goes chunk by chunk through the page cache."""
    options = ReadOptions(start=start, end=end, chunk_size=STREAM_CHUNK, if_revision=revision)
    stream = open_read(source.driver, source.bucket, source.key, options, plan.max_attempts)
    try:
        if sink is not None and end is not None:
            offset = sink.write_range(stream, start, end, object_size, progress)
        else:
            offset = start
            for chunk in stream:
                view = memoryview(chunk)
                while view:
                    written = os.pwrite(fd, view, offset)
                    offset += written
                    view = view[written:]
                progress(len(chunk))
    finally:
        stream.close()
    if end is not None and offset != end:
        raise ProviderInternalException(
            f"range {start}-{end} of {source.bucket}/{source.key} ended after"
            f" {offset - start} bytes"
        )
    return stream.info
