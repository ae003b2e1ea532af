"""The LOCAL provider's short paths (drivers/local/beneath.py) keep its rules.

A new key is published with one ``linkat`` of an unnamed (``O_TMPFILE``)
file and no lock; reads take no lock and find files and sidecars with one
``openat2`` each. What each test below holds them to:

- readers racing overwrites, deletes and re-creations of one key only ever
  get one version whole, with that version's etag and metadata;
- create-only has exactly one winner per key under a race, and the key holds
  the winner's bytes and metadata;
- a key's directory removed (a delete's pruning) or its bucket deleted
  between the writer's open and its link: the slow path makes the directory
  again, or the upload fails; no sidecar is left either way;
- a bucket written without the short paths (the old way, or a system without
  openat2/O_TMPFILE) reads and overwrites the same with them, and the reverse,
  leaving one sidecar per object;
- a link in the sidecar tree is never followed, and a FIFO at a key is no
  object (nor does it hang a read);
- a crashed writer leaves nothing: an unnamed file has no name to leave.

Records live on the data files (inline.py) where the filesystem takes user
xattrs, as here; tests marked with the ``sidecars`` layout run where it does
not (and as buckets written before did), with a sidecar per object.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import (
    BucketBridgeException,
    CloudProvider,
    CloudProviderFactory,
    NotFoundException,
    PreconditionFailedException,
    ProviderList,
)
from bucketbridge.drivers.local import beneath, inline
from bucketbridge.drivers.local import driver as local_driver


def _make(root: Path) -> CloudProvider:
    return CloudProviderFactory().create_provider(ProviderList.LOCAL, {"local_root": str(root)})


@pytest.fixture(params=["inline"])
def layout(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where records go: ``inline`` (xattrs taken), ``sidecars`` (refused)."""
    if request.param == "sidecars":
        monkeypatch.setattr(inline, "probe", lambda dir_fd: False)
    return str(request.param)


BOTH_LAYOUTS = pytest.mark.parametrize("layout", ["inline", "sidecars"], indirect=True)


@pytest.fixture
def provider(root: Path, layout: str) -> Iterator[CloudProvider]:
    made = _make(root)
    assert made.driver._inline == (layout == "inline")  # type: ignore[attr-defined]
    assert made.driver._fast, "this system has openat2 and O_TMPFILE: the short paths must be on"  # type: ignore[attr-defined]
    yield made
    made.close()


@pytest.fixture
def slow_provider(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudProvider]:
    """A provider on the same root as where openat2 is refused (ENOSYS) and
    records go to sidecars: a bucket written the old way."""
    monkeypatch.setattr(beneath, "_syscall", None)
    monkeypatch.setattr(inline, "probe", lambda dir_fd: False)
    made = _make(root)
    monkeypatch.undo()
    assert not made.driver._fast and not made.driver._inline  # type: ignore[attr-defined]
    yield made
    made.close()


def _payload(n: int) -> bytes:
    return f"version {n};".encode() * (1 + n % 7)


def _sidecars(root: Path, bucket: str) -> list[Path]:
    return sorted((root / ".bucketbridge" / "meta" / bucket).glob("*/*.json"))


def _on_files(root: Path, bucket: str) -> list[Path]:
    """The bucket's files that carry a record of their own (inline.py)."""
    found = []
    for path in sorted((root / bucket).rglob("*")):
        if path.is_file() and not path.is_symlink():
            with contextlib.suppress(OSError):
                os.getxattr(path, inline.NAME)
                found.append(path)
    return found


def _records(root: Path, bucket: str) -> list[Path]:
    """Every record the bucket holds, sidecar or on a file: one an object."""
    return _sidecars(root, bucket) + _on_files(root, bucket)


def _check_whole(data: bytes, etag: str | None, metadata: dict[str, str]) -> None:
    n = int(metadata["n"])
    assert data == _payload(n), "bytes of one version, metadata of another"
    assert etag == hashlib.md5(data, usedforsecurity=False).hexdigest()


@BOTH_LAYOUTS
def test_readers_racing_replacements_and_recreations_get_one_whole_version(
    provider: CloudProvider, root: Path, layout: str
) -> None:
    bucket = provider.storage.buckets.create("raced")
    bucket.objects.create("k").upload(_payload(0), metadata={"n": "0"})
    stop = threading.Event()
    errors: list[BaseException] = []
    reads = {"whole": 0, "missing": 0}

    def overwrite() -> None:
        for n in range(1, 120):
            bucket.objects.create("k").upload(_payload(n), metadata={"n": str(n)})

    def delete_and_recreate() -> None:
        # a re-created key is published by the lock-free linkat, and a freed
        # inode may come back at the same key
        for n in range(1000, 1060):
            with contextlib.suppress(NotFoundException):
                bucket.objects.create("k").delete()
            bucket.objects.create("k").upload(_payload(n), metadata={"n": str(n)})

    def read() -> None:
        try:
            while not stop.is_set():
                try:
                    obj = bucket.objects.create("k")
                    data = b"".join(obj.iter_content())
                except NotFoundException:
                    reads["missing"] += 1
                    continue
                _check_whole(data, obj.etag, obj.metadata)
                reads["whole"] += 1
        except BaseException as error:
            errors.append(error)

    readers = [threading.Thread(target=read) for _ in range(3)]
    writers = [threading.Thread(target=overwrite), threading.Thread(target=delete_and_recreate)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    assert not errors, errors[0]
    assert reads["whole"] > 50
    final = bucket.objects.get("k")
    assert final is not None
    _check_whole(final.download_range(0, final.size), final.etag, final.metadata)
    assert len(_records(root, "raced")) == 1
    assert len(_sidecars(root, "raced")) == (layout == "sidecars")


@BOTH_LAYOUTS
@pytest.mark.parametrize("key", ["new-dir/k", "k"])
def test_a_lock_free_publish_between_the_locked_look_and_its_rename(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    """The CI failure of the test above, forced: a locked publish looked and
    found the key free (a new directory to make, or a delete just before),
    then a lock-free ``linkat`` published another version there. Renaming
    over it would replace that version unseen and leave its sidecar for
    ever; the locked publish must replace it as a version it saw."""
    bucket = provider.storage.buckets.create("interleaved")
    real_version_at = local_driver._version_at
    slipped_in: list[str] = []

    def lock_free_publish_after_the_look(*args: Any) -> Any:
        seen = real_version_at(*args)
        if not slipped_in:
            slipped_in.append(key)
            writer = threading.Thread(
                target=lambda: bucket.objects.create(key).upload(_payload(2), metadata={"n": "2"})
            )
            writer.start()
            writer.join()
            # it took the lock-free path: the locked writer holds the lock
            assert b"".join(bucket.objects.create(key).iter_content()) == _payload(2)
        return seen

    if key == "k":  # the locked path with the key free: its directory is the bucket
        monkeypatch.setattr(beneath, "link_fd", _refuse_once(beneath.link_fd))
    monkeypatch.setattr(local_driver, "_version_at", lock_free_publish_after_the_look)
    bucket.objects.create(key).upload(_payload(1), metadata={"n": "1"})
    monkeypatch.undo()
    assert slipped_in == [key]
    obj = bucket.objects.get(key)
    assert obj is not None and obj.metadata == {"n": "1"}
    _check_whole(b"".join(obj.iter_content()), obj.etag, obj.metadata)
    assert len(_records(root, "interleaved")) == 1
    assert [o.metadata for o in bucket.objects.list()] == [{"n": "1"}]


@BOTH_LAYOUTS
def test_an_etag_computed_from_a_version_replaced_meanwhile_leaves_no_record(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``compute_etag`` keeps what it computed for the version it read: a
    sidecar written after that version was replaced would be left for ever."""
    bucket = provider.storage.buckets.create("etag-raced")
    source = tmp_path / "source.bin"
    source.write_bytes(_payload(1))
    bucket.objects.create("k").upload_from_file(source)  # etag computed on demand
    obj = bucket.objects.get("k")
    assert obj is not None
    real_md5 = local_driver._md5_etag

    def replaced_while_hashing(*args: Any) -> str:
        bucket.objects.create("k").upload(_payload(2), metadata={"n": "2"})
        return real_md5(*args)

    monkeypatch.setattr(local_driver, "_md5_etag", replaced_while_hashing)
    assert obj.etag == hashlib.md5(_payload(1), usedforsecurity=False).hexdigest()
    monkeypatch.undo()
    assert len(_records(root, "etag-raced")) == 1
    final = bucket.objects.get("k")
    assert final is not None
    _check_whole(b"".join(final.iter_content()), final.etag, final.metadata)


def _refuse_once(link: Any) -> Any:
    """``beneath.link_fd`` failing the first time (as when the key was
    taken at that moment), then linking."""
    calls: list[int] = []

    def link_fd(fd: int, dir_fd: int, name: str, **options: Any) -> None:
        if not calls:
            calls.append(fd)
            raise FileExistsError(17, "taken a moment ago", name)
        link(fd, dir_fd, name, **options)

    return link_fd


def test_create_only_has_one_winner_per_key_under_a_race(
    provider: CloudProvider, root: Path
) -> None:
    bucket = provider.storage.buckets.create("create-only")
    winners: dict[str, list[int]] = {f"d/k{i}": [] for i in range(10)}
    barrier = threading.Barrier(6)

    def race(writer: int) -> None:
        barrier.wait()
        for key in winners:
            try:
                bucket.objects.create(key).upload(
                    _payload(writer), metadata={"n": str(writer)}, overwrite=False
                )
            except PreconditionFailedException:
                continue
            winners[key].append(writer)

    threads = [threading.Thread(target=race, args=(writer,)) for writer in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for key, won in winners.items():
        assert len(won) == 1, f"{key}: winners {won}"
        obj = bucket.objects.get(key)
        assert obj is not None and obj.metadata == {"n": str(won[0])}
        _check_whole(obj.download_range(0, obj.size), obj.etag, obj.metadata)
    # the losers' sidecars went with their files
    assert len(_records(root, "create-only")) == len(winners)


@pytest.mark.parametrize("removed", ["directory", "bucket"])
def test_a_directory_removed_between_open_and_link(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch, removed: str
) -> None:
    bucket = provider.storage.buckets.create("pruned")
    bucket.objects.create("sub/old").upload(b"old")
    real_link = beneath.link_fd
    calls: list[str] = []

    def link_after_a_removal(fd: int, dir_fd: int, name: str, **options: Any) -> None:
        if name == "new" and not calls:
            calls.append(name)
            bucket.objects.create("sub/old").delete()  # prunes the empty sub/
            assert not (root / "pruned" / "sub").exists()
            if removed == "bucket":
                bucket.delete()
        real_link(fd, dir_fd, name, **options)

    monkeypatch.setattr(beneath, "link_fd", link_after_a_removal)
    if removed == "directory":
        bucket.objects.create("sub/new").upload(b"new", metadata={"n": "1"})
        obj = bucket.objects.get("sub/new")
        assert obj is not None and obj.metadata == {"n": "1"}
        assert b"".join(obj.iter_content()) == b"new"
        assert len(_records(root, "pruned")) == 1
    else:
        with pytest.raises(NotFoundException):
            bucket.objects.create("sub/new").upload(b"new", metadata={"n": "1"})
        assert not (root / "pruned").exists()
        assert _records(root, "pruned") == []
    assert calls == ["new"]
    assert os.listdir(root / ".bucketbridge" / "tmp") == []


def test_buckets_written_without_the_short_paths_read_and_overwrite_the_same(
    root: Path, slow_provider: CloudProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = slow_provider.storage.buckets.create("mixed")
    local_file = tmp_path / "file.bin"
    local_file.write_bytes(b"from a file")
    for n in range(4):
        slow.objects.create(f"a/{n}").upload(_payload(n), metadata={"n": str(n)})
    slow.objects.create("file").upload_from_file(local_file)  # etag computed on demand
    fast_provider = _make(root)
    try:
        fast = fast_provider.storage.buckets.get("mixed")
        assert fast is not None
        for n in range(4):
            obj = fast.objects.get(f"a/{n}")
            assert obj is not None
            _check_whole(b"".join(obj.iter_content()), obj.etag, obj.metadata)
        listed = {o.name: o for o in fast.objects.list(prefix="a/")}
        assert {k: v.metadata for k, v in listed.items()} == {
            f"a/{n}": {"n": str(n)} for n in range(4)
        }
        file_obj = fast.objects.get("file")
        assert file_obj is not None
        assert file_obj.etag == hashlib.md5(b"from a file", usedforsecurity=False).hexdigest()
        # overwritten by the short paths: the old version's sidecar goes
        for n in range(2):
            fast.objects.create(f"a/{n}").upload(_payload(n + 10), metadata={"n": str(n + 10)})
        fast.objects.create("b/new").upload(_payload(20), metadata={"n": "20"})
        # overwritten and deleted under a listing, records on the files now
        fast.objects.create("a/3").delete()
        listed = {o.name: o for o in fast.objects.list(prefix="a/")}
        assert {k: v.metadata for k, v in listed.items()} == {
            "a/0": {"n": "10"},
            "a/1": {"n": "11"},
            "a/2": {"n": "2"},
        }
        # and read back without openat2 (the slow paths find both layouts)
        with monkeypatch.context() as patched:
            patched.setattr(beneath, "_syscall", None)
            slow_again = _make(root)
        try:
            again = slow_again.storage.buckets.get("mixed")
            assert again is not None
            for key in ("a/0", "a/1", "a/2", "b/new"):
                obj = again.objects.get(key)
                assert obj is not None
                _check_whole(b"".join(obj.iter_content()), obj.etag, obj.metadata)
        finally:
            slow_again.close()
        # one record per object, none orphaned: the overwritten and deleted
        # versions' sidecars went; the new versions carry theirs
        assert [p.parent.name + "/" + p.name for p in _on_files(root, "mixed")] == [
            "a/0",
            "a/1",
            "b/new",
        ]
        assert len(_sidecars(root, "mixed")) == 2  # a/2 and file, untouched
    finally:
        fast_provider.close()


@pytest.mark.parametrize("layout", ["sidecars"], indirect=True)
def test_a_link_in_the_sidecar_tree_is_never_followed(provider: CloudProvider, root: Path) -> None:
    bucket = provider.storage.buckets.create("meta-links")
    bucket.objects.create("seed").upload(b"makes the bucket's meta dir")
    outside = root.parent / "outside"
    outside.mkdir()
    digest = hashlib.sha256(b"k").hexdigest()
    fanout = root / ".bucketbridge" / "meta" / "meta-links" / digest[:2]
    if fanout.exists():
        fanout.rename(root.parent / "moved")
    fanout.symlink_to(outside, target_is_directory=True)
    # refusing the write is fine; writing through the link is not
    with contextlib.suppress(BucketBridgeException):
        bucket.objects.create("k").upload(b"v", metadata={"n": "1"})
    assert list(outside.iterdir()) == []
    obj = bucket.objects.get("k")
    if obj is not None:  # published: its sidecar was not put through the link
        assert b"".join(obj.iter_content()) == b"v"
    # a sidecar planted outside, reached only through the link, is not read
    fanout.unlink()
    fanout.mkdir()
    bucket.objects.create("k").upload(b"w", metadata={"n": "2"})
    (sidecar,) = fanout.glob(f"{digest}.*.json")
    (outside / sidecar.name).write_text(sidecar.read_text().replace('"2"', '"forged"'))
    sidecar.unlink()
    fanout.rmdir()
    fanout.symlink_to(outside, target_is_directory=True)
    obj = bucket.objects.get("k")
    assert obj is not None and obj.metadata == {}
    assert b"".join(obj.iter_content()) == b"w"


def test_a_fifo_at_a_key_is_no_object_and_hangs_no_read(
    provider: CloudProvider, root: Path
) -> None:
    bucket = provider.storage.buckets.create("fifo")
    os.mkfifo(root / "fifo" / "pipe")
    outcome: list[Any] = []

    def read() -> None:
        try:
            outcome.append(b"".join(bucket.objects.create("pipe").iter_content()))
        except NotFoundException as error:
            outcome.append(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    assert not reader.is_alive(), "a read of a FIFO hung"
    assert isinstance(outcome[0], NotFoundException)
    assert bucket.objects.get("pipe") is None


def test_an_unnamed_file_leaves_nothing_when_the_write_fails(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = provider.storage.buckets.create("failing")

    def refuse(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(local_driver, "write_all", refuse)
    with pytest.raises(BucketBridgeException):
        bucket.objects.create("k").upload(b"never", metadata={"n": "1"})
    assert os.listdir(root / ".bucketbridge" / "tmp") == []
    assert _records(root, "failing") == []
    assert bucket.objects.get("k") is None
