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
from bucketbridge.drivers.base import PartInfo
from bucketbridge.drivers.memory import MemoryDriver
from bucketbridge.transfer import (
    Progress,
    TransferPlan,
    UploadTarget,
    _pread_exactly,
    download_file,
    run_bounded,
    upload_file,
    upload_stream,
)

MiB = 1024 * 1024


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
        self.on_read: Callable[[], None] | None = None
        self._count_lock = threading.Lock()

    def _enter(self) -> None:
        with self._count_lock:
            self.active += 1
            self.peak = max(self.peak, self.active)

    def _leave(self) -> None:
        with self._count_lock:
            self.active -= 1

    def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, data: bytes
    ) -> PartInfo:
        self._enter()
        try:
            time.sleep(0.02)
            if part_number == self.fail_part:
                raise ConnectionError(f"part {part_number} lost")
            return super().upload_part(bucket, key, upload_id, part_number, data)
        finally:
            self._leave()

    def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[PartInfo], **kw: Any
    ) -> Any:
        self.completed.append([p.part_number for p in parts])
        return super().complete_multipart(bucket, key, upload_id, parts, **kw)

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        self.aborted.append(upload_id)
        super().abort_multipart(bucket, key, upload_id)

    def read_object(
        self,
        bucket: str,
        key: str,
        *,
        start: int = 0,
        end: int | None = None,
        chunk_size: int,
        if_version: str | None = None,
    ) -> Iterator[bytes]:
        self.ranges.append((start, end))
        chunks = super().read_object(
            bucket, key, start=start, end=end, chunk_size=chunk_size, if_version=if_version
        )
        if self.on_read is not None:
            self.on_read()

        def counted() -> Iterator[bytes]:
            self._enter()
            try:
                time.sleep(0.02)
                yield from chunks
            finally:
                self._leave()

        return counted()


PLAN = TransferPlan(threshold=5 * MiB, part_size=5 * MiB, max_concurrency=3)
SERIAL = TransferPlan(threshold=5 * MiB, part_size=5 * MiB, max_concurrency=1)


@pytest.fixture
def driver() -> InstrumentedDriver:
    made = InstrumentedDriver()
    made.create_bucket("b", None)
    return made


def _target(driver: InstrumentedDriver) -> UploadTarget:
    return UploadTarget(driver, "b", "k", "application/octet-stream", {})


def test_parts_are_cut_in_order_with_a_short_tail(driver: InstrumentedDriver) -> None:
    data = os.urandom(23 * MiB + 3)
    upload_stream(_target(driver), io.BytesIO(data), len(data), PLAN, Progress(None))
    assert driver.completed == [[1, 2, 3, 4, 5]]
    assert b"".join(driver.read_object("b", "k", chunk_size=MiB)) == data


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

    original = driver.upload_part

    def upload_part(*args: Any) -> PartInfo:
        nonlocal uploaded
        info = original(*args)
        with lock:
            uploaded += len(args[-1])
        return info

    driver.upload_part = upload_part  # type: ignore[method-assign]
    upload_stream(_target(driver), Watched(os.urandom(60 * MiB)), None, PLAN, Progress(None))
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
    driver.put_object("b", "k", io.BytesIO(data), len(data), content_type="x", metadata={})
    target = tmp_path / "out"
    download_file(driver, "b", "k", str(target), PLAN, Progress(None))
    assert target.read_bytes() == data
    assert sorted(driver.ranges) == [
        (0, 5 * MiB),
        (5 * MiB, 10 * MiB),
        (10 * MiB, 15 * MiB),
        (15 * MiB, 17 * MiB + 1),
    ]
    assert 2 <= driver.peak <= 3


def test_small_downloads_are_one_stream(driver: InstrumentedDriver, tmp_path: Path) -> None:
    driver.put_object("b", "k", io.BytesIO(b"small"), 5, content_type="x", metadata={})
    download_file(driver, "b", "k", str(tmp_path / "out"), PLAN, Progress(None))
    assert driver.ranges == [(0, None)]


def test_a_short_range_fails_the_download(driver: InstrumentedDriver, tmp_path: Path) -> None:
    data = os.urandom(12 * MiB)
    driver.put_object("b", "k", io.BytesIO(data), len(data), content_type="x", metadata={})
    original = MemoryDriver.read_object

    def short(self: MemoryDriver, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        chunks = original(self, *args, **kwargs)
        return iter(list(chunks)[:-1])  # a connection that closed one chunk early

    driver.read_object = short.__get__(driver)  # type: ignore[method-assign]
    target = tmp_path / "out"
    target.write_bytes(b"old")
    with pytest.raises(ProviderInternalException, match="ended after"):
        download_file(driver, "b", "k", str(target), PLAN, Progress(None))
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_download_never_mixes_two_versions(driver: InstrumentedDriver, tmp_path: Path) -> None:
    old, new = b"A" * (12 * MiB), b"B" * (12 * MiB)
    driver.put_object("b", "k", io.BytesIO(old), len(old), content_type="x", metadata={})
    replaced = False

    def replace_once() -> None:
        nonlocal replaced
        if not replaced:
            replaced = True
            driver.put_object("b", "k", io.BytesIO(new), len(new), content_type="x", metadata={})

    driver.on_read = replace_once
    target = tmp_path / "out"
    info = download_file(driver, "b", "k", str(target), SERIAL, Progress(None))
    # the first range read version A, the second found B: the download began again
    assert target.read_bytes() == new
    assert len(driver.ranges) == 2 + 3
    assert info.version == driver.head_object("b", "k").version  # type: ignore[union-attr]


def test_an_object_that_keeps_changing_fails_cleanly(
    driver: InstrumentedDriver, tmp_path: Path
) -> None:
    data = b"A" * (12 * MiB)
    driver.put_object("b", "k", io.BytesIO(data), len(data), content_type="x", metadata={})
    driver.on_read = lambda: driver.put_object(
        "b", "k", io.BytesIO(data), len(data), content_type="x", metadata={}
    )
    target = tmp_path / "out"
    target.write_bytes(b"old")
    with pytest.raises(PreconditionFailedException, match="kept changing"):
        download_file(driver, "b", "k", str(target), SERIAL, Progress(None))
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


def test_pread_is_repeated_until_the_part_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3 * MiB)
    source = tmp_path / "src"
    source.write_bytes(data)
    real_pread = os.pread
    monkeypatch.setattr(os, "pread", lambda fd, n, off: real_pread(fd, min(n, 100_000), off))
    with open(source, "rb") as handle:
        assert _pread_exactly(handle.fileno(), len(data), 0, str(source)) == data
        with pytest.raises(InvalidValueException, match="shrank"):
            _pread_exactly(handle.fileno(), len(data) + 1, 0, str(source))


def test_part_size_grows_to_stay_within_the_part_limit() -> None:
    plan = TransferPlan(threshold=0, part_size=5 * MiB, max_concurrency=1)
    assert plan.part_size_for(10 * MiB) == 5 * MiB
    huge = 100_000 * 5 * MiB
    assert plan.part_size_for(huge) == huge // 10_000
