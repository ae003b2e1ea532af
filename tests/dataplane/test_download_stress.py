"""Downloads to disk stay byte-exact under load.

A loaded bench batch once wrote a downloaded file that differed from its
object, and it never happened again. This drives the real path (the
provider's driver, the transfer engine, FileSink; O_DIRECT on and off) on
real servers with many downloads of awkward sizes at once -- sizes at the
edges of a block, of a worker's buffer, of a resumed read's slice and of a
range -- while other threads keep the CPU and the GIL busy, and compares
every byte. Each object's bytes differ block by block, so a block written
at the wrong place, twice, or not at all is seen. Seconds, not minutes: a
32 MiB set of objects, each downloaded twice, on each backend and setting.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

import pytest

from bucketbridge import TransferConfig, filesink, transfer
from bucketbridge.filesink import BLOCK, BUFFER_SIZE
from bucketbridge.reads import RESUME_SLICE
from tests.servers.providers import ProviderFactory

MiB = 1024 * 1024
PART = 5 * MiB  # the smallest part size allowed: many ranges for few bytes
SIZES = (
    1,
    BLOCK - 1,
    BLOCK + 1,
    3 * RESUME_SLICE + 5,
    BUFFER_SIZE + 1,
    PART - 1,
    PART + 1,
    2 * PART + BLOCK + 17,
    3 * PART - BLOCK + 1,
)
# objects up to the threshold take the one-read path, the rest the ranged one
CONFIG = TransferConfig(threshold=64 * 1024, part_size=PART, max_concurrency=4)
ROUNDS = 2
DOWNLOADERS = 6
LOADERS = 2


def payload(index: int, size: int) -> bytes:
    """Random bytes, stamped with the object and offset every block."""
    data = bytearray(os.urandom(size))
    for offset in range(0, size - 11, BLOCK):
        data[offset : offset + 12] = index.to_bytes(4, "big") + offset.to_bytes(8, "big")
    return bytes(data)


class RecordingSink(filesink.FileSink):
    """FileSink, noting whether writes still went around the page cache."""

    direct_at_finish: ClassVar[list[bool]] = []

    def finish(self, size: int) -> None:
        RecordingSink.direct_at_finish.append(self.direct)
        super().finish(size)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    RecordingSink.direct_at_finish = []
    monkeypatch.setattr(transfer, "FileSink", RecordingSink)
    yield RecordingSink.direct_at_finish


def load_cpu(stop: threading.Event) -> Callable[[], None]:
    """A thread's worth of load: hashing without the GIL, then spinning with it."""
    block = os.urandom(4 * MiB)

    def run() -> None:
        count = 0
        while not stop.is_set():
            hashlib.sha256(block).digest()
            for _ in range(20_000):
                count += 1

    return run


@pytest.fixture(params=["s3_seaweedfs", "s3_seaweedfs_sdk", "local"])
def make(request: pytest.FixtureRequest) -> ProviderFactory:
    factory: ProviderFactory = request.getfixturevalue(f"{request.param}_provider_factory")
    return factory


@pytest.mark.parametrize("direct", [True, False], ids=["odirect", "buffered"])
def test_concurrent_downloads_under_load_are_byte_exact(
    make: ProviderFactory, direct: bool, recorded: list[bool], tmp_path: Path
) -> None:
    provider = make(download_direct_io=direct)
    bucket = provider.storage.buckets.create(f"stress-{uuid.uuid4().hex[:12]}")
    wanted: dict[str, bytes] = {}
    for index, size in enumerate(SIZES):
        name = f"obj-{index}-{size}"
        wanted[name] = payload(index, size)
        bucket.objects.create(name).upload(wanted[name])

    jobs = [(name, tmp_path / f"{name}.{number}") for number in range(ROUNDS) for name in wanted]

    def download(job: tuple[str, Path]) -> None:
        name, path = job
        bucket.objects.get(name).download_to_file(path, CONFIG)

    stop = threading.Event()
    loaders = [threading.Thread(target=load_cpu(stop), daemon=True) for _ in range(LOADERS)]
    for loader in loaders:
        loader.start()
    try:
        with ThreadPoolExecutor(DOWNLOADERS) as pool:
            list(pool.map(download, jobs))
    finally:
        stop.set()
        for loader in loaders:
            loader.join()

    wrong = [str(path.name) for name, path in jobs if path.read_bytes() != wanted[name]]
    assert not wrong, f"downloaded bytes differ from the object: {wrong}"
    if make.provider_id.value != "local":  # type: ignore[attr-defined]  # LOCAL copies files
        ranged = sum(1 for size in SIZES if size > (CONFIG.threshold or 0)) * ROUNDS
        # every ranged download went through FileSink, around the page cache when asked
        assert recorded == [direct] * ranged
