"""``copy`` and ``sync``: many objects from one location to another, on any executor.

The coordinator (the calling thread) walks both listings in key order, page
by page, and merge-joins them: a source key missing at the destination, or
different there, is to copy; a destination key missing at the source is to
delete (``sync(delete=True)``). The actions are cut into batches of at most
``batch_objects`` objects or ``batch_bytes`` bytes, and each batch is one
task on the executor: a thread pool here by default, or any
``concurrent.futures.Executor`` -- a process pool, a Dask cluster through
``distributed.Client.get_executor()``, or a Ray cluster through
``bucketbridge.executors.ray.RayActorExecutor`` (or ``RayExecutor``). A task
is idempotent (it copies whole objects, each written atomically), so an
executor may run it twice after a worker dies; it names its locations by
provider id and config, so a worker in another process makes its own
provider. At most ``max_in_flight``
batches are out at once, so the listing streams in bounded memory whatever
the size of the buckets. Deletions run only after every copy succeeded, as
rclone does: a failed sync never leaves the destination with less than it had.
``copy(overwrite="always")`` does not list the destination at all: it would
change nothing. On threads, the last batches are cut smaller, so that the
workers finish together (``_Lookahead``).

Progress is reported in the caller's process, whatever the executor:

- ``on_batch(result)`` is called by the coordinator (the calling thread)
  once for each batch that finished, with what it did (``BatchResult``: the
  names copied, unchanged, skipped, deleted, failed, and the bytes copied).
  A batch an executor ran again after its worker died is reported once, by
  the run that finished: the dead run's result never reaches the
  coordinator. Summed over a run, the results give the report's counts,
  except the objects the listings alone showed to be unchanged (or, with
  ``overwrite="never"``, present), which no batch saw.
- ``progress(nbytes)`` and ``on_object(name)`` (each object copied or
  deleted) mean the same on every executor, and always run in the caller's
  process. On threads (the default, or a ``ThreadPoolExecutor`` given) the
  tasks call them as bytes move. On any other executor (a process pool, a
  cluster) they never travel to the workers -- they need not pickle, and
  what a worker prints is not where the user looks -- and the coordinator
  calls them as each batch's result arrives: the same totals, at a batch's
  granularity. An exception either raises stops the run: on threads the
  copy under way aborts what it started (the command line's Ctrl-C); on
  another executor the coordinator cancels the batches not yet finished
  and raises.

``checkpoint`` names a JSONL file of the key ranges whose batches finished
(:mod:`.checkpoint`): a coordinator killed mid-run and started again with
it skips them (``SyncReport.resumed``) and redoes only the rest.

A worker that dies mid-object leaves its multipart upload open. When the
work ran in other processes (an executor you gave that is not a thread
pool: a process pool, a cluster), the run ends
by aborting the destination's uploads under its prefix that started after
the run did and are still open once every batch is done: only a dead task
can have left those (``SyncReport.aborted_uploads``). Leftovers of a killed
coordinator are older; ``bucket.objects.abort_incomplete_uploads(older_than=...)``
clears them.

"Different" means: sizes differ, or the etags differ and the destination
does not record the source's etag in its ``bb-src-etag`` metadata (which
``sync`` writes on every copy: etags of two providers, or of a multipart
and a single upload, are not comparable).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Literal

from .checkpoint import Checkpoint
from .checks import boolean, check_metadata, optional_callable, positive_int
from .copying import MULTIPLEX_LIMIT, Copier, CopySource, SmallPut
from .directories import walk_objects
from .drivers.records import ObjectInfo, WriteOptions
from .errors import (
    BucketBridgeException,
    InvalidValueException,
    PreconditionFailedException,
    wrap_foreign_errors,
)
from .locations import Location, provider_for
from .names import validate_object_key
from .resources import Bucket
from .transfer import Progress, TransferConfig, TransferPlan, UploadTarget

if TYPE_CHECKING:
    from .dataplane.multiplex import Answer

log = logging.getLogger("bucketbridge")

Overwrite = Literal["always", "different", "never"]
SOURCE_ETAG_KEY = "bb-src-etag"
DEFAULT_BATCH_OBJECTS = 1000
DEFAULT_BATCH_BYTES = 8 * 1024**3
DEFAULT_WORKERS = 8
LOOKAHEAD_LIMIT = 10_000  # plan actions read ahead at most (see _Lookahead)


# init=False: the generated __init__ of a frozen dataclass sets each field
# through object.__setattr__; a listing makes an Entry per object. The
# __init__ below writes the instance's __dict__ directly, as ObjectInfo's
# does; fields, equality, repr, pickling and dataclasses.replace stay the
# dataclass's.
@dataclass(frozen=True, init=False)
class Entry:
    """One object of a listing, by its key below the location's prefix."""

    name: str
    size: int
    etag: str | None
    # same size, etags not comparable from the listings: the task looks closer
    maybe_same: bool = False
    # the user metadata, where the listing gives it (LOCAL's does, S3's does
    # not): what a sync records if the read's record has none
    metadata: Mapping[str, str] | None = field(default=None, compare=False)
    # the whole record the listing gave (revision, content type): the
    # copy's read may start from it rather than look the object up again
    info: ObjectInfo | None = field(default=None, compare=False, repr=False)

    def __init__(
        self,
        name: str,
        size: int,
        etag: str | None,
        maybe_same: bool = False,
        metadata: Mapping[str, str] | None = None,
        info: ObjectInfo | None = None,
    ) -> None:
        fields = self.__dict__
        fields["name"] = name
        fields["size"] = size
        fields["etag"] = etag
        fields["maybe_same"] = maybe_same
        fields["metadata"] = metadata
        fields["info"] = info


@dataclass(frozen=True)
class Batch:
    """One task: copy ``copies`` and delete ``deletes`` (names below the prefixes)."""

    source: Location
    destination: Location
    copies: tuple[Entry, ...]
    deletes: tuple[str, ...]
    overwrite: Overwrite
    record_source_etag: bool
    config: TransferConfig | None


@dataclass
class Failure:
    name: str
    error: str


@dataclass
class BatchResult:
    copied: list[str] = field(default_factory=list)
    copied_bytes: int = 0
    skipped: list[str] = field(default_factory=list)  # "never" met an existing object
    unchanged: list[str] = field(default_factory=list)  # looked closer: the same after all
    deleted: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


@dataclass
class SyncReport:
    """What a copy or sync did (or, with ``dry_run``, would do)."""

    dry_run: bool
    to_copy: list[str] = field(default_factory=list)
    to_delete: list[str] = field(default_factory=list)
    unchanged: int = 0
    copied: int = 0
    copied_bytes: int = 0
    skipped: int = 0
    deleted: int = 0
    resumed: int = 0  # done by an earlier run, as its checkpoint records
    aborted_uploads: int = 0  # multipart uploads dead workers left open
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def raise_for_failures(self) -> None:
        """BucketBridgeException naming the first failures, if any."""
        if self.failures:
            shown = "; ".join(f"{f.name}: {f.error}" for f in self.failures[:3])
            more = f" (and {len(self.failures) - 3} more)" if len(self.failures) > 3 else ""
            raise BucketBridgeException(f"{len(self.failures)} object(s) failed: {shown}{more}")


def copy(
    source: Location | Bucket,
    destination: Location | Bucket,
    *,
    overwrite: Overwrite = "always",
    dry_run: bool = False,
    executor: Executor | None = None,
    config: TransferConfig | None = None,
    batch_objects: int = DEFAULT_BATCH_OBJECTS,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    max_in_flight: int | None = None,
    on_batch: Callable[[BatchResult], None] | None = None,
    progress: Callable[[int], None] | None = None,
    on_object: Callable[[str], None] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
) -> SyncReport:
    """Copy every object under the source prefix to the destination prefix
    (``overwrite``: ``"always"``, ``"different"``, or ``"never"`` -- create
    only, safe against concurrent writers). Objects keep their content type
    and metadata."""
    return _run(
        source,
        destination,
        overwrite=overwrite,
        delete=False,
        dry_run=dry_run,
        executor=executor,
        config=config,
        batch_objects=batch_objects,
        batch_bytes=batch_bytes,
        max_in_flight=max_in_flight,
        on_batch=on_batch,
        progress=progress,
        on_object=on_object,
        checkpoint=checkpoint,
    )


def sync(
    source: Location | Bucket,
    destination: Location | Bucket,
    *,
    delete: bool = False,
    dry_run: bool = False,
    executor: Executor | None = None,
    config: TransferConfig | None = None,
    batch_objects: int = DEFAULT_BATCH_OBJECTS,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    max_in_flight: int | None = None,
    on_batch: Callable[[BatchResult], None] | None = None,
    progress: Callable[[int], None] | None = None,
    on_object: Callable[[str], None] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
) -> SyncReport:
    """Make the destination prefix hold what the source prefix holds: copy
    what is missing or different there, and with ``delete`` remove what
    the source lacks (only once every copy succeeded). ``dry_run`` lists
    the work without doing it."""
    return _run(
        source,
        destination,
        overwrite="different",
        delete=delete,
        dry_run=dry_run,
        executor=executor,
        config=config,
        batch_objects=batch_objects,
        batch_bytes=batch_bytes,
        max_in_flight=max_in_flight,
        on_batch=on_batch,
        progress=progress,
        on_object=on_object,
        checkpoint=checkpoint,
    )


def _location(value: object, name: str) -> Location:
    if isinstance(value, Location):
        return value
    if isinstance(value, Bucket):
        return Location.of(value)
    raise InvalidValueException(name, value, "must be a Location or a Bucket")


def _overwrite(value: object) -> Overwrite:
    if value == "always" or value == "different" or value == "never":
        return value
    raise InvalidValueException("overwrite", value, "use 'always', 'different' or 'never'")


def _run(
    source_given: object,
    destination_given: object,
    *,
    overwrite: object,
    delete: object,
    dry_run: object,
    executor: object,
    config: object,
    batch_objects: object,
    batch_bytes: object,
    max_in_flight: int | None,
    on_batch: object,
    progress: object,
    on_object: object,
    checkpoint: object,
) -> SyncReport:
    """copy() and sync(): their arguments checked here, once, in their order."""
    source = _location(source_given, "source")
    destination = _location(destination_given, "destination")
    overwrite = _overwrite(overwrite)
    delete = boolean("delete", delete)
    dry_run = boolean("dry_run", dry_run)
    batch_objects = positive_int("batch_objects", batch_objects)
    batch_bytes = positive_int("batch_bytes", batch_bytes)
    on_batch = optional_callable("on_batch", on_batch)
    progress = optional_callable("progress", progress)
    on_object = optional_callable("on_object", on_object)
    if config is not None and not isinstance(config, TransferConfig):
        raise InvalidValueException("config", config, "must be a TransferConfig or None")
    if executor is not None and not isinstance(executor, Executor):
        raise InvalidValueException("executor", executor, "must be a concurrent.futures.Executor")
    if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
        raise InvalidValueException("checkpoint", checkpoint, "must be a file path or None")
    started = datetime.now(timezone.utc).replace(microsecond=0)  # stamps may be whole seconds
    report = SyncReport(dry_run=dry_run)
    rest = (overwrite, overwrite == "different", config)
    deletes: list[str] = []
    done = (
        None
        if checkpoint is None
        else Checkpoint(checkpoint, _run_identity(source, destination, overwrite, delete))
    )

    workers = getattr(executor, "_max_workers", DEFAULT_WORKERS)
    width = max_in_flight or 2 * workers
    # on threads a batch costs next to nothing to start, so the last ones are
    # cut small (see _Lookahead); elsewhere each ships and sets up apart
    guided = executor is None or isinstance(executor, ThreadPoolExecutor)
    # on threads, a batch of small objects whose source reads them a window
    # at a time (Copier.reads) counts as that many requests in flight
    weigh = _weigher(source, destination, config, width, workers) if guided else _one
    # the batches that run at once, which the last ones are cut to share
    spread = min(width, workers) if weigh is _one else max(1, width // weigh(None))

    def batches() -> Iterator[tuple[Batch, Span]]:
        pending: list[Entry] = []
        pending_bytes = 0
        after: str | None = None  # the last name of the batch before
        # copy(overwrite="always") copies every source object and deletes
        # nothing: the destination's listing would change nothing (and may
        # be the larger of the two)
        listed = _plan(source, destination if overwrite != "always" or delete else None, overwrite)
        ahead = _Lookahead(listed, min(LOOKAHEAD_LIMIT, width * batch_objects) if guided else 0)
        for action, entry in ahead:
            if action != "delete" and done is not None and done.finished(entry.name):
                report.resumed += 1
                continue
            if action == "delete":
                deletes.append(entry.name)
                continue
            if action == "same":
                report.unchanged += 1
                continue
            if action == "exists":
                report.skipped += 1
                continue
            if dry_run:
                if entry.maybe_same and _unchanged(
                    _bucket(source), _bucket(destination), entry, source, destination
                ):
                    report.unchanged += 1
                else:
                    report.to_copy.append(entry.name)
                continue
            pending.append(entry)
            pending_bytes += entry.size
            limit = ahead.batch_limit(batch_objects, spread, len(pending))
            if len(pending) >= limit or pending_bytes >= batch_bytes:
                yield Batch(source, destination, tuple(pending), (), *rest), (after, entry.name)
                pending, pending_bytes, after = [], 0, entry.name
        if pending:
            yield Batch(source, destination, tuple(pending), (), *rest), (after, pending[-1].name)

    if dry_run:
        for _ in batches():
            pass
        if delete:
            report.to_delete = deletes
        if done is not None:
            done.close(done=False)
        return report
    own_pool = executor is None
    pool = executor if executor is not None else ThreadPoolExecutor(DEFAULT_WORKERS, "bb-sync")
    finished = False
    try:
        in_process = isinstance(pool, ThreadPoolExecutor)
        task: Callable[[Batch], BatchResult] = run_batch
        if in_process and (progress is not None or on_object is not None):
            task = functools.partial(run_batch, progress=progress, on_object=on_object)
        # elsewhere the callbacks stay here, called as results arrive
        hooks = _Hooks(
            on_batch,
            None if in_process else progress,
            None if in_process else on_object,
        )
        width = positive_int("max_in_flight", width)
        _submit_all(pool, task, batches(), width, report, hooks, done, weigh)
        if delete and deletes and report.ok:
            jobs = (
                (Batch(source, destination, (), tuple(deletes[i : i + batch_objects]), *rest), None)
                for i in range(0, len(deletes), batch_objects)
            )
            _submit_all(pool, task, jobs, width, report, hooks, None)
        elif delete and deletes:
            log.warning("sync: %d deletion(s) not made, because copies failed", len(deletes))
        # Threads (ours, or a thread pool given) abort what they start: a
        # thread cannot die mid-task without unwinding. A dead process
        # cannot, so only then is the destination swept -- a sweep that, on
        # Azure, lists every blob of the container (half the client CPU of
        # a 2,000-object copy there, and ~90 MiB of SDK objects).
        if not in_process:
            report.aborted_uploads = _abort_uploads_since(destination, started)
        finished = report.ok
    finally:
        if own_pool:
            pool.shutdown(wait=True, cancel_futures=True)
        if done is not None:
            done.close(done=finished)
    return report


Span = tuple[str | None, str]
"""The names a copy batch covers, ``(after, last]``, for the checkpoint."""


def _run_identity(
    source: Location, destination: Location, overwrite: Overwrite, delete: bool
) -> dict[str, object]:
    """What a checkpoint records of its run (never a config: it may hold secrets)."""
    return {
        "source": f"{source.provider_id}://{source.bucket}/{source.prefix}",
        "destination": f"{destination.provider_id}://{destination.bucket}/{destination.prefix}",
        "overwrite": overwrite,
        "delete": delete,
    }


def _abort_uploads_since(destination: Location, started: datetime) -> int:
    """Abort the destination's open uploads under its prefix that started
    since ``started``: with every batch done, only a task whose worker died
    can have left one."""
    aborted = 0
    for upload in _bucket(destination).objects.incomplete_uploads():
        if not upload.name.startswith(destination.prefix):
            continue
        if upload.initiated is None or upload.initiated < started:
            continue
        upload.abort()
        aborted += 1
    if aborted:
        log.info("sync: aborted %d upload(s) that dead workers left open", aborted)
    return aborted


@dataclass(frozen=True)
class _Hooks:
    """The user's callbacks the coordinator calls as each batch's result
    arrives: ``on_batch`` always; ``progress`` and ``on_object`` only when
    the tasks run in other processes (threads call them as they go)."""

    on_batch: Callable[[BatchResult], None] | None
    progress: Callable[[int], None] | None
    on_object: Callable[[str], None] | None

    def __call__(self, result: BatchResult) -> None:
        # objects first: a progress bar redrawn as bytes arrive (tqdm)
        # then shows the batch's objects counted too
        if self.on_object is not None:
            for name in (*result.copied, *result.deleted):
                self.on_object(name)
        if self.progress is not None and result.copied_bytes:
            self.progress(result.copied_bytes)
        if self.on_batch is not None:
            self.on_batch(result)


def _submit_all(
    pool: Executor,
    task: Callable[[Batch], BatchResult],
    batches: Iterator[tuple[Batch, Span | None]],
    width: int,
    report: SyncReport,
    hooks: _Hooks,
    checkpoint: Checkpoint | None,
    weigh: Callable[[Batch], int] | None = None,
) -> None:
    """Run the batches with at most ``width`` out at once (back-pressure:
    the listing is only read as fast as batches finish); a batch that
    finished without a failure goes into the checkpoint, then to the
    user's callbacks. A batch counts as ``weigh(batch)`` of the ``width``
    (1 each without it). Anything raised here (a callback's exception, a
    failed task, Ctrl-C) cancels the batches not yet finished: on a
    cluster they would otherwise go on copying after the run stopped."""
    running: set[Future[BatchResult]] = set()
    spans: dict[Future[BatchResult], Span | None] = {}
    weights: dict[Future[BatchResult], int] = {}
    load = 0  # the weights of the batches running

    def collect(done: set[Future[BatchResult]]) -> None:
        nonlocal load
        for future in done:
            load -= weights.pop(future)
            result = future.result()
            span = spans.pop(future)
            if checkpoint is not None and span is not None and not result.failures:
                checkpoint.record(*span, objects=len(result.copied) + len(result.unchanged))
            report.copied += len(result.copied)
            report.copied_bytes += result.copied_bytes
            report.skipped += len(result.skipped)
            report.unchanged += len(result.unchanged)
            report.deleted += len(result.deleted)
            report.failures.extend(result.failures)
            hooks(result)

    try:
        for batch, span in batches:
            weight = 1 if weigh is None else weigh(batch)
            while running and load + weight > width:
                done, running = _wait_some(running)
                collect(done)
            future = pool.submit(task, batch)
            spans[future] = span
            weights[future] = weight
            load += weight
            running.add(future)
        while running:
            done, running = _wait_some(running)
            collect(done)
    except BaseException:
        for future in running:
            future.cancel()
        raise


class _Weigher:
    """A batch's weight among the ``width`` out at once: 1, or, where every
    object in it is read through the multiplexer (``window`` requests in
    flight, see ``Copier.reads``), ``window`` threads' worth of it."""

    def __init__(self, window: int, limit: int, width: int, running: int) -> None:
        # as many requests in flight as threads copying one object at a
        # time would have (min(width, workers)), and the same share of
        # ``width`` kept waiting: a batch is ``width / running`` of that
        self._weight = min(width, -(-window * width // running))
        self._limit = limit

    def __call__(self, batch: Batch | None) -> int:
        """``batch``'s weight; None: a batch of small objects'."""
        if batch is None:
            return self._weight
        limit = self._limit
        for entry in batch.copies:
            if entry.maybe_same or entry.info is None or entry.size > limit:
                return 1
        return self._weight if batch.copies else 1


def _one(batch: Batch | None) -> int:
    return 1


def _weigher(
    source: Location,
    destination: Location,
    config: TransferConfig | None,
    width: int,
    workers: int,
) -> Callable[[Batch | None], int]:
    """How ``_submit_all`` weighs this run's batches (on threads): by the
    requests a batch of small objects keeps in flight, its reads' window
    where the source multiplexes them and its puts' where the target does."""
    origin, target = provider_for(source), provider_for(destination)
    if origin is target and target.features.copies_objects is not None:
        return _one  # copied inside the provider: nothing multiplexed (Copier)
    window = 0
    for settings, offered in (
        (origin.settings, origin.features.small_reads),
        (target.settings, target.features.small_writes),
    ):
        if offered is not None and settings["multiplex_window"] > 1:
            window += settings["multiplex_window"]
    if window <= 1:
        return _one
    plan = TransferPlan.resolve(config, target.settings)
    return _Weigher(window, min(plan.threshold, MULTIPLEX_LIMIT), width, min(width, workers))


def _wait_some(
    running: set[Future[BatchResult]],
) -> tuple[set[Future[BatchResult]], set[Future[BatchResult]]]:
    done, still = wait(running, return_when=FIRST_COMPLETED)
    return set(done), set(still)


def _plan(
    source: Location, destination: Location | None, overwrite: Overwrite
) -> Iterator[tuple[str, Entry]]:
    """Merge-join the two listings: ``("copy", e)``, ``("same", e)``,
    ``("exists", e)`` (for ``overwrite="never"``), ``("delete", e)``.
    Without a ``destination``, every source object is to copy."""
    theirs = _entries(destination) if destination is not None else iter(())
    there = next(theirs, None)
    for entry in _entries(source):
        while there is not None and there.name < entry.name:
            yield "delete", there
            there = next(theirs, None)
        if there is not None and there.name == entry.name:
            if overwrite == "never":
                yield "exists", entry
            elif overwrite == "always" or entry.size != there.size:
                yield "copy", entry
            elif entry.etag is not None and entry.etag == there.etag:
                yield "same", entry
            else:
                yield "copy", dataclasses.replace(entry, maybe_same=True)
            there = next(theirs, None)
        else:
            yield "copy", entry
    while there is not None:
        yield "delete", there
        there = next(theirs, None)


class _Lookahead:
    """The plan's actions, read up to ``depth`` ahead of the batches cut
    from them, so that the end of the listing is seen coming.

    Batches are cut full-size (``batch_objects``) until then, and smaller
    and smaller once the objects left to cut are known (guided
    self-scheduling): the objects left spread over the workers, never
    under an eighth of ``batch_objects``. With full-size
    batches to the end, the workers that finish first sit idle while the
    last ones copy a whole batch each: on 2,000 x 4 KiB objects in batches
    of 32 on 16 threads (bench/batch_walls.py s3), about a tenth of the
    run. The lookahead grows by one action for each one handed out, so the
    first batch waits for no more of the listing than before."""

    def __init__(self, actions: Iterator[tuple[str, Entry]], depth: int) -> None:
        """``depth`` 0: none read ahead, every batch full-size."""
        self._actions = actions
        self._depth = depth
        self._buffer: collections.deque[tuple[str, Entry]] = collections.deque()
        self._copies = 0  # copy actions in the buffer
        self.ended = False

    def __iter__(self) -> Iterator[tuple[str, Entry]]:
        while True:
            # two read for each one handed out, until ``depth`` are buffered
            for _ in range(2 if len(self._buffer) < self._depth else 1):
                if self.ended:
                    break
                action = next(self._actions, None)
                if action is None:
                    self.ended = True
                    break
                self._buffer.append(action)
                self._copies += action[0] == "copy"
            if not self._buffer:
                return
            action = self._buffer.popleft()
            self._copies -= action[0] == "copy"
            yield action

    def batch_limit(self, batch_objects: int, workers: int, pending: int) -> int:
        """How many objects the batch being filled (``pending`` so far)
        should hold: ``batch_objects`` until the end of the listing is in
        sight, then a share of what is left to cut."""
        if not (self.ended and self._depth):
            return batch_objects
        share = -(-(pending + self._copies) // workers)
        return min(batch_objects, max(share, -(-batch_objects // 8)))


def _entries(location: Location) -> Iterator[Entry]:
    """The location's objects in key order, named below its prefix."""
    provider = provider_for(location)
    cut = len(location.prefix)
    for info in walk_objects(provider.driver, provider.features, location.bucket, location.prefix):
        # the record's own mapping: no copy (a pickled batch carries it once)
        yield Entry(info.key[cut:], info.size, info.etag, False, info.metadata, info)


def _bucket(location: Location) -> Bucket:
    """The location's bucket, not looked up (a round trip a batch): the
    listings the plan was made from named a missing bucket, and a bucket
    deleted since is named by the first request of each copy."""
    return Bucket(provider_for(location), location.bucket)


def run_batch(
    batch: Batch,
    progress: Callable[[int], None] | None = None,
    on_object: Callable[[str], None] | None = None,
) -> BatchResult:
    """Do one batch; failures of single objects are recorded, not raised,
    so one bad object does not stop the others. ``progress(nbytes)`` is
    called as bytes move, ``on_object(name)`` after each object copied or
    deleted; an exception either raises stops the batch (the copy under
    way aborts what it started)."""
    result = BatchResult()
    target = _bucket(batch.destination)
    if batch.copies:
        origin = _bucket(batch.source)
        copier = _Copier(origin, target, batch, progress)
        for entry, copy in copier.each(batch.copies):
            try:
                if entry.maybe_same and _unchanged(
                    origin, target, entry, batch.source, batch.destination
                ):
                    result.unchanged.append(entry.name)
                    continue
                copied = copy()
            except PreconditionFailedException as error:
                if batch.overwrite == "never":
                    result.skipped.append(entry.name)
                else:
                    result.failures.append(Failure(entry.name, str(error)))
            except BucketBridgeException as error:
                result.failures.append(Failure(entry.name, str(error)))
            else:
                result.copied.append(entry.name)
                result.copied_bytes += copied.size
                if on_object is not None:
                    on_object(entry.name)
    for name in batch.deletes:
        try:
            target.objects.create(batch.destination.prefix + name).delete()
        except BucketBridgeException as error:
            result.failures.append(Failure(name, str(error)))
        else:
            result.deleted.append(name)
            if on_object is not None:
                on_object(name)
    return result


def _unchanged(
    origin: Bucket, target: Bucket, entry: Entry, source: Location, destination: Location
) -> bool:
    """Whether the destination holds the source's content: its etag, or the
    source etag the copy recorded, is the source's."""
    there = target.objects.get(destination.prefix + entry.name)
    if there is None or there.size != entry.size:
        return False
    etag = entry.etag
    if etag is None:  # a provider that computes etags on demand (local)
        found = origin.objects.get(source.prefix + entry.name)
        etag = found.etag if found is not None else None
    return etag is not None and etag in (there.etag, there.metadata.get(SOURCE_ETAG_KEY))


@dataclass(frozen=True, slots=True)
class _Loaded:
    """An entry read whole for a multiplexed put: what to put, the record
    of a copy made without one (streamed, or inside the provider), or the
    failure its call raises."""

    entry: Entry
    outcome: SmallPut | ObjectInfo | BucketBridgeException


class _Copier:
    """``BucketObject.copy_to`` for every object of one batch, with what they
    share (the transfer plan, both drivers, one progress relay) resolved
    once (:class:`.copying.Copier`): per object, on 4 KiB objects,
    resolving them cost about a tenth of the client CPU of a copy (bench:
    batch-up)."""

    def __init__(
        self,
        origin: Bucket,
        target: Bucket,
        batch: Batch,
        progress: Callable[[int], None] | None,
    ) -> None:
        source, destination = origin._provider, target._provider
        plan = TransferPlan.resolve(batch.config, destination.settings)
        self._source_prefix = batch.source.prefix
        self._prefix = batch.destination.prefix
        self._record_source_etag = batch.record_source_etag
        self._copier = Copier(
            # the buckets; each copy names its keys
            CopySource(source, source.driver, origin.name, "", source.settings["max_attempts"]),
            UploadTarget(
                destination.driver,
                destination.features,
                target.name,
                "",
                WriteOptions("", create_only=batch.overwrite == "never"),
            ),
            destination,
            plan,
            Progress(progress),
            source.features.small_reads,
            source.settings["multiplex_window"],
            destination.features.small_writes,
            destination.settings["multiplex_window"],
        )

    def each(self, entries: Sequence[Entry]) -> Iterator[tuple[Entry, Callable[[], ObjectInfo]]]:
        """Each entry with the call that copies it, errors as :meth:`copy`'s.
        The small ones the source reads whole on this thread, a window at a
        time (``Copier.reads``), or that the target puts so (``Copier.writes``),
        come last, as their reads or puts complete; the rest first, each
        read when its call is made. An entry that may be unchanged is never
        read ahead: the caller looks at it first."""
        copier = self._copier
        small: list[tuple[Entry, str, ObjectInfo]] = []
        for entry in entries:
            listed = entry.info
            if (
                entry.maybe_same
                or listed is None
                or not (copier.multiplexes(listed) or copier.multiplexes_writes(listed))
            ):
                yield entry, functools.partial(self.copy, entry)
            else:
                small.append((entry, self._source_prefix + entry.name, listed))
        if not small:
            return
        if not copier.writes_many:
            with contextlib.closing(copier.reads(small)) as answers:
                for entry, answer in answers:
                    yield entry, functools.partial(self._copy_read, entry, answer)
            return
        with contextlib.closing(copier.writes(self._loads(small))) as written:
            for loaded, answer in written:
                yield loaded.entry, functools.partial(self._put_written, loaded, answer)

    def _loads(
        self, small: list[tuple[Entry, str, ObjectInfo]]
    ) -> Iterator[tuple[_Loaded, SmallPut | None]]:
        """Each small entry read whole (through the multiplexer where the
        source offers it, else the blocking way on this thread), with what
        to put; a failed read, or a copy made without a put, puts nothing."""
        copier = self._copier
        if copier.reads_many:
            with contextlib.closing(copier.reads(small)) as answers:
                for entry, answer in answers:
                    yield self._loaded(entry, answer)
        else:
            for entry, _, _ in small:
                yield self._loaded(entry, None)

    def _loaded(self, entry: Entry, answer: Answer | None) -> tuple[_Loaded, SmallPut | None]:
        try:
            loaded = self._load(entry, answer)
        except BucketBridgeException as error:  # the entry's failure, raised by its call
            return _Loaded(entry, error), None
        if isinstance(loaded, ObjectInfo):
            return _Loaded(entry, loaded), None
        return _Loaded(entry, loaded), loaded

    @wrap_foreign_errors
    def _load(self, entry: Entry, answer: Answer | None) -> SmallPut | ObjectInfo:
        key = validate_object_key(self._prefix + entry.name)
        listed = entry.info
        assert listed is not None  # only such entries are read ahead
        return self._copier.load_read(
            self._source_prefix + entry.name,
            key,
            listed,
            answer,
            functools.partial(_stamped_from, entry) if self._record_source_etag else None,
        )

    @wrap_foreign_errors
    def _put_written(self, loaded: _Loaded, answer: Answer | None) -> ObjectInfo:
        """The copy of a loaded entry: its put's ``answer`` read (by
        ``Copier.put_written``), or the record or failure of its read."""
        outcome = loaded.outcome
        if isinstance(outcome, BaseException):
            raise outcome
        if isinstance(outcome, ObjectInfo):
            return outcome
        return self._copier.put_written(outcome, answer)

    @wrap_foreign_errors
    def _copy_read(self, entry: Entry, answer: Answer | None) -> ObjectInfo:
        """:meth:`copy` of an entry from its multiplexed read's ``answer``."""
        return self._copier.put(self._load(entry, answer))

    @wrap_foreign_errors
    def copy(self, entry: Entry) -> ObjectInfo:
        """Copy one object (its content type and metadata kept, the source
        etag recorded where the batch says so); errors as ``copy_to``'s."""
        # the source key is the prefix and a name its listing gave: a key
        # the source holds; the destination's is checked
        key = validate_object_key(self._prefix + entry.name)
        return self._copier.copy(
            self._source_prefix + entry.name,
            key,
            entry.info,
            functools.partial(_stamped_from, entry) if self._record_source_etag else None,
        )


def _stamped(known: Mapping[str, str], etag: str | None) -> dict[str, str] | None:
    """The source's metadata with its etag recorded (``SOURCE_ETAG_KEY``);
    None (the source's metadata as it is) where no etag is known."""
    if etag is None:
        return None
    return check_metadata({**known, SOURCE_ETAG_KEY: etag})


def _stamped_from(entry: Entry, read: ObjectInfo) -> dict[str, str] | None:
    """``_stamped`` for the revision the copy read (``read``, the record of
    its response): its metadata, and the etag the listing saw where the read
    found the revision listed -- the one the next sync's listing compares.

    Replaced between the listing and the read, the object is copied as the
    read found it: the stamp is then the read's etag, and the metadata the
    read's, never the listed revision's beside another revision's bytes."""
    listed = entry.info
    if listed is not None and listed.revision is not None:
        same = listed.revision == read.revision
    else:  # a listing that names no revision (Swift's): its etag, where both are known
        same = entry.etag is None or read.etag is None or entry.etag == read.etag
    etag = (entry.etag or read.etag) if same else (read.etag or entry.etag)
    metadata = read.metadata
    if metadata is None:  # a read whose record lacks it (none does today)
        metadata = entry.metadata if same else None
    return _stamped(metadata or {}, etag)
