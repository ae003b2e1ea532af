"""fsspec's generic bulk calls (copy, get, put, rm) ask ``isdir``/``info`` of
every path they listed; the filesystem answers those from the listing the
call already made (bucketbridge/fsspec/scope.py), so a bulk call costs its
listings plus the transfers, not a HEAD and a LIST more per path. Counted
on the driver's calls (MEMORY: the counts are the same on every provider)."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest

from bucketbridge.fsspec import BucketBridgeFileSystem
from tests.conformance.conftest import unique_name

FILES = 20
LOOKUPS = ("head_object", "head_bucket", "list_objects", "list_directory")


class Counted:
    """The driver's calls, by name, from the moment ``reset`` is called."""

    def __init__(self, fs: BucketBridgeFileSystem) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        driver: Any = fs._provider.driver
        for name in (*LOOKUPS, "read_object", "put_object", "copy_object", "delete_object"):
            setattr(driver, name, self._counting(name, getattr(type(driver), name), driver))
        self._driver = driver

    def _counting(self, name: str, method: Any, driver: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return method(driver, *args, **kwargs)

        return call

    def lookups(self) -> int:
        return sum(self.calls[name] for name in LOOKUPS)

    def close(self) -> None:
        for name in list(vars(self._driver)):
            if callable(vars(self._driver)[name]):
                delattr(self._driver, name)


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[tuple[BucketBridgeFileSystem, str, Counted]]:
    fs: BucketBridgeFileSystem = fsspec.filesystem("bb+memory")
    bucket = unique_name("fs")
    fs.mkdir(bucket)
    for i in range(FILES):
        fs.pipe_file(f"{bucket}/src/d{i % 3}/f{i}", b"x" * i)
    counted = Counted(fs)
    yield fs, bucket, counted
    counted.close()
    fs.rm(bucket, recursive=True)
    fs.rmdir(bucket)


def test_a_recursive_get_reads_each_object_once_and_lists_once(
    scene: tuple[BucketBridgeFileSystem, str, Counted], tmp_path: Path
) -> None:
    fs, bucket, counted = scene
    fs.get(f"{bucket}/src", str(tmp_path / "out"), recursive=True)
    assert len(list((tmp_path / "out").rglob("f*"))) == FILES
    assert counted.calls["read_object"] == FILES
    assert counted.lookups() <= 4, counted.calls  # the listing, the root's HEAD, a bucket check


def test_a_recursive_copy_looks_each_source_up_once(
    scene: tuple[BucketBridgeFileSystem, str, Counted],
) -> None:
    fs, bucket, counted = scene
    fs.copy(f"{bucket}/src", f"{bucket}/dst", recursive=True)
    assert len(fs.find(f"{bucket}/dst")) == FILES
    counted.calls.clear()
    fs.copy(f"{bucket}/src", f"{bucket}/dst2", recursive=True)
    assert counted.calls["copy_object"] == FILES
    # one HEAD a copy (for the source's metadata), plus the listing and the destination's check
    assert counted.lookups() <= FILES + 5, counted.calls


def test_a_recursive_put_lists_nothing_per_file(
    scene: tuple[BucketBridgeFileSystem, str, Counted], tmp_path: Path
) -> None:
    fs, bucket, counted = scene
    local = tmp_path / "in"
    for i in range(FILES):
        (local / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (local / f"d{i % 3}" / f"f{i}").write_bytes(b"y" * i)
    fs.put(str(local), f"{bucket}/up", recursive=True)
    assert len(fs.find(f"{bucket}/up")) == FILES
    assert counted.lookups() <= 4, counted.calls


def test_a_recursive_rm_heads_nothing_per_path(
    scene: tuple[BucketBridgeFileSystem, str, Counted],
) -> None:
    fs, bucket, counted = scene
    fs.rm(f"{bucket}/src", recursive=True)
    assert fs.find(f"{bucket}/src") == []
    assert counted.calls["delete_object"] == FILES
    assert counted.lookups() <= 4, counted.calls
