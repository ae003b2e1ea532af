"""Downloads into files through the transfer engine's FileSink: every size
lands byte for byte and exactly, through O_DIRECT where the filesystem takes
it and through the page cache where it does not, and progress counts each
byte of the object once. The memory driver stands in for a provider; the
files are real (tmp_path, and /dev/shm for tmpfs)."""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import ProviderConnectionException, ProviderInternalException
from bucketbridge.config import CONNECTION_SETTINGS, CORE_SETTINGS, resolve
from bucketbridge.drivers.base import Features
from bucketbridge.drivers.memory import MemoryDriver
from bucketbridge.drivers.records import Body, ObjectStream, ReadOptions, WriteOptions
from bucketbridge.filesink import BLOCK, BUFFERED_SLICE, FileSink
from bucketbridge.transfer import (
    DOWNLOAD_RANGE_CAP,
    DownloadSource,
    Progress,
    TransferConfig,
    TransferPlan,
    download_file,
)

MiB = 1024 * 1024
PART = 5 * MiB
# threshold 0: every object but the empty one goes through the ranged path
PLAN = TransferPlan(0, PART, max_concurrency=3, max_attempts=3, download_part_size=PART)
SIZES = {
    "1": 1,
    "block-1": BLOCK - 1,
    "block": BLOCK,
    "block+1": BLOCK + 1,
    "part-1": PART - 1,
    "part": PART,
    "part+1": PART + 1,
    "parts-with-odd-tail": 3 * PART + BLOCK + 17,
}


class Driver(MemoryDriver):
    """The memory driver; its reads either yield chunks (as SDK drivers do)
    or fill the caller's buffer in uneven short reads (as the lean data
    plane's ``readinto`` may), and can be told to break."""

    def __init__(self, readinto: bool = False) -> None:
        super().__init__()
        self.create_bucket("b", None)
        self.readinto = readinto
        self.reads: list[tuple[int, int | None]] = []
        self.on_read: Callable[[ReadOptions], None] | None = None
        self.break_after: int | None = None  # bytes of a read, once; then a dropped connection
        self.fail_after: int | None = None  # bytes of a read starting past 0, then an error

    def read_object(self, bucket: str, key: str, options: ReadOptions) -> ObjectStream:
        self.reads.append((options.start, options.end))
        if self.on_read is not None:
            self.on_read(options)
        stream = super().read_object(bucket, key, options)
        data = b"".join(stream)
        limit = len(data)
        error: Exception | None = None
        if self.break_after is not None and self.break_after < len(data):
            limit, self.break_after = self.break_after, None
            error = ProviderConnectionException("connection reset by the test")
        elif self.fail_after is not None and options.start > 0:
            limit = min(limit, self.fail_after)
            error = ProviderInternalException("the server failed mid-range")
        view = memoryview(data)
        position = 0

        def readinto(buffer: memoryview) -> int:
            nonlocal position
            if position >= limit and error is not None:
                raise error
            count = min(len(buffer), limit - position, 7777 + position % 5000)
            buffer[:count] = view[position : position + count]
            position += count
            return count

        def chunks() -> Iterator[bytes]:
            yield from (bytes(view[i : min(i + 100_000, limit)]) for i in range(0, limit, 100_000))
            if error is not None:
                raise error

        if self.readinto:
            return ObjectStream(stream.info, iter(()), readinto=readinto)
        return ObjectStream(stream.info, chunks())

    def put(self, data: bytes) -> None:
        self.put_object("b", "k", Body.of_bytes(data), WriteOptions("application/octet-stream"))


@pytest.fixture(params=["chunks", "readinto"])
def driver(request: pytest.FixtureRequest) -> Driver:
    return Driver(readinto=request.param == "readinto")


def _download(driver: Driver, target: Path, plan: TransferPlan = PLAN) -> list[int]:
    reported: list[int] = []
    download_file(
        DownloadSource(driver, Features.of(driver), "b", "k"),
        str(target),
        plan,
        Progress(reported.append),
    )
    return reported


def _takes_direct_io(directory: Path) -> bool:
    fd = os.open(directory, os.O_TMPFILE | os.O_RDWR, 0o600)
    try:
        direct = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_DIRECT)
    except OSError:
        return False
    finally:
        os.close(fd)
    os.close(direct)
    return True


class WriteSpy:
    """Every pwrite: whether through an O_DIRECT descriptor, where, how long."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, refuse_direct: bool = False) -> None:
        self.writes: list[tuple[bool, int, int]] = []
        real = os.pwrite

        def pwrite(fd: int, data: Any, offset: int) -> int:
            direct = bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)
            self.writes.append((direct, offset, len(data)))
            if direct and refuse_direct:
                raise OSError(errno.EINVAL, "Invalid argument")
            return real(fd, data, offset)

        monkeypatch.setattr(os, "pwrite", pwrite)

    def direct(self) -> list[tuple[int, int]]:
        return [(offset, length) for direct, offset, length in self.writes if direct]

    def buffered(self) -> list[tuple[int, int]]:
        return [(offset, length) for direct, offset, length in self.writes if not direct]


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_every_size_lands_whole_and_exact(
    driver: Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    data = os.urandom(size)
    driver.put(data)
    spy = WriteSpy(monkeypatch)
    reported = _download(driver, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == data
    assert os.path.getsize(tmp_path / "out") == size
    assert sum(reported) == size
    assert sorted(driver.reads) == [
        (start, min(start + PART, size)) for start in range(0, size, PART)
    ]
    if _takes_direct_io(tmp_path):
        # every write went around the page cache, block-aligned, the tail padded
        assert spy.buffered() == []
        assert all(offset % BLOCK == 0 and length % BLOCK == 0 for offset, length in spy.direct())
        assert sum(length for _, length in spy.direct()) == -(-size // BLOCK) * BLOCK


def test_an_empty_object_is_an_empty_file(driver: Driver, tmp_path: Path) -> None:
    driver.put(b"")
    (tmp_path / "out").write_bytes(b"old")
    assert sum(_download(driver, tmp_path / "out")) == 0
    assert (tmp_path / "out").read_bytes() == b""
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_refused_at_open_falls_back_to_buffered_slices(
    driver: Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3 * PART + 1)
    driver.put(data)
    real_open = os.open

    def no_direct(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_direct)
    spy = WriteSpy(monkeypatch)
    _download(driver, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == data
    assert spy.direct() == []
    assert max(length for _, length in spy.buffered()) <= BUFFERED_SLICE


def test_refused_at_the_first_write_falls_back_to_buffered_slices(
    driver: Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some filesystems (FUSE, overlay) open O_DIRECT and refuse the write."""
    data = os.urandom(3 * PART + BLOCK + 1)
    driver.put(data)
    spy = WriteSpy(monkeypatch, refuse_direct=True)
    _download(driver, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == data
    assert os.path.getsize(tmp_path / "out") == len(data)
    # at most one refused write per worker, then none
    assert len(spy.direct()) <= PLAN.max_concurrency
    assert max(length for _, length in spy.buffered()) <= BUFFERED_SLICE


def test_a_tmpfs_destination_is_right_whether_or_not_it_takes_o_direct(driver: Driver) -> None:
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm on this machine")
    directory = Path("/dev/shm") / f"bb-test-{uuid.uuid4().hex}"
    directory.mkdir()
    try:
        data = os.urandom(2 * PART + 3)
        driver.put(data)
        assert sum(_download(driver, directory / "out")) == len(data)
        assert (directory / "out").read_bytes() == data
        assert [p.name for p in directory.iterdir()] == ["out"]
    finally:
        for path in directory.iterdir():
            path.unlink()
        directory.rmdir()


def test_a_part_size_off_the_block_goes_through_the_page_cache(
    driver: Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    part = PART + 1
    plan = TransferPlan(0, part, max_concurrency=3, max_attempts=3, download_part_size=part)
    data = os.urandom(3 * part + 5)
    driver.put(data)
    spy = WriteSpy(monkeypatch)
    _download(driver, tmp_path / "out", plan)
    assert (tmp_path / "out").read_bytes() == data
    assert spy.direct() == []
    assert sorted(driver.reads)[1] == (part, 2 * part)


def test_download_direct_io_off_writes_through_the_page_cache(
    driver: Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``download_direct_io = false`` (a disk slower direct than buffered)."""
    plan = dataclasses.replace(PLAN, direct_io=False)
    data = os.urandom(3 * PART + 5)
    driver.put(data)
    spy = WriteSpy(monkeypatch)
    _download(driver, tmp_path / "out", plan)
    assert (tmp_path / "out").read_bytes() == data
    assert spy.direct() == [] and spy.writes
    assert max(length for _, _, length in spy.writes) <= 1024 * 1024


def test_the_config_key_reaches_the_plan() -> None:
    from bucketbridge import CloudProviderFactory, ProviderList

    with CloudProviderFactory().create_provider(
        ProviderList.MEMORY, {"download_direct_io": "false"}
    ) as provider:
        assert TransferPlan.resolve(None, provider.settings).direct_io is False
    with CloudProviderFactory().create_provider(ProviderList.MEMORY, {}) as provider:
        assert TransferPlan.resolve(None, provider.settings).direct_io is True


@pytest.mark.parametrize("existing", [True, False], ids=["over-a-file", "new-file"])
def test_a_failure_mid_download_leaves_the_destination_as_it_was(
    driver: Driver, tmp_path: Path, existing: bool
) -> None:
    driver.put(os.urandom(4 * PART + 1))
    driver.fail_after = MiB + 3
    target = tmp_path / "out"
    if existing:
        target.write_bytes(b"precious")
    with pytest.raises(ProviderInternalException, match="mid-range"):
        _download(driver, target)
    assert [p.name for p in tmp_path.iterdir()] == (["out"] if existing else [])
    if existing:
        assert target.read_bytes() == b"precious"


def test_a_resumed_range_counts_its_bytes_once(driver: Driver, tmp_path: Path) -> None:
    data = os.urandom(2 * PART + 77)
    driver.put(data)
    driver.break_after = MiB + 1
    reported = _download(driver, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == data
    assert len(driver.reads) == 3 + 1  # one range was read again from where it broke
    assert sum(reported) == len(data)


def test_a_download_begun_again_counts_each_byte_once(driver: Driver, tmp_path: Path) -> None:
    """The object is replaced under the download: it starts again (the
    PreconditionFailed of the next range) and still reports the object's size."""
    old, new = os.urandom(3 * PART + 9), os.urandom(3 * PART + 9)
    driver.put(old)
    serial = TransferPlan(0, PART, max_concurrency=1, max_attempts=3, download_part_size=PART)

    def replace_after_the_first_range(options: ReadOptions) -> None:
        if options.start == PART and driver.on_read is not None:
            driver.on_read = None
            driver.put(new)

    driver.on_read = replace_after_the_first_range
    reported = _download(driver, tmp_path / "out", serial)
    assert (tmp_path / "out").read_bytes() == new
    assert sum(reported) == len(new)
    assert len(driver.reads) == 2 + 4


def test_the_sink_reuses_one_buffer_per_worker(tmp_path: Path) -> None:
    driver = Driver(readinto=True)
    data = os.urandom(9 * PART)
    driver.put(data)
    made: list[int] = []
    real_take = FileSink._take

    def counting_take(self: FileSink) -> Any:
        buffer = real_take(self)
        if id(buffer) not in made:
            made.append(id(buffer))
        return buffer

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FileSink, "_take", counting_take)
        _download(driver, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == data
    assert 1 <= len(made) <= PLAN.max_concurrency


SETTINGS = resolve("local", {}, CORE_SETTINGS + CONNECTION_SETTINGS)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (512 * MiB, 64 * MiB),  # split evenly over the 8 workers
        (40 * MiB, 16 * MiB),  # never below the part size
        (200 * MiB + 1, 26 * MiB),  # whole MiB, so ranges start on a block
        (4096 * MiB, DOWNLOAD_RANGE_CAP),
    ],
)
def test_download_ranges_are_derived_from_the_object_size(size: int, expected: int) -> None:
    assert TransferPlan.resolve(None, SETTINGS).range_size_for(size) == expected


def test_a_part_size_the_caller_names_is_the_download_range() -> None:
    plan = TransferPlan.resolve(TransferConfig(part_size=6 * MiB), SETTINGS)
    assert plan.range_size_for(512 * MiB) == 6 * MiB
    assert plan.part_size == 6 * MiB
    large = resolve(
        "local", {"multipart_part_size": 128 * MiB}, CORE_SETTINGS + CONNECTION_SETTINGS
    )
    assert TransferPlan.resolve(None, large).range_size_for(512 * MiB) == 128 * MiB
