"""ObjectStream.readinto over chunks, and reads.open_read resuming a
readinto read after resets: pinned to the revision, giving up after
max_attempts failures of the read in all. The driver is a fake: this is the core's
logic, the network is exercised in the other modules here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from bucketbridge import reads
from bucketbridge.drivers.records import ObjectInfo, ObjectStream, ReadOptions
from bucketbridge.errors import ProviderConnectionException

DATA = os.urandom(3 * 1024 * 1024 + 17)
INFO = ObjectInfo("key", len(DATA), datetime.now(timezone.utc), revision="rev-1")


def drain(stream: ObjectStream, size: int) -> bytes:
    """Everything ``stream.readinto`` gives with a buffer of ``size``,
    checking that only the last fill is short and that 0 follows it."""
    out = bytearray()
    buffer = bytearray(size)
    while True:
        count = stream.readinto(buffer)
        out += buffer[:count]
        if count < size:
            assert stream.readinto(buffer) == 0
            return bytes(out)


def odd_chunks(data: bytes) -> Iterator[bytes]:
    sizes = [1, 7, 0, 4096, 3, 100_000, 65_537, 5]
    offset = index = 0
    while offset < len(data):
        size = sizes[index % len(sizes)]
        yield data[offset : offset + size]
        offset += size
        index += 1


@pytest.mark.parametrize("size", [1, 5, 4095, 65_536, 200_000, len(DATA) + 1])
def test_readinto_over_chunks_of_odd_sizes(size: int) -> None:
    data = DATA[: 2 * 1024 * 1024 + 1] if size < 100 else DATA
    if size == 1:
        data = DATA[:50_000]
    stream = ObjectStream(INFO, odd_chunks(data))
    assert drain(stream, size) == data


def test_readinto_over_no_chunks_is_empty() -> None:
    assert ObjectStream(INFO, iter(())).readinto(bytearray(10)) == 0


class FakeDriver:
    """read_object serves DATA; the n-th stream it opens breaks after
    ``breaks[n]`` bytes (never if None or past the list). Like a Response,
    its readinto fills the whole buffer or raises: the bytes it put in the
    buffer before a break are there, but no count says so."""

    def __init__(self, breaks: list[int | None]) -> None:
        self.breaks = list(breaks)
        self.calls: list[ReadOptions] = []

    def read_object(self, bucket: str, key: str, options: ReadOptions) -> ObjectStream:
        self.calls.append(options)
        if options.if_revision not in (None, INFO.revision):
            raise AssertionError("the fake has one revision")
        breaks = self.breaks.pop(0) if self.breaks else None
        end = len(DATA) if options.end is None else options.end
        position = options.start
        broken = position if breaks is None else position + breaks

        def readinto(buffer: memoryview) -> int:
            nonlocal position
            wanted = min(len(buffer), end - position)
            if breaks is not None and position + wanted > broken:
                buffer[: broken - position] = DATA[position:broken]
                position = broken
                raise ProviderConnectionException("cannot reach Fake: connection reset by peer")
            buffer[:wanted] = DATA[position : position + wanted]
            position += wanted
            return wanted

        def chunks() -> Iterator[bytes]:
            raise AssertionError("read with readinto only")
            yield b""

        return ObjectStream(INFO, chunks(), readinto=readinto)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reads, "backoff", lambda failures: 0.0)


def read_all(driver: FakeDriver, options: ReadOptions, max_attempts: int, size: int) -> bytes:
    stream = reads.open_read(driver, "bucket", "key", options, max_attempts)  # type: ignore[arg-type]
    try:
        return drain(stream, size)
    finally:
        stream.close()


def test_a_readinto_read_resumes_after_resets_pinned_to_the_revision() -> None:
    # buffers of 64 KiB: the first stream breaks inside its 16th fill
    driver = FakeDriver([1_000_000, 0, 700_001])
    assert read_all(driver, ReadOptions(), max_attempts=4, size=65_536) == DATA
    starts = [(call.start, call.if_revision) for call in driver.calls]
    assert starts[0] == (0, None)
    assert all(revision == "rev-1" for _, revision in starts[1:])
    assert [start for start, _ in starts] == sorted(start for start, _ in starts)
    assert len(driver.calls) == 4


def test_a_ranged_readinto_read_resumes_within_its_range() -> None:
    driver = FakeDriver([10, 100_000])
    options = ReadOptions(start=5, end=300_005)
    assert read_all(driver, options, max_attempts=3, size=4096) == DATA[5:300_005]
    assert [(call.start, call.end) for call in driver.calls] == [
        (5, 300_005),
        (5, 300_005),  # 10 bytes into a 4096-byte fill: no fill was complete
        (5 + 98_304, 300_005),  # 24 whole fills of 4096 before the break at 100,000
    ]


def test_resets_with_no_progress_give_up_after_max_attempts() -> None:
    driver = FakeDriver([0] * 10)
    stream = reads.open_read(driver, "bucket", "key", ReadOptions(), 3)  # type: ignore[arg-type]
    with pytest.raises(ProviderConnectionException, match="3 attempts"):
        stream.readinto(bytearray(100))
    assert len(driver.calls) == 3


def test_failures_count_in_all_even_with_progress_between_them() -> None:
    """A server that breaks every response after some bytes fails the read
    after max_attempts breaks, rather than crawling through the object."""
    driver = FakeDriver([300_000] * 10)
    with pytest.raises(ProviderConnectionException, match="3 attempts"):
        read_all(driver, ReadOptions(), max_attempts=3, size=65_536)
    assert len(driver.calls) == 3


def test_progress_inside_one_large_buffer_counts() -> None:
    """One readinto into a buffer as large as the object, over a link that
    breaks every 600 kB: what each attempt put in the buffer before its
    break is progress, though no count returned it; the read completes."""
    driver = FakeDriver([600_000] * 8)
    stream = reads.open_read(driver, "bucket", "key", ReadOptions(), 10)  # type: ignore[arg-type]
    buffer = bytearray(len(DATA) + 1)
    assert stream.readinto(buffer) == len(DATA)
    assert buffer[: len(DATA)] == DATA
