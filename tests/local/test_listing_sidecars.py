"""A LOCAL listing reads each version's sidecar through its own, cheaper
reader (drivers/local/state.py ``SidecarReader``) and LOCAL downloads copy
in the kernel across filesystems: what both must keep.

- every listing entry is what a HEAD of its key says: etag, size, time,
  content type, metadata, revision; also after an overwrite, and when the
  sidecar is missing, corrupt, someone else's, a link or a FIFO (each is
  "no sidecar", as before: the content type guessed, no metadata); whether
  the page's sidecars are read in the listing's thread or by its reader
  threads (drivers/local/listing.py; made to start here on a few keys);
- a download into another filesystem is byte for byte, and where the kernel
  refuses to copy it moves at most 1 MiB through the process at a time.

Objects are written with sidecars here (``sidecar_layout``): the layout of
buckets written before records moved onto the files (inline.py), and of
filesystems that refuse user xattrs. tests/local/test_inline_records.py
holds the inline layout to the same.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import CloudProvider, CloudProviderFactory, ProviderList
from bucketbridge.drivers.local import driver as local_driver
from bucketbridge.drivers.local import inline, listing, state


@pytest.fixture(autouse=True)
def sidecar_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Providers made here write sidecars, as where xattrs are refused."""
    monkeypatch.setattr(inline, "probe", lambda dir_fd: False)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture(params=["in-turn", "readers"])
def readers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> set[str] | None:
    """Listings read sidecars in turn (None), or however short the page on
    reader threads, two keys a chunk: then the names of the threads that
    read a sidecar."""
    if request.param == "in-turn":
        return None
    monkeypatch.setattr(listing, "IN_TURN_BELOW", 1)
    monkeypatch.setattr(listing, "CHUNK", 2)
    names: set[str] = set()
    real_read = state.SidecarReader.read

    def read(self: state.SidecarReader, key: str, version: str) -> dict[str, Any]:
        names.add(threading.current_thread().name)
        return real_read(self, key, version)

    monkeypatch.setattr(state.SidecarReader, "read", read)
    return names


@pytest.fixture
def provider(root: Path, readers: set[str] | None) -> CloudProvider:
    return CloudProviderFactory().create_provider(ProviderList.LOCAL, {"local_root": str(root)})


def _read_on_readers(readers: set[str] | None) -> None:
    if readers is not None:  # the listing did use its reader threads
        assert any(name.startswith("bucketbridge-sidecars") for name in readers), readers


def _listed_and_headed(provider: CloudProvider, bucket: str) -> list[tuple[Any, Any]]:
    """(listing entry, HEAD) for every key, as the driver returns them."""
    driver: Any = provider.driver
    page = driver.list_objects(bucket, prefix=None, marker=None, limit=1000)
    assert page.next_marker is None
    return [(info, driver.head_object(bucket, info.key)) for info in page.items]


def _sidecar(root: Path, bucket: str, key: str) -> Path:
    digest = hashlib.sha256(key.encode()).hexdigest()
    (found,) = (root / ".bucketbridge" / "meta" / bucket / digest[:2]).glob(f"{digest}.*.json")
    return found


def test_listing_entries_are_what_head_says_after_overwrites(
    provider: CloudProvider, readers: set[str] | None
) -> None:
    bucket = provider.storage.buckets.create("listed")
    keys = [f"d{i % 3}/k{i:03d}.txt" for i in range(40)]  # many fan-out directories
    for i, key in enumerate(keys):
        bucket.objects.create(key).upload(
            b"old" * i, content_type="text/x-old", metadata={"v": "1"}
        )
    for i, key in enumerate(keys[::2]):
        bucket.objects.create(key).upload(
            b"new" * (i + 1), content_type="text/x-new", metadata={"v": "2", "i": str(i)}
        )
    pairs = _listed_and_headed(provider, "listed")
    assert [listed.key for listed, _ in pairs] == sorted(keys)
    _read_on_readers(readers)
    for listed, headed in pairs:
        assert listed == headed  # every field, the revision included
    by_key = {listed.key: listed for listed, _ in pairs}
    for i, key in enumerate(keys[::2]):
        entry = by_key[key]
        assert entry.etag == hashlib.md5(b"new" * (i + 1)).hexdigest()
        assert entry.content_type == "text/x-new" and entry.metadata == {"v": "2", "i": str(i)}
    # and through the public API, each object's etag equals a fresh look-up's
    for obj in bucket.objects:
        fresh = bucket.objects.get(obj.name)
        assert fresh is not None and (obj.etag, obj.metadata) == (fresh.etag, fresh.metadata)
    # a delimited listing's objects are the same records
    for directory in ("d0/", "d1/", "d2/"):
        page = provider.driver.list_directory("listed", prefix=directory, marker=None, limit=1000)
        assert page.next_marker is None and page.directories == []
        assert page.objects == [info for info in by_key.values() if info.key.startswith(directory)]


def _spoil_missing(path: Path, root: Path) -> None:
    path.unlink()


def _spoil_garbage(path: Path, root: Path) -> None:
    path.write_bytes(b"\xff\xfe not json \x00")


def _spoil_not_an_object(path: Path, root: Path) -> None:
    path.write_text('["a", "list"]')


def _spoil_other_key(path: Path, root: Path) -> None:
    path.write_text('{"key": "someone-else", "etag": "0", "metadata": {"x": "y"}}')


def _spoil_link(path: Path, root: Path) -> None:
    # a link to a well-formed sidecar of this very key: still never followed
    elsewhere = root.parent / "planted.json"
    elsewhere.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(elsewhere)


def _spoil_fifo(path: Path, root: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _spoil_fanout_link(path: Path, root: Path) -> None:
    directory = path.parent
    moved = root.parent / "moved-fanout"
    directory.rename(moved)
    directory.symlink_to(moved, target_is_directory=True)


SPOILERS = [
    _spoil_missing,
    _spoil_garbage,
    _spoil_not_an_object,
    _spoil_other_key,
    _spoil_link,
    _spoil_fifo,
    _spoil_fanout_link,
]


@pytest.mark.parametrize("spoil", SPOILERS, ids=lambda f: f.__name__[7:])
def test_a_missing_or_spoiled_sidecar_lists_as_no_sidecar(
    provider: CloudProvider, root: Path, spoil: Any, readers: set[str] | None
) -> None:
    bucket = provider.storage.buckets.create("spoiled")
    bucket.objects.create("a/photo.png").upload(
        b"png", content_type="text/x-kept", metadata={"m": "1"}
    )
    bucket.objects.create("b.txt").upload(b"kept", content_type="text/x-kept", metadata={"m": "2"})
    spoil(_sidecar(root, "spoiled", "a/photo.png"), root)

    result: list[list[tuple[Any, Any]]] = []
    # a FIFO must not hang the listing: run it where a hang fails the test
    lister = threading.Thread(
        target=lambda: result.append(_listed_and_headed(provider, "spoiled")), daemon=True
    )
    lister.start()
    lister.join(30)
    assert result, "the listing hung on a spoiled sidecar"
    _read_on_readers(readers)
    (spoiled, spoiled_head), (kept, kept_head) = result[0]
    assert spoiled == spoiled_head
    assert (spoiled.etag, spoiled.content_type, spoiled.metadata) == (None, "image/png", {})
    assert kept == kept_head
    assert (kept.etag, kept.metadata) == (hashlib.md5(b"kept").hexdigest(), {"m": "2"})
    if spoil is _spoil_fanout_link:
        return  # keeping a computed etag is refused there (a link), as it always was
    # the public API then computes the spoiled object's etag from its bytes
    obj = bucket.objects.get("a/photo.png")
    assert obj is not None and obj.etag == hashlib.md5(b"png").hexdigest()


def test_a_download_into_another_filesystem_is_whole(provider: CloudProvider, root: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(root).st_dev:
        pytest.skip("no /dev/shm on another filesystem than the root")
    data = os.urandom(3 * 1024 * 1024 + 5)
    bucket = provider.storage.buckets.create("crossfs")
    bucket.objects.create("big.bin").upload(data)
    obj = bucket.objects.get("big.bin")
    assert obj is not None
    target = shm / f"bucketbridge-test-{os.getpid()}.bin"
    try:
        obj.download_to_file(target)
        assert target.read_bytes() == data
    finally:
        target.unlink(missing_ok=True)


def test_a_copy_the_kernel_refuses_moves_at_most_1_mib_at_a_time(
    provider: CloudProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    bucket = provider.storage.buckets.create("refused")
    bucket.objects.create("big.bin").upload(data)
    obj = bucket.objects.get("big.bin")
    assert obj is not None

    def refused(*args: Any) -> int:
        raise OSError(errno.EXDEV, "refused here")

    reads: list[int] = []
    real_readv = os.readv

    def readv(fd: int, buffers: list[bytearray]) -> int:
        reads.append(sum(len(b) for b in buffers))
        return real_readv(fd, buffers)

    monkeypatch.setattr(local_driver.os, "copy_file_range", refused)
    monkeypatch.setattr(local_driver.os, "sendfile", refused)
    monkeypatch.setattr(local_driver.os, "readv", readv)
    obj.download_to_file(tmp_path / "copy.bin")
    assert (tmp_path / "copy.bin").read_bytes() == data
    assert reads and max(reads) <= 1024 * 1024
