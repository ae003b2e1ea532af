"""What each object of a ``copy()``/``sync()`` batch keeps on the batch's
lean path (bucketbridge/copying.py ``Copier``), between a LOCAL and a
MEMORY provider: its bytes, content type and metadata, the source etag a
sync records -- all of the one revision the read found, even one that
replaced the listed revision -- a read cut short refused, a dropped read
resumed on that revision, progress counting only what was copied, and the
read closed whatever stops the copy."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

import pytest

from bucketbridge import (
    Bucket,
    CloudProvider,
    ProviderConnectionException,
    TransferConfig,
    copy,
    sync,
)
from bucketbridge.drivers.records import ObjectStream, ReadOptions
from bucketbridge.sync import SOURCE_ETAG_KEY

MiB = 1024 * 1024
# objects over 5 MiB go multipart: the batch's streamed path for large ones
LARGE = TransferConfig(threshold=5 * MiB, part_size=5 * MiB, max_concurrency=2)


class _Inline(Executor):
    """Runs each batch on the calling thread: an interrupt raised in a
    batch reaches the caller, as Ctrl-C does on the default pool."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def _content(bucket: Bucket, name: str) -> bytes:
    found = bucket.objects.get(name)
    assert found is not None, name
    return b"".join(found.iter_content())


def _fill(bucket: Bucket, count: int, size: int = 4096) -> dict[str, bytes]:
    written = {}
    for i in range(count):
        data = os.urandom(size)
        bucket.objects.create(f"in/k{i}.bin").upload(
            data, content_type=f"application/x-k{i}", metadata={"n": str(i)}
        )
        written[f"k{i}.bin"] = data
    return written


@pytest.mark.parametrize("direction", ["local-to-memory", "memory-to-local"])
@pytest.mark.parametrize("run", ["copy", "sync"])
def test_small_and_large_objects_keep_bytes_type_and_metadata(
    local: CloudProvider, memory: CloudProvider, direction: str, run: str
) -> None:
    ends = [local.storage.buckets.create("from-here"), memory.storage.buckets.create("to-there")]
    origin, target = ends if direction == "local-to-memory" else ends[::-1]
    written = _fill(origin, 5)
    big = os.urandom(5 * MiB + 1)
    origin.objects.create("in/big.bin").upload(
        big, LARGE, content_type="application/x-big", metadata={"n": "big"}
    )
    written["big.bin"] = big
    go: Callable[..., Any] = copy if run == "copy" else sync
    report = go(origin, target, config=LARGE, batch_objects=4)
    report.raise_for_failures()
    assert (report.copied, report.copied_bytes) == (6, sum(map(len, written.values())))
    for name, data in written.items():
        source, copied = origin.objects.get(f"in/{name}"), target.objects.get(f"in/{name}")
        assert source is not None and copied is not None
        assert _content(target, f"in/{name}") == data
        assert copied.content_type == source.content_type
        stamp = {SOURCE_ETAG_KEY: source.etag} if run == "sync" else {}
        assert copied.metadata == {**source.metadata, **stamp}
    assert list(target.objects.incomplete_uploads()) == []
    if run == "sync":
        assert sync(origin, target, config=LARGE).unchanged == 6


@pytest.mark.parametrize("run", ["copy", "sync"])
def test_a_source_replaced_after_its_listing_is_copied_as_the_read_found_it(
    local: CloudProvider, memory: CloudProvider, monkeypatch: pytest.MonkeyPatch, run: str
) -> None:
    """LOCAL's listing gives each object's metadata and etag; one object is
    replaced between the listing and the copy's read. The copy is the
    revision the read found, whole: its bytes, type and metadata, never the
    listed revision's beside the new bytes; a sync records the etag of
    what it copied, so the next sync finds it unchanged."""
    origin = local.storage.buckets.create("src-bucket")
    target = memory.storage.buckets.create("dst-bucket")
    _fill(origin, 3)
    fresh = os.urandom(4096)
    read = local.driver.read_object
    replaced: list[str] = []

    def replacing(bucket: str, key: str, options: ReadOptions) -> ObjectStream:
        if key == "in/k1.bin" and not replaced:
            replaced.append(key)
            origin.objects.create(key).upload(
                fresh, content_type="text/x-new", metadata={"n": "new"}
            )
        return read(bucket, key, options)

    monkeypatch.setattr(local.driver, "read_object", replacing)
    report = (copy if run == "copy" else sync)(origin, target)
    monkeypatch.undo()
    assert (report.copied, report.ok, replaced) == (3, True, ["in/k1.bin"])
    source, copied = origin.objects.get("in/k1.bin"), target.objects.get("in/k1.bin")
    assert source is not None and copied is not None
    assert _content(target, "in/k1.bin") == fresh
    assert copied.content_type == "text/x-new"
    stamp = {SOURCE_ETAG_KEY: source.etag} if run == "sync" else {}
    assert copied.metadata == {"n": "new", **stamp}
    if run == "sync":
        assert sync(origin, target).unchanged == 3


def test_a_read_that_ends_short_fails_its_object_and_writes_nothing(
    local: CloudProvider, memory: CloudProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    origin = memory.storage.buckets.create("src-bucket")
    target = local.storage.buckets.create("dst-bucket")
    _fill(origin, 3)
    read = memory.driver.read_object

    def short(bucket: str, key: str, options: ReadOptions) -> ObjectStream:
        stream = read(bucket, key, options)
        if key != "in/k1.bin":
            return stream
        return ObjectStream(stream.info, iter([b"".join(stream)[:-1]]))  # one byte missing

    monkeypatch.setattr(memory.driver, "read_object", short)
    report = copy(origin, target)
    assert (report.copied, [f.name for f in report.failures]) == (2, ["in/k1.bin"])
    assert "ended after 4095 of 4096 bytes" in report.failures[0].error
    assert [o.name for o in target.objects] == ["in/k0.bin", "in/k2.bin"]
    with pytest.raises(Exception, match="1 object"):
        report.raise_for_failures()


def test_a_dropped_read_resumes_pinned_to_the_revision_it_found(
    local: CloudProvider, memory: CloudProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    origin = memory.storage.buckets.create("src-bucket")
    target = local.storage.buckets.create("dst-bucket")
    written = _fill(origin, 2)
    read = memory.driver.read_object
    calls: list[tuple[str, int, str | None]] = []

    def breaking(bucket: str, key: str, options: ReadOptions) -> ObjectStream:
        calls.append((key, options.start, options.if_revision))
        stream = read(bucket, key, options)
        if len(calls) > 1:
            return stream

        def chunks() -> Iterator[bytes]:
            data = b"".join(stream)
            yield data[:1000]
            raise ProviderConnectionException("cannot reach memory: connection reset by peer")

        return ObjectStream(stream.info, chunks())

    monkeypatch.setattr(memory.driver, "read_object", breaking)
    monkeypatch.setattr("bucketbridge.reads.backoff", lambda failures: 0.0)
    copy(origin, target, executor=_Inline()).raise_for_failures()
    assert _content(target, "in/k0.bin") == written["k0.bin"]
    revision = read("src-bucket", "in/k0.bin", ReadOptions()).info.revision
    # the break lost the slice it was filling (the whole object here): read
    # again from its start, of the revision the first response described
    assert calls[:2] == [("in/k0.bin", 0, None), ("in/k0.bin", 0, revision)]


def test_progress_counts_only_what_was_copied(
    local: CloudProvider, memory: CloudProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer creates one object at the destination after the
    listing: ``overwrite="never"`` refuses its put (create-only), and none
    of its bytes count, though the driver read them before refusing."""
    origin = local.storage.buckets.create("src-bucket")
    target = memory.storage.buckets.create("dst-bucket")  # reads a body, then refuses it
    _fill(origin, 4)
    read = local.driver.read_object

    def racing(bucket: str, key: str, options: ReadOptions) -> ObjectStream:
        if key == "in/k2.bin":
            target.objects.create(key).upload(b"mine")
        return read(bucket, key, options)

    monkeypatch.setattr(local.driver, "read_object", racing)
    moved: list[int] = []
    named: list[str] = []
    lock = threading.Lock()

    def count(nbytes: int) -> None:
        with lock:
            moved.append(nbytes)

    report = copy(
        origin, target, overwrite="never", progress=count, on_object=named.append, batch_objects=1
    )
    assert (report.copied, report.skipped, report.ok) == (3, 1, True)
    assert sum(moved) == report.copied_bytes == 3 * 4096
    assert sorted(named) == ["in/k0.bin", "in/k1.bin", "in/k3.bin"]
    assert _content(target, "in/k2.bin") == b"mine"


@pytest.mark.parametrize("during", ["read", "put"])
def test_an_interrupt_stops_the_copy_and_closes_its_read(
    local: CloudProvider, memory: CloudProvider, monkeypatch: pytest.MonkeyPatch, during: str
) -> None:
    origin = memory.storage.buckets.create("src-bucket")
    target = local.storage.buckets.create("dst-bucket")
    _fill(origin, 3)
    read = memory.driver.read_object
    opened: list[str] = []
    closed: list[str] = []

    def tracked(bucket: str, key: str, options: ReadOptions) -> ObjectStream:
        stream = read(bucket, key, options)
        opened.append(key)

        def chunks() -> Iterator[bytes]:
            if key == "in/k1.bin" and during == "read":
                raise KeyboardInterrupt
            yield from stream

        return ObjectStream(stream.info, chunks(), lambda: closed.append(key))

    put = local.driver.put_object

    def interrupted(bucket: str, key: str, *args: Any) -> Any:
        if key == "in/k1.bin":
            raise KeyboardInterrupt
        return put(bucket, key, *args)

    monkeypatch.setattr(memory.driver, "read_object", tracked)
    monkeypatch.setattr(local.driver, "put_object", interrupted)
    with pytest.raises(KeyboardInterrupt):
        copy(origin, target, executor=_Inline())
    assert opened == closed == ["in/k0.bin", "in/k1.bin"]
    assert [o.name for o in target.objects] == ["in/k0.bin"]
