"""What only the LOCAL provider has to prove: keys stay inside the root,
writes are atomic on disk, sidecars stay hidden, and files put there by hand
are objects too."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path

import pytest

from bucketbridge import (
    BucketBridgeException,
    BucketNotEmptyException,
    CloudProvider,
    CloudProviderFactory,
    InvalidNameException,
    InvalidValueException,
    NotFoundException,
    ProviderList,
    UploadPart,
)
from bucketbridge.drivers.records import Body


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def provider(root: Path) -> CloudProvider:
    return CloudProviderFactory().create_provider(ProviderList.LOCAL, {"local_root": str(root)})


def _files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}


ESCAPING_KEYS = [
    "../../etc/passwd",
    "../outside.txt",
    "/etc/passwd",
    "a/../../b",
    "a/./b",
    "a//b",
    "dir/",
    ".bucketbridge/meta",
    "..",
]


@pytest.mark.parametrize("key", ESCAPING_KEYS)
def test_keys_that_would_leave_the_bucket_are_refused(
    provider: CloudProvider, root: Path, tmp_path: Path, key: str
) -> None:
    bucket = provider.storage.buckets.create("safe")
    before = _files_under(tmp_path)
    with pytest.raises(InvalidNameException) as raised:
        bucket.objects.create(key).upload(b"pwned")
    assert repr(key) in str(raised.value)
    with pytest.raises(InvalidNameException):
        bucket.objects.get(key)
    with pytest.raises(InvalidNameException):
        bucket.objects.create(key).generate_url(60, writable=True)
    assert _files_under(tmp_path) == before


@pytest.mark.parametrize("name", ["../root", ".bucketbridge", "a/b", "."])
def test_bucket_names_cannot_reach_outside_the_root(provider: CloudProvider, name: str) -> None:
    with pytest.raises(InvalidNameException):
        provider.storage.buckets.get(name)


def test_state_and_sidecars_never_show(provider: CloudProvider, root: Path) -> None:
    bucket = provider.storage.buckets.create("visible")
    bucket.objects.create("a.txt").upload(b"a", metadata={"k": "v"})
    assert [b.name for b in provider.storage.buckets] == ["visible"]
    assert [o.name for o in bucket.objects] == ["a.txt"]
    assert _files_under(root / "visible") == {"a.txt"}
    assert (root / "visible" / "a.txt").read_bytes() == b"a"


def test_a_key_cannot_be_both_an_object_and_a_folder(provider: CloudProvider) -> None:
    bucket = provider.storage.buckets.create("paths")
    bucket.objects.create("a").upload(b"file")
    with pytest.raises(InvalidNameException, match="stores keys as paths"):
        bucket.objects.create("a/b").upload(b"under a file")
    bucket.objects.create("d/e").upload(b"x")
    with pytest.raises(InvalidNameException, match="stores keys as paths"):
        bucket.objects.create("d").upload(b"over a folder")
    assert sorted(o.name for o in bucket.objects) == ["a", "d/e"]


def test_files_placed_by_hand_are_objects(provider: CloudProvider, root: Path) -> None:
    bucket = provider.storage.buckets.create("manual")
    (root / "manual" / "sub").mkdir()
    (root / "manual" / "sub" / "photo.png").write_bytes(b"\x89PNG...")
    obj = bucket.objects.get("sub/photo.png")
    assert obj is not None
    assert obj.content_type == "image/png" and obj.metadata == {}
    assert obj.etag == hashlib.md5(b"\x89PNG...").hexdigest()


def test_a_file_edited_by_hand_drops_its_stale_sidecar(provider: CloudProvider, root: Path) -> None:
    bucket = provider.storage.buckets.create("edited")
    bucket.objects.create("doc.bin").upload(b"v1", content_type="text/x-v1", metadata={"v": "1"})
    path = root / "edited" / "doc.bin"
    path.unlink()
    path.write_bytes(b"version two")
    obj = bucket.objects.get("doc.bin")
    assert obj is not None
    assert obj.metadata == {} and obj.content_type == "application/octet-stream"
    assert obj.etag == hashlib.md5(b"version two").hexdigest()


def test_etag_of_a_copied_file_is_computed_on_demand(
    provider: CloudProvider, tmp_path: Path
) -> None:
    data = os.urandom(3 * 1024 * 1024)
    source = tmp_path / "src.bin"
    source.write_bytes(data)
    bucket = provider.storage.buckets.create("etags")
    bucket.objects.create("copy.bin").upload_from_file(source)
    listed = bucket.objects.list()[0]
    assert listed.etag == hashlib.md5(data).hexdigest()
    again = bucket.objects.get("copy.bin")
    assert again is not None and again.etag == hashlib.md5(data).hexdigest()


class _Exploding(io.RawIOBase):
    def __init__(self, good: int) -> None:
        self._left = good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            raise OSError("disk on fire")
        n = min(len(buffer), self._left)
        buffer[:n] = b"x" * n
        self._left -= n
        return n


def test_a_write_that_fails_midway_leaves_no_trace(provider: CloudProvider, root: Path) -> None:
    bucket = provider.storage.buckets.create("atomic")
    bucket.objects.create("kept.txt").upload(b"old")
    before = _files_under(root)
    with pytest.raises(BucketBridgeException):
        bucket.objects.create("kept.txt").upload(io.BufferedReader(_Exploding(100_000)))
    assert _files_under(root) == before
    kept = bucket.objects.get("kept.txt")
    assert kept is not None and kept.download_range(0, 10) == b"old"


def test_readers_see_whole_objects_while_writers_replace_them(provider: CloudProvider) -> None:
    bucket = provider.storage.buckets.create("racing")
    versions = [bytes([i]) * (256 * 1024) for i in range(1, 6)]
    obj = bucket.objects.create("hot.bin").upload(versions[0])
    seen: set[bytes] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                data = b"".join(obj.iter_content())
                assert data in versions, "a reader saw a torn object"
                seen.add(data[:1])
        except BaseException as error:
            errors.append(error)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    for _ in range(20):
        for version in versions:
            bucket.objects.create("hot.bin").upload(version)
    stop.set()
    for reader in readers:
        reader.join()
    assert not errors
    assert len(seen) >= 2


def test_two_providers_on_one_root_never_lose_metadata(root: Path) -> None:
    first = CloudProviderFactory().create_provider(ProviderList.LOCAL, {"local_root": str(root)})
    second = CloudProviderFactory().create_provider(ProviderList.LOCAL, {"local_root": str(root)})
    first.storage.buckets.create("shared")
    buckets = [p.storage.buckets.get("shared") for p in (first, second)]
    for _ in range(100):
        writers = [
            threading.Thread(
                target=lambda b=b, tag=tag: b.objects.create("k").upload(  # type: ignore[misc]
                    tag.encode() * 100, metadata={"writer": tag}
                )
            )
            for b, tag in zip(buckets, "ab", strict=True)
        ]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        final = buckets[0].objects.get("k")  # type: ignore[union-attr]
        assert final is not None
        content = final.download_range(0, 1)
        assert final.metadata == {"writer": content.decode()}


def test_readers_always_see_the_metadata_of_the_version_they_read(
    provider: CloudProvider,
) -> None:
    bucket = provider.storage.buckets.create("meta-race")
    bucket.objects.create("k").upload(b"0", metadata={"n": "0"})
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            bucket.objects.create("k").upload(str(n).encode(), metadata={"n": str(n)})

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(500):
            obj = bucket.objects.get("k")
            assert obj is not None and obj.metadata.get("n") is not None
            assert obj.content_type == "application/octet-stream"
    finally:
        stop.set()
        writer.join()


def test_deleting_a_bucket_never_loses_an_acknowledged_upload(
    provider: CloudProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = provider.storage.buckets.create("doomed")
    outcome: list[object] = []
    import bucketbridge.drivers.local.driver as local_module

    real_clear = local_module.remove_links_and_empty_dirs

    def clear_with_a_writer(dir_fd: int) -> None:
        def upload() -> None:
            try:
                outcome.append(bucket.objects.create("late.txt").upload(b"late"))
            except BucketBridgeException as error:
                outcome.append(error)

        writer = threading.Thread(target=upload)
        writer.start()
        writer.join(timeout=0.5)  # it waits for the bucket's lock, held by delete
        monkeypatch.setattr(local_module, "remove_links_and_empty_dirs", real_clear)
        outcome.append(writer)
        real_clear(dir_fd)

    monkeypatch.setattr(local_module, "remove_links_and_empty_dirs", clear_with_a_writer)
    try:
        bucket.delete()
        deleted = True
    except BucketNotEmptyException:
        deleted = False
    (writer,) = [item for item in outcome if isinstance(item, threading.Thread)]
    writer.join()
    outcome.remove(writer)
    assert len(outcome) == 1
    # A new key is published without the bucket's lock (one linkat): either
    # the upload lands first and the delete refuses the bucket it filled, or
    # the delete wins and the upload fails. Never an upload acknowledged and
    # then lost with its bucket.
    if deleted:
        assert isinstance(outcome[0], NotFoundException)
        assert provider.storage.buckets.get("doomed") is None
    else:
        assert not isinstance(outcome[0], BaseException)
        assert b"".join(bucket.objects.create("late.txt").iter_content()) == b"late"


def test_forged_upload_ids_and_part_etags_touch_nothing(
    provider: CloudProvider, tmp_path: Path
) -> None:
    bucket = provider.storage.buckets.create("forged")
    driver = provider.driver
    before = _files_under(tmp_path)
    for upload_id in ("../../x", "/etc", "..", "a" * 32):
        with pytest.raises(NotFoundException):
            driver.resume_multipart("forged", "k", upload_id).upload_part(1, Body.of_bytes(b"x"))
    upload = bucket.objects.create("k").create_multipart_upload()
    upload.upload_part(1, b"x")
    with pytest.raises(InvalidValueException, match="etag"):
        upload.complete([UploadPart(1, "../../../etc/passwd")])
    upload.abort()
    assert _files_under(tmp_path) == before


def test_abort_removes_the_parts(provider: CloudProvider, root: Path) -> None:
    bucket = provider.storage.buckets.create("parts")
    upload = bucket.objects.create("k").create_multipart_upload()
    upload.upload_part(1, os.urandom(1024))
    uploads = root / ".bucketbridge" / "uploads"
    assert len(list(uploads.iterdir())) == 1
    upload.abort()
    assert list(uploads.iterdir()) == []
