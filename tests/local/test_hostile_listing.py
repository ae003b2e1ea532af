"""A LOCAL listing's ``Listed`` records attacked between the listing and the
first read of a deferred field (a hostile review), beyond the replacement
and in-place edit tests/local/test_listed_fields.py covers: a record
rewritten on the same inode (the file's identity unchanged, so a record
read again would pass the identity check) and a file deleted still leave
every field the listed revision's; a record found by the listing's second
look (``_look_again``: the file replaced between its stat and its record)
pickles, copies and compares as the others do."""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import CloudProvider
from bucketbridge.drivers.local import inline, listing
from bucketbridge.drivers.records import ObjectInfo


def _fields(info: ObjectInfo) -> dict[str, Any]:
    return {field.name: getattr(info, field.name) for field in dataclasses.fields(ObjectInfo)}


def _listed(provider: CloudProvider, bucket: str) -> list[Any]:
    driver: Any = provider.driver
    return list(driver.list_objects(bucket, prefix=None, marker=None, limit=100).items)


def test_a_record_rewritten_in_place_or_a_file_deleted_leaves_the_listed_fields(
    provider: CloudProvider, root: Path
) -> None:
    bucket = provider.storage.buckets.create("later")
    for key in ("forged", "gone"):
        bucket.objects.create(key).upload(b"bytes", content_type="text/x-a", metadata={"m": "1"})
    driver: Any = provider.driver
    headed = {key: driver.head_object("later", key) for key in ("forged", "gone")}
    listed = _listed(provider, "later")
    forged = root / "later" / "forged"
    # the same version's identity, another record: as valid as the first
    stat = os.stat(forged)
    os.setxattr(
        forged,
        inline.NAME,
        inline.encode_fields("forged", stat, b"\x00" * 16, "text/x-b", {"m": "2"}, None),
    )
    assert driver.head_object("later", "forged").metadata == {"m": "2"}
    os.unlink(root / "later" / "gone")
    assert [_fields(info) for info in listed] == [_fields(headed[info.key]) for info in listed]


def test_a_record_found_by_the_second_look_pickles_copies_and_compares(
    provider: CloudProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = provider.storage.buckets.create("again")
    bucket.objects.create("k").upload(b"bytes", metadata={"m": "1"})
    real = os.lstat

    def stale(name: str, dir_fd: int | None = None) -> os.stat_result:
        # the stat of a version just replaced: its record names another one
        found = real(name, dir_fd=dir_fd)
        return os.stat_result((found.st_mode, found.st_ino + 1, *tuple(found)[2:]))

    monkeypatch.setattr(listing.os, "lstat", stale)
    (info,) = _listed(provider, "again")
    monkeypatch.undo()
    assert "_packed" in vars(info)  # the second look's record
    head = provider.driver.head_object("again", "k")  # type: ignore[attr-defined]
    for twin in (pickle.loads(pickle.dumps(info)), copy.deepcopy(info), copy.copy(info)):
        assert twin == head and head == twin and _fields(twin) == _fields(head)
    assert info == head and _fields(info) == _fields(head)
