"""The transfer engine's scheduling, observed through an instrumented driver:
how many parts are in flight, which ranges are read, what is aborted."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import (
    InvalidValueException,
    PreconditionFailedException,
    ProviderInternalException,
)
from bucketbridge.drivers.base import Features
from bucketbridge.drivers.memory import MemoryDriver
from bucketbridge.drivers.records import (
    Body,
    ObjectInfo,
    ObjectStream,
    PartInfo,
    ReadOptions,
    WriteOptions,
)
from bucketbridge.transfer import (
    DownloadSource,
    Progress,
    TransferPlan,
    UploadTarget,
    download_file,
    run_bounded,
    upload_file,
    upload_stream,
)

MiB = 1024 * 1024
OPTIONS = WriteOptions("application/octet-stream")


class InstrumentedDriver(MemoryDriver):
    """The memory driver, recording concurrency and failing on request."""

    def __init__(self, fail_part: int | None = None) -> None:
        super().__init__()
        self.fail_part = fail_part
        self.active = 0
        self.peak = 0
        self.ranges: list[tuple[int, int | None]] = []
        self.aborted: list[str] = []
        self.completed: list[list[int]] = []
        self.uploaded_bytes = 0
        self.on_read: Callable[[], None] | None = None
        self._count_lock = threading.Lock()

    def _enter(self) -> None:
        with self._count_lock:
            self.active += 1
            self.peak = max(self.peak, self.active)

    def _leave(self) -> None:
        with self._count_lock:
            self.active -= 1

    def start_multipart(self, bucket: str, key: str, options: WriteOptions) -> Any:
        return InstrumentedSession(self, super().start_multipart(bucket, key, options))

    def read_object(self, bucket: str, key: str, options: ReadOptions) -> ObjectStream:
        self.ranges.append((options.start, options.end))
        stream = super().read_object(bucket, key, options)
        if self.on_read is not None:
            self.on_read()

        def counted() -> Iterator[bytes]:
            self._enter()
            try:
                time.sleep(0.02)
                yield from stream
            finally:
                self._leave()

        return ObjectStream(stream.info, counted())

    def put(self, key: str, data: bytes) -> ObjectInfo:
        return self.put_object("b", key, Body.of_bytes(data), OPTIONS)

    def content(self, key: str) -> bytes:
        return b"".join(self.read_object("b", key, ReadOptions()))


class InstrumentedSession:
    def __init__(self, driver: InstrumentedDriver, inner: Any) -> None:
        self._driver = driver
        self._inner = inner
        self.upload_id: str = inner.upload_id

    def upload_part(self, part_number: int, body: Body) -> PartInfo:
        self._driver._enter()
        try:
            time.sleep(0.02)
            if part_number == self._driver.fail_part:
                raise ConnectionError(f"part {part_number} lost")
            part: PartInfo = self._inner.upload_part(part_number, body)
            with self._driver._count_lock:
                self._driver.uploaded_bytes += part.size
            return part
        finally:
            self._driver._leave()

    def complete(self, parts: Sequence[PartInfo], options: WriteOptions) -> ObjectInfo:
        self._driver.completed.append([p.part_number for p in parts])
        info: ObjectInfo = self._inner.complete(parts, options)
        return info

    def abort(self) -> None:
        self._driver.aborted.append(self.upload_id)
        self._inner.abort()


PLAN = TransferPlan(5 * MiB, 5 * MiB, max_concurrency=3, max_attempts=3, download_part_size=5 * MiB)
SERIAL = TransferPlan(
    5 * MiB, 5 * MiB, max_concurrency=1, max_attempts=3, download_part_size=5 * MiB
)


@pytest.fixture
def driver() -> InstrumentedDriver:
    made = InstrumentedDriver()
    made.create_bucket("b", None)
    return made


def _target(driver: InstrumentedDriver) -> UploadTarget:
    return UploadTarget(driver, Features.of(driver), "b", "k", OPTIONS)


def _source(driver: InstrumentedDriver) -> DownloadSource:
    return DownloadSource(driver, Features.of(driver), "b", "k")


def test_parts_are_cut_in_order_with_a_short_tail(driver: InstrumentedDriver) -> None:
    data = os.urandom(23 * MiB + 3)
    upload_stream(_target(driver), io.BytesIO(data), len(data), PLAN, Progress(None))
    assert driver.completed == [[1, 2, 3, 4, 5]]
    assert driver.content("k") == data


def test_at_most_max_concurrency_parts_in_flight(
    driver: InstrumentedDriver, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    source.write_bytes(os.urandom(40 * MiB))
    upload_file(_target(driver), str(source), PLAN, Progress(None))
    assert 2 <= driver.peak <= 3
    driver.peak = 0
    upload_stream(_target(driver), io.BytesIO(source.read_bytes()), None, PLAN, Progress(None))
    assert 2 <= driver.peak <= 3


def test_a_stream_is_not_read_ahead_of_free_slots(driver: InstrumentedDriver) -> None:
    """Memory stays near part_size * max_concurrency: bytes read from the
    stream but not yet uploaded never exceed one part per slot, plus the one
    part being cut."""
    read = 0
    uploaded = 0
    peak_buffered = 0
    lock = threading.Lock()

    class Watched(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            nonlocal read, peak_buffered
            data = super().read(size)
            with lock:
                read += len(data)
                peak_buffered = max(peak_buffered, read - uploaded)
            return data

    def count_uploaded(nbytes: int) -> None:
        nonlocal uploaded
        with lock:
            uploaded += nbytes

    upload_stream(
        _target(driver), Watched(os.urandom(60 * MiB)), None, PLAN, Progress(count_uploaded)
    )
    assert driver.completed == [list(range(1, 13))]
    assert PLAN.part_size * 2 <= peak_buffered <= PLAN.part_size * (PLAN.max_concurrency + 1)


def test_a_failed_part_aborts_the_upload(tmp_path: Path) -> None:
    driver = InstrumentedDriver(fail_part=3)
    driver.create_bucket("b", None)
    source = tmp_path / "src"
    source.write_bytes(os.urandom(30 * MiB))
    with pytest.raises(ConnectionError, match="part 3 lost"):
        upload_file(_target(driver), str(source), PLAN, Progress(None))
    assert len(driver.aborted) == 1
    assert driver.completed == []
    assert driver.head_object("b", "k") is None


def test_ranges_tile_the_object_exactly(driver: InstrumentedDriver, tmp_path: Path) -> None:
    data = os.urandom(17 * MiB + 1)
    driver.put("k", data)
    target = tmp_path / "out"
    download_file(_source(driver), str(target), PLAN, Progress(None))
    assert target.read_bytes() == data
    assert sorted(driver.ranges) == [
        (0, 5 * MiB),
        (5 * MiB, 10 * MiB),
        (10 * MiB, 15 * MiB),
        (15 * MiB, 17 * MiB + 1),
    ]
    assert 2 <= driver.peak <= 3


def test_small_downloads_are_one_stream(driver: InstrumentedDriver, tmp_path: Path) -> None:
    driver.put("k", b"small")
    download_file(_source(driver), str(tmp_path / "out"), PLAN, Progress(None))
    assert driver.ranges == [(0, None)]


def test_a_short_range_fails_the_download(driver: InstrumentedDriver, tmp_path: Path) -> None:
    data = os.urandom(12 * MiB)
    driver.put("k", data)
    original = MemoryDriver.read_object

    def short(self: MemoryDriver, *args: Any, **kwargs: Any) -> ObjectStream:
        stream = original(self, *args, **kwargs)
        return ObjectStream(stream.info, iter(list(stream)[:-1]))  # closed one chunk early

    driver.read_object = short.__get__(driver)  # type: ignore[method-assign]
    target = tmp_path / "out"
    target.write_bytes(b"old")
    with pytest.raises(ProviderInternalException, match="ended after"):
        download_file(_source(driver), str(target), PLAN, Progress(None))
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_download_never_mixes_two_versions(driver: InstrumentedDriver, tmp_path: Path) -> None:
    old, new = b"A" * (12 * MiB), b"B" * (12 * MiB)
    driver.put("k", old)
    replaced = False

    def replace_once() -> None:
        nonlocal replaced
        if not replaced:
            replaced = True
            driver.put("k", new)

    driver.on_read = replace_once
    target = tmp_path / "out"
    info = download_file(_source(driver), str(target), SERIAL, Progress(None))
    # the first range read version A, the second found B: the download began again
    assert target.read_bytes() == new
    assert len(driver.ranges) == 2 + 3
    assert info.revision == driver.head_object("b", "k").revision  # type: ignore[union-attr]


def test_an_object_that_keeps_changing_fails_cleanly(
    driver: InstrumentedDriver, tmp_path: Path
) -> None:
    data = b"A" * (12 * MiB)
    driver.put("k", data)
    driver.on_read = lambda: driver.put("k", data)
    target = tmp_path / "out"
    target.write_bytes(b"old")
    with pytest.raises(PreconditionFailedException, match="kept changing"):
        download_file(_source(driver), str(target), SERIAL, Progress(None))
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_an_interrupt_does_not_run_the_remaining_tasks() -> None:
    ran: list[int] = []

    def task(number: int) -> int:
        time.sleep(0.2)
        ran.append(number)
        return number

    def tasks() -> Iterator[Callable[[], int]]:
        for number in range(40):
            if number == 5:
                raise KeyboardInterrupt
            yield lambda n=number: task(n)  # type: ignore[misc]

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_bounded(tasks(), 3, "test")
    assert time.monotonic() - started < 1.5
    assert len(ran) <= 5


def test_a_file_window_repeats_pread_until_the_part_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3 * MiB)
    source = tmp_path / "src"
    source.write_bytes(data)
    real_pread = os.pread
    monkeypatch.setattr(os, "pread", lambda fd, n, off: real_pread(fd, min(n, 100_000), off))
    with open(source, "rb") as handle:
        assert Body.of_file(handle.fileno(), 0, len(data)).read() == data
        window = Body.of_file(handle.fileno(), MiB, MiB)
        assert window.read() == data[MiB : 2 * MiB]
        window.seek(0)
        assert window.read(10) == data[MiB : MiB + 10]
        with pytest.raises(InvalidValueException, match="shrank"):
            Body.of_file(handle.fileno(), 0, len(data) + 1).read()


def test_a_file_upload_reads_each_part_only_when_it_is_sent(
    driver: InstrumentedDriver, tmp_path: Path
) -> None:
    """Parts of a file are windows, not bytes read up front: memory stays
    near what is in flight whatever the file size."""
    source = tmp_path / "src"
    data = os.urandom(23 * MiB)
    source.write_bytes(data)
    upload_file(_target(driver), str(source), PLAN, Progress(None))
    assert driver.content("k") == data
    assert driver.uploaded_bytes == len(data)


def test_part_size_grows_to_stay_within_the_part_limit() -> None:
    plan = TransferPlan(threshold=0, part_size=5 * MiB, max_concurrency=1, max_attempts=1)
    assert plan.part_size_for(10 * MiB) == 5 * MiB
    huge = 100_000 * 5 * MiB
    assert plan.part_size_for(huge) == huge // 10_000
