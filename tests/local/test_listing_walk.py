"""The LOCAL listing's walk (drivers/local/paths.py ``walk_sorted``) and its
per-key loop (drivers/local/listing.py ``described``): what holds.

- keys come in S3's order whether a directory holds files only (the flat
  fast path: one sort by name) or files and directories (``a-b`` before
  ``a/c`` before ``a0``), page by page from any marker, under any prefix;
- in a directory of files, a link (to a file carrying a record, or to a
  directory) and a FIFO are no objects;
- a file replaced between the listing's ``stat`` and its record read is
  listed as the version the record was read from (stat and record of one
  inode), never as the old stat with the new record; replaced by a file
  without a record, it is listed as the stat saw it, with no record.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import CloudProvider
from bucketbridge.drivers.local import inline


def _pages(provider: CloudProvider, bucket: str, prefix: str | None, limit: int) -> list[str]:
    """Every key of the listing, fetched ``limit`` at a time from markers."""
    driver: Any = provider.driver
    keys: list[str] = []
    marker = None
    while True:
        page = driver.list_objects(bucket, prefix=prefix, marker=marker, limit=limit)
        keys += [info.key for info in page.items]
        if page.next_marker is None:
            return keys
        marker = page.next_marker


MIXED = ["a-b", "a/c", "a/c/d", "a/c-", "a0", "b", "d/x1", "d/x10", "d/x2", "d/y", "é", "z"]
"""Files beside directories at the top and in ``a/``; ``d/`` holds files only."""


@pytest.mark.parametrize("limit", [1, 2, 5, 1000])
@pytest.mark.parametrize("prefix", [None, "a", "a/", "a/c", "d/", "d/x1", "d/x", "é", "q"])
def test_keys_come_in_s3_order_from_every_marker(
    provider: CloudProvider, prefix: str | None, limit: int
) -> None:
    bucket = provider.storage.buckets.create("ordered")
    for key in MIXED:
        if key != "a/c":  # a file cannot share a name with the directory a/c/
            bucket.objects.create(key).upload(key.encode())
    expected = sorted(k for k in MIXED if k != "a/c" and k.startswith(prefix or ""))
    assert _pages(provider, "ordered", prefix, limit) == expected


def test_a_marker_between_keys_of_a_flat_directory(provider: CloudProvider) -> None:
    bucket = provider.storage.buckets.create("flat")
    for key in ["d/k1", "d/k3", "d/k5"]:
        bucket.objects.create(key).upload(b"x")
    driver: Any = provider.driver
    for marker, expected in [
        ("d/k2", ["d/k3", "d/k5"]),
        ("d/k5", []),
        ("d/", ["d/k1", "d/k3", "d/k5"]),
    ]:
        page = driver.list_objects("flat", prefix=None, marker=marker, limit=10)
        assert [info.key for info in page.items] == expected


def test_links_and_fifos_among_files_are_no_objects(provider: CloudProvider, root: Path) -> None:
    bucket = provider.storage.buckets.create("among")
    for key in ["d/a", "d/c", "d/e"]:
        bucket.objects.create(key).upload(b"real", metadata={"m": "1"})
    outside = root.parent / "outside"
    outside.write_bytes(b"real")
    os.setxattr(outside, inline.NAME, os.getxattr(root / "among" / "d" / "a", inline.NAME))
    (root / "among" / "d" / "b").symlink_to(outside)
    (root.parent / "outside-dir").mkdir()
    (root / "among" / "d" / "b2").symlink_to(root.parent / "outside-dir")
    os.mkfifo(root / "among" / "d" / "d")
    assert _pages(provider, "among", None, 1000) == ["d/a", "d/c", "d/e"]
    assert _pages(provider, "among", "d/", 1) == ["d/a", "d/c", "d/e"]
    listed = provider.driver.list_objects("among", prefix=None, marker=None, limit=10)  # type: ignore[attr-defined]
    assert [info.metadata for info in listed.items] == [{"m": "1"}] * 3


def _replace_before_the_record_is_read(
    monkeypatch: pytest.MonkeyPatch, name: str, replace: Callable[[], None]
) -> None:
    """Make the listing's ``lgetxattr`` of ``name`` first ``replace`` the
    file: as if that happened between the stat and the record read."""
    real = os.getxattr
    done: list[bool] = []

    def getxattr(path: Any, attribute: str, *, follow_symlinks: bool = True) -> bytes:
        if str(path).endswith("/" + name) and not done:
            done.append(True)
            replace()
        return real(path, attribute, follow_symlinks=follow_symlinks)

    monkeypatch.setattr(os, "getxattr", getxattr)


def test_a_file_replaced_between_stat_and_record_is_listed_as_one_version(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = provider.storage.buckets.create("raced")
    for key in ["d/a", "d/b", "d/c"]:
        bucket.objects.create(key).upload(b"old", metadata={"v": "old"})
    _replace_before_the_record_is_read(
        monkeypatch,
        "b",
        lambda: bucket.objects.create("d/b").upload(b"newer!", metadata={"v": "new"}),
    )
    driver: Any = provider.driver
    listed = driver.list_objects("raced", prefix=None, marker=None, limit=10).items
    monkeypatch.undo()
    assert [info.key for info in listed] == ["d/a", "d/b", "d/c"]
    assert listed[1] == driver.head_object("raced", "d/b")
    assert (listed[1].size, listed[1].metadata) == (6, {"v": "new"})
    assert [info.metadata for info in listed[::2]] == [{"v": "old"}] * 2


def test_a_file_replaced_by_hand_between_stat_and_record_is_listed_without_one(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = provider.storage.buckets.create("by-hand")
    for key in ["d/a", "d/b"]:
        bucket.objects.create(key).upload(b"old", metadata={"v": "old"})
    by_hand = root.parent / "by-hand"
    by_hand.write_bytes(b"put there by hand")
    old = os.stat(root / "by-hand" / "d" / "b")
    _replace_before_the_record_is_read(
        monkeypatch, "b", lambda: os.replace(by_hand, root / "by-hand" / "d" / "b")
    )
    driver: Any = provider.driver
    listed = driver.list_objects("by-hand", prefix=None, marker=None, limit=10).items
    monkeypatch.undo()
    # the version the stat saw, with no record (none was read for it): not
    # the old version's record, nor a record given the new file's stat
    assert (listed[1].size, listed[1].etag, listed[1].metadata) == (3, None, {})
    assert listed[1].revision == f"{old.st_ino}-{old.st_size}-{old.st_mtime_ns}"
    assert listed[0].metadata == {"v": "old"}
