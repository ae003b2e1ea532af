"""LOCAL records on the data files (drivers/local/inline.py): what holds.

- a listing's entries (read with one ``lgetxattr`` a key beside its stat)
  are what HEAD says, through overwrites, for content types guessed and
  given, metadata and none, in flat and delimited listings;
- a record not written for the version it sits on -- a file edited in place
  by hand, garbage, one of the wrong shape, a record copied onto another
  file -- is no record: the
  content type is guessed, the etag computed from the bytes, and kept;
- a record the filesystem refuses (too large) goes to a sidecar, which an
  overwrite then removes;
- an overwrite of a version with its record on its file takes no lock; one
  of a version with a sidecar takes the locked path, which removes it;
- a link planted at a key, pointing at a file that carries a record, is no
  object: its target's record is never read.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import msgspec
import pytest

from bucketbridge import CloudProvider
from bucketbridge.drivers.local import driver as local_driver
from bucketbridge.drivers.local import inline


def _sidecars(root: Path, bucket: str) -> list[Path]:
    return sorted((root / ".bucketbridge" / "meta" / bucket).glob("*/*.json"))


def _listed_and_headed(provider: CloudProvider, bucket: str) -> list[tuple[Any, Any]]:
    driver: Any = provider.driver
    page = driver.list_objects(bucket, prefix=None, marker=None, limit=1000)
    assert page.next_marker is None
    return [(info, driver.head_object(bucket, info.key)) for info in page.items]


def test_listing_entries_are_what_head_says(provider: CloudProvider, root: Path) -> None:
    bucket = provider.storage.buckets.create("listed")
    keys = [f"d{i % 3}/k{i:03d}.txt" for i in range(30)]
    for i, key in enumerate(keys):
        bucket.objects.create(key).upload(b"old" * i)  # content type guessed: text/plain
    for i, key in enumerate(keys[::2]):
        bucket.objects.create(key).upload(
            b"new" * (i + 1), content_type="text/x-new", metadata={"v": "2", "i": str(i)}
        )
    pairs = _listed_and_headed(provider, "listed")
    assert [listed.key for listed, _ in pairs] == sorted(keys)
    for listed, headed in pairs:
        assert listed == headed  # every field, the revision included
    by_key = {listed.key: listed for listed, _ in pairs}
    for i, key in enumerate(keys):
        entry = by_key[key]
        if i % 2 == 0:
            data, content_type, metadata = b"new" * (i // 2 + 1), "text/x-new", {"v": "2"}
            metadata["i"] = str(i // 2)
        else:
            data, content_type, metadata = b"old" * i, "text/plain", {}
        assert entry.etag == hashlib.md5(data).hexdigest()
        assert (entry.content_type, entry.metadata, entry.size) == (
            content_type,
            metadata,
            len(data),
        )
    for directory in ("d0/", "d1/", "d2/"):
        page = provider.driver.list_directory("listed", prefix=directory, marker=None, limit=1000)
        assert page.objects == [info for info in by_key.values() if info.key.startswith(directory)]
    assert _sidecars(root, "listed") == []


def _edited_in_place(path: Path) -> None:
    with open(path, "r+b") as handle:  # same inode, same attribute: another version
        handle.write(b"edited by hand, longer")


def _garbage(path: Path) -> None:
    os.setxattr(path, inline.NAME, b"\xc1 not msgpack")


def _misshapen(path: Path) -> None:
    """Well-formed msgpack, written for this very version, of the wrong
    shape (the metadata no map): the typed decoder refuses it whole."""
    stat = path.stat()
    identity = [stat.st_ino, stat.st_size, stat.st_mtime_ns]
    os.setxattr(path, inline.NAME, msgspec.msgpack.encode({"v": identity, "e": 5, "m": [1]}))


def _copied_record(path: Path) -> None:
    other = path.with_name("other")
    other.write_bytes(path.read_bytes())
    os.setxattr(other, inline.NAME, os.getxattr(path, inline.NAME))
    path.unlink()
    other.rename(path)


@pytest.mark.parametrize("spoil", [_edited_in_place, _garbage, _misshapen, _copied_record])
def test_a_record_of_another_version_is_no_record(
    provider: CloudProvider, root: Path, spoil: Any
) -> None:
    bucket = provider.storage.buckets.create("spoiled")
    photo = bucket.objects.create("photo.png")
    photo.upload(b"png", content_type="text/x-set", metadata={"m": "1"})
    path = root / "spoiled" / "photo.png"
    spoil(path)
    ((listed, headed),) = _listed_and_headed(provider, "spoiled")
    assert listed == headed
    assert (listed.etag, listed.content_type, listed.metadata) == (None, "image/png", {})
    obj = bucket.objects.get("photo.png")
    assert obj is not None and obj.etag == hashlib.md5(path.read_bytes()).hexdigest()
    # the computed etag was kept on the file, for this version
    assert provider.driver.head_object("spoiled", "photo.png").etag == obj.etag  # type: ignore[attr-defined]
    assert _sidecars(root, "spoiled") == []


def test_a_refused_record_goes_to_a_sidecar_which_an_overwrite_removes(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = provider.storage.buckets.create("refused")
    with monkeypatch.context() as patched:
        patched.setattr(inline, "store", lambda fd, data, **options: False)  # as ENOSPC
        bucket.objects.create("k").upload(b"big", metadata={"m": "x" * 100})
    assert len(_sidecars(root, "refused")) == 1
    obj = bucket.objects.get("k")
    assert obj is not None and obj.metadata == {"m": "x" * 100}
    assert [o.metadata for o in bucket.objects.list()] == [{"m": "x" * 100}]
    bucket.objects.create("k").upload(b"small", metadata={"m": "y"})
    assert _sidecars(root, "refused") == []
    assert [o.metadata for o in bucket.objects.list()] == [{"m": "y"}]


def test_an_overwrite_takes_the_lock_only_to_remove_a_sidecar(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = provider.storage.buckets.create("unlocked")
    with monkeypatch.context() as patched:
        patched.setattr(inline, "store", lambda fd, data, **options: False)
        bucket.objects.create("with-sidecar").upload(b"v1", metadata={"n": "1"})
    bucket.objects.create("on-file").upload(b"v1", metadata={"n": "1"})
    locked: list[str] = []
    real = local_driver.LocalDriver._publish_locked

    def publish_locked(self: Any, bucket_name: str, key: str, *args: Any) -> None:
        locked.append(key)
        real(self, bucket_name, key, *args)

    monkeypatch.setattr(local_driver.LocalDriver, "_publish_locked", publish_locked)
    for key in ("on-file", "with-sidecar"):
        bucket.objects.create(key).upload(b"v2", metadata={"n": "2"})
    assert locked == ["with-sidecar"]
    assert _sidecars(root, "unlocked") == []
    for key in ("on-file", "with-sidecar"):
        obj = bucket.objects.get(key)
        assert obj is not None and obj.metadata == {"n": "2"}
        assert b"".join(obj.iter_content()) == b"v2"
        assert obj.etag == hashlib.md5(b"v2").hexdigest()
    assert os.listdir(root / ".bucketbridge" / "tmp") == []


def test_a_link_at_a_key_to_a_file_with_a_record_is_no_object(
    provider: CloudProvider, root: Path
) -> None:
    bucket = provider.storage.buckets.create("linked")
    bucket.objects.create("real").upload(b"secret", metadata={"m": "1"})
    outside = root.parent / "outside"
    outside.write_bytes(b"secret")
    os.setxattr(outside, inline.NAME, os.getxattr(root / "linked" / "real", inline.NAME))
    (root / "linked" / "planted").symlink_to(outside)
    assert [o.name for o in bucket.objects.list()] == ["real"]
    assert bucket.objects.get("planted") is None
