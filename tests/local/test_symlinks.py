"""Symbolic links inside the LOCAL root never lead outside it.

Someone who can write into the root (another user, a script, an attacker)
may plant a link as a bucket directory, as a directory on a key's path or as
the key itself. Whatever the link points at, nothing outside the root may be
read, written, listed or deleted through it: a link is treated as absent,
and a write that would go through one is refused (see the docstring of
``bucketbridge.drivers.local``). Outside the root sits a sentinel tree whose
content must never come back and which must stay exactly as it was.
"""

from __future__ import annotations

import ctypes
import errno
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bucketbridge import (
    Bucket,
    BucketObject,
    CloudProvider,
    CloudProviderFactory,
    InvalidConfigurationException,
    InvalidNameException,
    NotFoundException,
    ProviderList,
    UploadPart,
)
from bucketbridge.drivers.records import ReadOptions

SENTINEL = b"outside the root: must never be served"
PAYLOAD = b"written through bucketbridge"

# Where the planted link sits, and the key that reaches through it.
PLACEMENTS = {
    "bucket-dir": "secret.txt",  # <root>/<bucket> -> outside/tree
    "parent-dir": "sub/secret.txt",  # <root>/<bucket>/sub -> outside/tree
    "key-to-file": "secret.txt",  # <root>/<bucket>/secret.txt -> outside/secret.txt
    "key-to-dir": "secret.txt",  # <root>/<bucket>/secret.txt -> outside/tree
}

Snapshot = dict[str, tuple[int, int, int, bytes | None]]


def _snapshot(top: Path) -> Snapshot:
    """Every entry under ``top`` with its inode, mode, mtime and content:
    any write, replace or delete changes it."""
    found: Snapshot = {}
    for directory, dirs, files in os.walk(top):
        for name in dirs + files:
            path = Path(directory, name)
            stat = path.lstat()
            content = path.read_bytes() if path.is_file() and not path.is_symlink() else None
            found[str(path.relative_to(top))] = (
                stat.st_ino,
                stat.st_mode,
                stat.st_mtime_ns,
                content,
            )
    return found


@dataclass
class Scene:
    placement: str
    root: Path
    outside: Path
    provider: CloudProvider
    bucket: Bucket
    key: str

    @property
    def obj(self) -> BucketObject:
        return self.bucket.objects.create(self.key)

    @property
    def link(self) -> Path:
        bucket_dir = self.root / self.bucket.name
        return {
            "bucket-dir": bucket_dir,
            "parent-dir": bucket_dir / "sub",
            "key-to-file": bucket_dir / "secret.txt",
            "key-to-dir": bucket_dir / "secret.txt",
        }[self.placement]

    def plant(self) -> None:
        target = self.outside / ("secret.txt" if self.placement == "key-to-file" else "tree")
        if self.placement == "bucket-dir":
            self.link.rmdir()  # the bucket handle stays; its directory becomes a link
        self.link.symlink_to(target)
        self.before = _snapshot(self.outside)

    def assert_outside_untouched(self) -> None:
        assert _snapshot(self.outside) == self.before
        assert (self.outside / "secret.txt").read_bytes() == SENTINEL
        assert (self.outside / "tree" / "secret.txt").read_bytes() == SENTINEL

    @property
    def write_refusal(self) -> type[Exception]:
        """What a write through the link raises: the bucket is absent, or
        the key's path is refused."""
        return NotFoundException if self.placement == "bucket-dir" else InvalidNameException


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    (path / "tree").mkdir(parents=True)
    (path / "secret.txt").write_bytes(SENTINEL)
    (path / "tree" / "secret.txt").write_bytes(SENTINEL)
    return path


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[CloudProvider]:
    provider = CloudProviderFactory().create_provider(
        ProviderList.LOCAL, {"local_root": str(tmp_path / "root")}
    )
    yield provider
    provider.close()


@pytest.fixture(params=list(PLACEMENTS))
def scene(
    request: pytest.FixtureRequest, tmp_path: Path, outside: Path, provider: CloudProvider
) -> Scene:
    bucket = provider.storage.buckets.create("linked")
    return Scene(
        request.param, tmp_path / "root", outside, provider, bucket, PLACEMENTS[request.param]
    )


# -- writes ------------------------------------------------------------------


def test_upload_does_not_write_through_a_link(scene: Scene) -> None:
    scene.plant()
    with pytest.raises(scene.write_refusal) as raised:
        scene.obj.upload(PAYLOAD)
    assert repr(scene.key if scene.placement != "bucket-dir" else "linked") in str(raised.value)
    scene.assert_outside_untouched()


def test_upload_from_file_does_not_write_through_a_link(scene: Scene, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(PAYLOAD)
    scene.plant()
    with pytest.raises(scene.write_refusal):
        scene.obj.upload_from_file(source)
    scene.assert_outside_untouched()


def test_create_only_upload_does_not_write_through_a_link(scene: Scene) -> None:
    scene.plant()
    with pytest.raises(scene.write_refusal):
        scene.obj.upload(PAYLOAD, overwrite=False)
    scene.assert_outside_untouched()


def test_multipart_upload_does_not_write_through_a_link(scene: Scene) -> None:
    upload = scene.obj.create_multipart_upload()
    part = upload.upload_part(1, PAYLOAD)
    scene.plant()
    with pytest.raises(scene.write_refusal):
        upload.complete([UploadPart(1, part.etag)])
    scene.assert_outside_untouched()


def test_signed_put_does_not_write_through_a_link(scene: Scene) -> None:
    url = scene.obj.generate_url(60, writable=True)
    scene.plant()
    response = requests.put(url, data=PAYLOAD, timeout=30)
    assert response.status_code == (404 if scene.placement == "bucket-dir" else 400)
    scene.assert_outside_untouched()


# -- reads -------------------------------------------------------------------


def test_get_and_find_see_no_object_behind_a_link(scene: Scene) -> None:
    handle = scene.obj
    scene.plant()
    if scene.placement == "bucket-dir":  # a missing bucket is an error, as on every provider
        with pytest.raises(NotFoundException, match="bucket 'linked' does not exist"):
            scene.bucket.objects.get(scene.key)
    else:
        assert scene.bucket.objects.get(scene.key) is None
        assert list(scene.bucket.objects.find(name=scene.key)) == []
    with pytest.raises(NotFoundException):
        handle.refresh()
    scene.assert_outside_untouched()


def test_iter_content_and_download_range_read_nothing_behind_a_link(scene: Scene) -> None:
    scene.plant()
    with pytest.raises(NotFoundException):
        b"".join(scene.obj.iter_content())
    with pytest.raises(NotFoundException):
        scene.obj.download_range(0, 100)
    scene.assert_outside_untouched()


def test_download_to_file_reads_nothing_behind_a_link(scene: Scene, tmp_path: Path) -> None:
    target = tmp_path / "downloaded.bin"
    scene.plant()
    with pytest.raises(NotFoundException):
        scene.obj.download_to_file(target)
    assert not target.exists() or SENTINEL not in target.read_bytes()
    scene.assert_outside_untouched()


def test_the_driver_reads_nothing_behind_a_link_even_without_a_lookup_first(
    scene: Scene, tmp_path: Path
) -> None:
    """read_object, get_file and compute_etag are reached after a head_object
    the link may have been swapped in behind; each must refuse on its own."""
    driver = scene.provider.driver
    name, key = scene.bucket.name, scene.key
    scene.plant()
    with pytest.raises(NotFoundException):
        b"".join(driver.read_object(name, key, ReadOptions(chunk_size=1024)))
    with open(tmp_path / "out.bin", "wb") as out, pytest.raises(NotFoundException):
        driver.get_file(name, key, out.fileno(), progress=None)
    assert SENTINEL not in (tmp_path / "out.bin").read_bytes()
    with pytest.raises(NotFoundException):
        driver.compute_etag(name, key, None)
    scene.assert_outside_untouched()


def test_signed_get_serves_nothing_behind_a_link(scene: Scene) -> None:
    url = scene.obj.generate_url(60)
    scene.plant()
    response = requests.get(url, timeout=30)
    assert response.status_code == 404
    assert SENTINEL not in response.content
    scene.assert_outside_untouched()


def test_listing_skips_links(scene: Scene) -> None:
    if scene.placement != "bucket-dir":
        scene.bucket.objects.create("inside.txt").upload(b"inside")
    scene.plant()
    if scene.placement == "bucket-dir":
        with pytest.raises(NotFoundException):
            scene.bucket.objects.list()
        assert scene.provider.storage.buckets.get("linked") is None
        assert [b.name for b in scene.provider.storage.buckets] == []
    else:
        assert [o.name for o in scene.bucket.objects.list()] == ["inside.txt"]
        assert [o.name for o in scene.bucket.objects] == ["inside.txt"]
        assert [o.name for o in scene.bucket.objects.list(prefix="s")] == []
    scene.assert_outside_untouched()


# -- deletes -----------------------------------------------------------------


def test_delete_does_not_remove_through_a_link(scene: Scene) -> None:
    scene.plant()
    if scene.placement == "bucket-dir":
        with pytest.raises(NotFoundException):
            scene.obj.delete()
    else:
        scene.obj.delete()  # absent: nothing to delete
        assert scene.link.is_symlink(), "a link is not an object: delete leaves it"
    scene.assert_outside_untouched()


@pytest.mark.parametrize("delete_contents", [False, True])
def test_bucket_delete_does_not_remove_through_a_link(scene: Scene, delete_contents: bool) -> None:
    scene.plant()
    if scene.placement == "bucket-dir":
        with pytest.raises(NotFoundException):
            scene.bucket.delete(delete_contents=delete_contents)
        assert scene.link.is_symlink()
    else:
        # The link is no object, so the bucket counts as empty; removing the
        # link itself touches nothing it points at.
        scene.bucket.delete(delete_contents=delete_contents)
        assert not os.path.lexists(scene.root / "linked")
    scene.assert_outside_untouched()


def test_creating_a_bucket_over_a_link_is_refused(
    provider: CloudProvider, tmp_path: Path, outside: Path
) -> None:
    (tmp_path / "root" / "linked").symlink_to(outside / "tree")
    before = _snapshot(outside)
    with pytest.raises(InvalidNameException, match="symbolic link"):
        provider.storage.buckets.create("linked")
    assert _snapshot(outside) == before


# -- the state directory -----------------------------------------------------


@pytest.mark.parametrize("linked", [".bucketbridge", ".bucketbridge/tmp", ".bucketbridge/meta"])
def test_a_linked_state_dir_is_refused(tmp_path: Path, outside: Path, linked: str) -> None:
    root = tmp_path / "root"
    (root / linked).parent.mkdir(parents=True, exist_ok=True)
    (root / linked).symlink_to(outside / "tree")
    before = _snapshot(outside)
    with pytest.raises(InvalidConfigurationException, match="symbolic link"):
        CloudProviderFactory().create_provider(ProviderList.LOCAL, {"local_root": str(root)})
    assert _snapshot(outside) == before


def test_a_signing_key_linked_outside_is_refused(tmp_path: Path, outside: Path) -> None:
    """Else whoever can write the file it points at could sign URLs."""
    (outside / "known.key").write_text("ab" * 32)
    root = tmp_path / "root"
    (root / ".bucketbridge").mkdir(parents=True)
    (root / ".bucketbridge" / "signing.key").symlink_to(outside / "known.key")
    with pytest.raises(InvalidConfigurationException, match="symbolic link"):
        CloudProviderFactory().create_provider(ProviderList.LOCAL, {"local_root": str(root)})


def test_state_dirs_linked_after_start_are_not_followed(
    provider: CloudProvider, tmp_path: Path, outside: Path
) -> None:
    """Temporary files, sidecars, locks and parts live in directories opened
    once at start; a link swapped in later changes nothing."""
    bucket = provider.storage.buckets.create("state-links")
    bucket.objects.create("k").upload(b"v1", metadata={"n": "1"})
    upload = bucket.objects.create("m").create_multipart_upload()
    state = tmp_path / "root" / ".bucketbridge"
    for name in ("tmp", "meta", "locks", "uploads"):
        (state / name).rename(state / f"{name}.moved")
        (state / name).symlink_to(outside / "tree")
    before = _snapshot(outside)
    obj = bucket.objects.create("k").upload(b"v2", metadata={"n": "2"})
    assert _snapshot(outside) == before, "a temporary file or sidecar went outside"
    assert bucket.objects.get("k").metadata == {"n": "2"}  # type: ignore[union-attr]
    part = upload.upload_part(1, b"part")
    upload.complete([UploadPart(1, part.etag)])
    obj.delete()
    bucket.delete(delete_contents=True)
    assert _snapshot(outside) == before


# -- races -------------------------------------------------------------------

_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> None:
    """Swap two names atomically (Linux renameat2 RENAME_EXCHANGE)."""
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd = -100
    if libc.renameat2(at_fdcwd, bytes(a), at_fdcwd, bytes(b), _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(a))


def test_a_parent_swapped_for_a_link_mid_operation_is_never_followed(
    provider: CloudProvider, tmp_path: Path, outside: Path
) -> None:
    """One thread keeps exchanging a real directory and a link to the outside
    under the same name while another uploads, reads and deletes beneath
    it: whatever the timing, the outside is never read, written or deleted."""
    bucket = provider.storage.buckets.create("race")
    bucket.objects.create("sub/keep").upload(b"keeps the directory from being pruned")
    bucket.objects.create("sub/secret.txt").upload(b"inside")
    bucket_dir = tmp_path / "root" / "race"
    (bucket_dir / "swap").symlink_to(outside / "tree")
    before = _snapshot(outside)
    stop = threading.Event()
    swaps = 0

    def swap() -> None:
        nonlocal swaps
        while not stop.is_set():
            _exchange(bucket_dir / "sub", bucket_dir / "swap")
            swaps += 1

    outcomes: dict[str, int] = {}
    served: list[bytes] = []
    attempts: list[Callable[[], object]] = [
        lambda: bucket.objects.create("sub/secret.txt").upload(b"inside"),
        lambda: served.append(b"".join(bucket.objects.create("sub/secret.txt").iter_content())),
        lambda: served.append(bucket.objects.create("sub/secret.txt").download_range(0, 100)),
        lambda: bucket.objects.create("sub/secret.txt").delete(),
        lambda: served.extend(o.name.encode() for o in bucket.objects.list(prefix="sub/")),
    ]
    swapper = threading.Thread(target=swap)
    swapper.start()
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline and (
            outcomes.get("refused", 0) < 300 or outcomes.get("done", 0) < 300
        ):
            for attempt in attempts:
                try:
                    attempt()
                    outcomes["done"] = outcomes.get("done", 0) + 1
                except (InvalidNameException, NotFoundException):
                    outcomes["refused"] = outcomes.get("refused", 0) + 1
    finally:
        stop.set()
        swapper.join()
    assert swaps > 0 and outcomes.get("refused", 0) > 0 and outcomes.get("done", 0) > 0, (
        f"the race was not exercised: {swaps} swaps, {outcomes}"
    )
    assert not any(SENTINEL in data for data in served)
    assert _snapshot(outside) == before


def test_exchange_helper_works(tmp_path: Path) -> None:
    """The race test's swapping really swaps (else it proves nothing)."""
    (tmp_path / "d").mkdir()
    (tmp_path / "l").symlink_to(tmp_path / "elsewhere")
    _exchange(tmp_path / "d", tmp_path / "l")
    assert (tmp_path / "d").is_symlink() and (tmp_path / "l").is_dir()
    with pytest.raises(OSError) as raised:
        _exchange(tmp_path / "missing", tmp_path / "d")
    assert raised.value.errno == errno.ENOENT
