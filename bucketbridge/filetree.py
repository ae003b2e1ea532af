"""Copy and sync between a directory of files and a location.

``upload_tree`` and ``download_tree`` are :func:`bucketbridge.sync.copy`
and :func:`~bucketbridge.sync.sync` with a file tree on one side (what
``bucketbridge cp -r dir s3://b/p`` and ``sync dir s3://b/p`` run). A file's
key is its path below the directory, ``/``-separated. Both walk the two
sides in key order and merge-join them, as ``sync`` does, while one thread
pool transfers: ``workers`` large files at once, four times as many small
ones (the provider's connection pool is shared).

With ``only_changed`` (sync), a pair is the same when the sizes match and
the newer side is not the source: an upload is needed when the file is
newer than the object, a download when the object is newer than the file;
a download sets the file's modification time to the object's, so the next
sync finds them equal (aws-cli's rule; checksums of every file would read
the whole tree). With ``delete``, what the source lacks is removed from
the destination, only once every transfer succeeded.

Each object is written whole or not at all (the library's uploads and
downloads are atomic). ``progress(nbytes)`` is called from the workers as
bytes move, ``on_object(name)`` after each object; an exception raised
by either stops that transfer, which then aborts what it started -- the
way a command line turns Ctrl-C into a clean stop.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .checks import boolean, optional_callable, positive_int
from .directories import walk_objects
from .errors import BucketBridgeException, InvalidValueException, wrap_foreign_errors
from .locations import Location, provider_for
from .resources import Bucket
from .scratch import TreeSweep
from .sync import Failure, SyncReport
from .transfer import DownloadSource, Progress, TransferConfig, download_file

DEFAULT_WORKERS = 8
SMALL_FANOUT = 4


@dataclass(frozen=True)
class _Side:
    name: str  # key below the prefix, or path below the directory, "/"-separated
    size: int
    modified: float  # seconds since the epoch


def _files(directory: str) -> Iterator[_Side]:
    """Every regular file under ``directory`` in UTF-8 byte order of its
    relative name (the order object listings come in); symlinks to
    directories are not followed."""
    found: list[tuple[bytes, _Side]] = []
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        for name in names:
            path = os.path.join(root, name)
            if not os.path.isfile(path):
                continue
            relative = os.path.relpath(path, directory).replace(os.sep, "/")
            stat = os.stat(path)
            found.append(
                (
                    relative.encode("utf-8", "surrogateescape"),
                    _Side(relative, stat.st_size, stat.st_mtime),
                )
            )
    found.sort(key=lambda item: item[0])
    return (side for _, side in found)


def _objects(location: Location) -> Iterator[_Side]:
    provider = provider_for(location)
    cut = len(location.prefix)
    for info in walk_objects(provider.driver, provider.features, location.bucket, location.prefix):
        yield _Side(info.key[cut:], info.size, info.last_modified.timestamp())


def _merge(
    sources: Iterator[_Side], targets: Iterator[_Side], only_changed: bool
) -> Iterator[tuple[str, _Side]]:
    """("copy" | "same" | "delete", side), in key order."""
    there = next(targets, None)
    for side in sources:
        while there is not None and there.name < side.name:
            yield "delete", there
            there = next(targets, None)
        if there is not None and there.name == side.name:
            # an upload's object is stamped when written, after its file; a
            # download's file gets its object's time: so the source being
            # newer means it changed since the last transfer. In whole
            # seconds: S3 and Swift keep an object's time to the second,
            # so a file written at 12:00:01.7 is stored at 12:00:01
            same = (
                only_changed
                and side.size == there.size
                and math.floor(side.modified) <= there.modified
            )
            yield ("same" if same else "copy"), side
            there = next(targets, None)
        else:
            yield "copy", side
    while there is not None:
        yield "delete", there
        there = next(targets, None)


def _bucket_of(location: Location) -> Bucket:
    """The location's bucket, not looked up: the listing the transfer
    starts with names a missing bucket (on every provider), and a lookup
    would cost a round trip -- on S3, the SDK's start-up too."""
    return Bucket(provider_for(location), location.bucket)


def _directory(value: object, must_exist: bool) -> str:
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidValueException("directory", value, "must be a path")
    path = os.fspath(value)
    if not isinstance(path, str):
        raise InvalidValueException("directory", value, "must be a str path")
    if must_exist and not os.path.isdir(path):
        raise InvalidValueException("directory", path, "is not a directory")
    if not must_exist and os.path.exists(path) and not os.path.isdir(path):
        raise InvalidValueException("directory", path, "exists and is not a directory")
    return path


def upload_tree(
    directory: str | os.PathLike[str],
    destination: Location,
    *,
    only_changed: bool = False,
    delete: bool = False,
    dry_run: bool = False,
    config: TransferConfig | None = None,
    workers: int = DEFAULT_WORKERS,
    content_type: str | None = None,
    metadata: Mapping[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
    on_object: Callable[[str], None] | None = None,
) -> SyncReport:
    """Upload every file under ``directory`` to ``destination`` (its prefix
    + the file's relative path)."""
    root = _directory(directory, must_exist=True)
    if not isinstance(destination, Location):
        raise InvalidValueException("destination", destination, "must be a Location")
    bucket = _bucket_of(destination)

    def transfer(side: _Side) -> int:
        obj = bucket.objects.create(destination.prefix + side.name)
        obj.upload_from_file(
            os.path.join(root, *side.name.split("/")),
            config,
            content_type=content_type,
            metadata=metadata,
            progress=progress,
        )
        return obj.size

    def remove(side: _Side) -> None:
        bucket.objects.create(destination.prefix + side.name).delete()

    plan = _merge(_files(root), _objects(destination), boolean("only_changed", only_changed))
    threshold = bucket._provider.transfer_plan(config).threshold
    return _run(plan, transfer, remove, delete, dry_run, workers, threshold, on_object)


def download_tree(
    source: Location,
    directory: str | os.PathLike[str],
    *,
    only_changed: bool = False,
    delete: bool = False,
    dry_run: bool = False,
    config: TransferConfig | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Callable[[int], None] | None = None,
    on_object: Callable[[str], None] | None = None,
) -> SyncReport:
    """Download every object under the source prefix into ``directory``
    (made if missing), each file named by the key below the prefix."""
    root = _directory(directory, must_exist=False)
    if not isinstance(source, Location):
        raise InvalidValueException("source", source, "must be a Location")
    bucket = _bucket_of(source)

    def path_of(name: str) -> str:
        parts = name.split("/")
        if any(part in ("", ".", "..") for part in parts):
            # a key such as "a/../../etc" must not write outside the directory
            raise InvalidValueException("key", name, "cannot be a file name below the directory")
        return os.path.join(root, *parts)

    sweeps = TreeSweep()  # one listing of each directory, not one a file
    # directories this run made (and swept) or found: one makedirs a
    # directory, not one a file (2,000 files in one directory made 1,999
    # failing mkdir calls)
    made: set[str] = set()
    provider = bucket._provider
    plan = provider.transfer_plan(config)
    counted = Progress(progress)

    @wrap_foreign_errors
    def transfer(side: _Side) -> int:
        # BucketObject.download_to_file's work, minus what a tree already
        # knows once for all its files: the plan, that the directory exists
        # (made here), and the size (the listing's: a small object is read
        # without a HEAD first). Each file costs a dozen system calls, and
        # each one a worker thread waits on the interpreter lock after.
        path = path_of(side.name)
        parent = os.path.dirname(path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            sweeps.enter(parent)
            made.add(parent)
        key = source.prefix + side.name
        found = DownloadSource(provider.driver, provider.features, bucket.name, key, side.size)
        info = download_file(found, path, plan, counted)
        os.utime(path, (time.time(), info.last_modified.timestamp()))
        return info.size

    def remove(side: _Side) -> None:
        os.unlink(path_of(side.name))

    files = _files(root) if os.path.isdir(root) else iter(())
    pairs = _merge(_objects(source), files, boolean("only_changed", only_changed))
    try:
        return _run(pairs, transfer, remove, delete, dry_run, workers, plan.threshold, on_object)
    finally:
        sweeps.close()


def _run(
    plan: Iterator[tuple[str, _Side]],
    transfer: Callable[[_Side], int],
    remove: Callable[[_Side], None],
    delete: bool,
    dry_run: bool,
    workers: int,
    threshold: int,
    on_object: Callable[[str], None] | None,
) -> SyncReport:
    """Transfer on one pool: at most ``workers`` files above ``threshold``
    at once (each holds up to ``part_size * max_concurrency`` of buffers),
    and up to ``SMALL_FANOUT * workers`` files in flight in all. A small
    file is one request that holds no buffer, and its time is the server's
    answer: many in flight keep the pipe full (measured on SeaweedFS with
    2,000 x 4 KiB files: 32 in flight move them ~1.4x faster than 8)."""
    delete = boolean("delete", delete)
    report = SyncReport(dry_run=boolean("dry_run", dry_run))
    workers = positive_int("workers", workers)
    on_object = optional_callable("on_object", on_object)
    deletes: list[_Side] = []
    lock = threading.Lock()  # the workers add to one report

    def copies() -> Iterator[_Side]:
        for action, side in plan:
            if action == "delete":
                deletes.append(side)
            elif action == "same":
                report.unchanged += 1
            elif report.dry_run:
                report.to_copy.append(side.name)
            else:
                yield side

    if report.dry_run:
        for _ in copies():
            pass
        if delete:
            report.to_delete = [side.name for side in deletes]
        return report

    large = threading.BoundedSemaphore(workers)

    def copy_one(side: _Side) -> None:
        try:
            if side.size > threshold:
                with large:
                    size = transfer(side)
            else:
                size = transfer(side)
        except (BucketBridgeException, OSError) as error:
            with lock:
                report.failures.append(Failure(side.name, str(error)))
        else:
            with lock:
                report.copied += 1
                report.copied_bytes += size
            if on_object is not None:
                on_object(side.name)

    def delete_one(side: _Side) -> None:
        try:
            remove(side)
        except (BucketBridgeException, OSError) as error:
            with lock:
                report.failures.append(Failure(side.name, str(error)))
        else:
            with lock:
                report.deleted += 1

    threads = SMALL_FANOUT * workers
    with ThreadPoolExecutor(threads, "bb-tree") as pool:
        try:
            _bounded(pool, copy_one, copies(), threads)
            if delete and deletes and report.ok:
                _bounded(pool, delete_one, iter(deletes), threads)
        except BaseException:
            # Ctrl-C or a failing callback: start nothing more; the transfers
            # running stop at their next progress call and abort
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return report


def _bounded(
    pool: ThreadPoolExecutor, work: Callable[[_Side], None], items: Iterator[_Side], width: int
) -> None:
    """``width`` tasks on ``pool`` that each take the next item and work on
    it until none is left (so a huge tree streams: the items are made as
    they are taken); an exception a task raised (not a recorded failure)
    stops the others taking more and is raised here.

    One long task a thread, not one task (a Future, a queue entry, a slot
    freed by a callback) an item: for 2,000 small files that cut the
    engine's own CPU by ~25 ms, the locks each item took from threads that
    wait for the same interpreter lock."""
    take = threading.Lock()  # the items' iterator (a listing's merge) is not thread-safe
    stop = threading.Event()

    def puller() -> None:
        try:
            while not stop.is_set():
                with take:
                    item = next(items, None)
                if item is None:
                    return
                work(item)
        except BaseException:
            stop.set()
            raise

    tasks = [pool.submit(puller) for _ in range(width)]
    try:
        for task in tasks:
            task.result()
    finally:
        # Ctrl-C here, or a task's exception: the others take no more
        stop.set()
