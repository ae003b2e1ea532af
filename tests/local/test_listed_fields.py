"""The LOCAL listing's records (drivers/local/listing.py ``Listed``), whose
``last_modified``, ``etag``, ``content_type``, ``metadata`` and ``revision``
are made when first read: what holds.

- each field is what HEAD says of the same version, of the same type, and
  the record equals HEAD's (from either side of ``==``), pickles, and
  ``dataclasses.replace`` makes an equal eager one;
- a field read twice is the same object;
- a file replaced (new bytes, type, metadata, time) or edited in place after
  the listing, before any field was read, leaves the listed record's fields
  those of the version listed.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from pathlib import Path
from typing import Any

from bucketbridge import CloudProvider
from bucketbridge.drivers.local.listing import Listed
from bucketbridge.drivers.records import ObjectInfo

LAZY = ("last_modified", "etag", "content_type", "metadata", "revision")


def _listed(provider: CloudProvider, bucket: str) -> list[Any]:
    driver: Any = provider.driver
    page = driver.list_objects(bucket, prefix=None, marker=None, limit=100)
    assert page.next_marker is None
    return list(page.items)


def _fields(info: ObjectInfo) -> dict[str, Any]:
    return {field.name: getattr(info, field.name) for field in dataclasses.fields(ObjectInfo)}


def _stored(provider: CloudProvider, root: Path, bucket_name: str) -> dict[str, ObjectInfo]:
    """Objects of every kind of record: a guessed content type, one given,
    metadata, an etag computed later (a file upload), a multipart etag."""
    bucket = provider.storage.buckets.create(bucket_name)
    bucket.objects.create("d/guessed.txt").upload(b"guessed")
    bucket.objects.create("d/given.bin").upload(
        b"given", content_type="text/x-given", metadata={"a": "1", "b": "two"}
    )
    bucket.objects.create("d/no-suffix").upload(b"")
    source = root.parent / "source.json"
    source.write_bytes(b"{}" * 100)
    bucket.objects.create("d/from-file.json").upload_from_file(source)
    upload = bucket.objects.create("d/parts.csv").create_multipart_upload(metadata={"p": "q"})
    upload.complete([upload.upload_part(1, b"x" * 10)])
    driver: Any = provider.driver
    return {
        info.key: driver.head_object(bucket_name, info.key)
        for info in driver.list_objects(bucket_name, prefix=None, marker=None, limit=100).items
    }


def test_each_field_is_what_head_says(provider: CloudProvider, root: Path) -> None:
    headed = _stored(provider, root, "fields")
    listed = _listed(provider, "fields")
    assert [info.key for info in listed] == sorted(headed)
    assert {info.key for info in listed} >= {"d/from-file.json", "d/parts.csv"}
    for info in listed:
        assert type(info) is Listed
        head = headed[info.key]
        assert info == head and head == info and info != ObjectInfo("x", 0, head.last_modified)
        fresh = _listed(provider, "fields")[listed.index(info)]
        made = _fields(fresh)  # every field made lazily, one at a time
        assert made == _fields(head)
        assert {name: type(value) for name, value in made.items()} == {
            name: type(value) for name, value in _fields(head).items()
        }
        assert made["last_modified"].utcoffset() is not None
        assert repr(head).split("(", 1)[1] == repr(info).split("(", 1)[1]
    etags = {info.key: info.etag for info in listed}
    assert etags["d/from-file.json"] is None  # computed on demand (BucketObject.etag)
    assert etags["d/parts.csv"] is not None and etags["d/parts.csv"].endswith("-1")


def test_a_field_read_twice_is_one_object(provider: CloudProvider, root: Path) -> None:
    _stored(provider, root, "twice")
    for info in _listed(provider, "twice"):
        for name in LAZY:
            assert getattr(info, name) is getattr(info, name)


def test_listed_records_pickle_and_replace_as_records_do(
    provider: CloudProvider, root: Path
) -> None:
    headed = _stored(provider, root, "copies")
    unread, read = _listed(provider, "copies"), _listed(provider, "copies")
    for info in read:
        _fields(info)
    for info in unread + read:
        assert pickle.loads(pickle.dumps(info)) == headed[info.key]
        replaced = dataclasses.replace(info, etag="f" * 32)
        assert _fields(replaced) == {**_fields(headed[info.key]), "etag": "f" * 32}
    assert all(_fields(info) == _fields(headed[info.key]) for info in unread)


def test_a_file_replaced_after_listing_leaves_the_listed_fields(
    provider: CloudProvider, root: Path
) -> None:
    headed = _stored(provider, root, "later")
    listed = _listed(provider, "later")  # no field but key and size read
    bucket = provider.storage.buckets.get("later")
    assert bucket is not None
    for info in listed:
        if info.key == "d/guessed.txt":  # edited in place by hand: same inode, new time
            path = root / "later" / info.key
            path.write_bytes(b"edited by hand")
            os.utime(path, ns=(1, 1_000_000_000))
        else:
            bucket.objects.create(info.key).upload(
                b"newer bytes", content_type="text/x-newer", metadata={"new": "yes"}
            )
    for info in listed:
        assert _fields(info) == _fields(headed[info.key])
        assert info != provider.driver.head_object("later", info.key)  # type: ignore[attr-defined]
