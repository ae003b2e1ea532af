"""A small put's system calls keep the GIL on a filesystem in memory
(beneath.holds_gil) and obey the same rules as the calls that let it go:
the same errors (a taken name, a link on the path, a bad descriptor), the
same publish (new key, replaced key, create-only refused, a directory to
make), and no descriptor left open. The held calls are forced on here
whatever filesystem the test's root is on; they are the same calls."""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import (
    CloudProvider,
    CloudProviderFactory,
    PreconditionFailedException,
    ProviderList,
)
from bucketbridge.drivers.local import beneath

pytestmark = pytest.mark.skipif(not beneath._held, reason="no held libc calls here (not Linux)")


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(beneath, "holds_gil", lambda dir_fd: True)


@pytest.fixture
def provider(root: Path, held: None) -> Iterator[CloudProvider]:
    made = CloudProviderFactory().create_provider(ProviderList.LOCAL, {"local_root": str(root)})
    assert made.driver._held  # type: ignore[attr-defined]
    yield made
    made.close()


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_the_held_functions_keep_the_gil() -> None:
    for function in beneath._held.values():
        assert function._flags_ & ctypes._FUNCFLAG_PYTHONAPI  # type: ignore[attr-defined]


def _holds_gil_at(path: str) -> tuple[int, bool]:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return beneath._filesystem_magic(fd), beneath.holds_gil(fd)
    finally:
        os.close(fd)


def test_a_filesystem_in_memory_holds_and_a_disk_does_not(tmp_path: Path) -> None:
    if os.path.isdir("/dev/shm"):
        magic, holds = _holds_gil_at("/dev/shm")
        assert holds == (magic == 0x01021994)  # tmpfs, as a rule
    magic, holds = _holds_gil_at(str(tmp_path))
    assert holds == (magic in beneath._HELD_FILESYSTEMS)
    if os.path.isdir("/proc/self"):
        assert not _holds_gil_at("/proc/self")[1]  # procfs: not one of them


def test_held_calls_fail_as_the_others_do(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        (tmp_path / "taken").write_bytes(b"x")
        (tmp_path / "dir").mkdir()
        (tmp_path / "link").symlink_to("dir")
        with pytest.raises(FileNotFoundError):
            beneath.open_beneath(fd, "missing/x", beneath.READ_FLAGS, held=True)
        with pytest.raises(OSError) as looped:
            beneath.open_beneath(fd, "link/x", beneath.READ_FLAGS, held=True)
        assert looped.value.errno == errno.ELOOP
        made = beneath.unnamed_file(fd, held=True)
        try:
            with pytest.raises(FileExistsError):
                beneath.link_fd(made, fd, "taken", held=True)
            beneath.link_fd(made, fd, "named", held=True)
            beneath.set_attribute(made, "user.test", b"value", held=True)
            assert beneath.write(made, b"data", held=True) == 4
        finally:
            beneath.close(made, held=True)
        assert os.getxattr(tmp_path / "named", "user.test") == b"value"
        assert (tmp_path / "named").read_bytes() == b"data"
        assert oct(os.stat(tmp_path / "named").st_mode & 0o777) == oct(beneath.FILE_MODE)
        with pytest.raises(OSError) as closed:
            beneath.close(made, held=True)
        assert closed.value.errno == errno.EBADF
        with pytest.raises(OSError) as refused:
            beneath.set_attribute(made, "user.test", b"value", held=True)
        assert refused.value.errno == errno.EBADF
        with pytest.raises(OSError) as unwritten:
            beneath.write(made, b"data", held=True)
        assert unwritten.value.errno == errno.EBADF
    finally:
        os.close(fd)


def test_held_puts_publish_as_before(provider: CloudProvider) -> None:
    bucket = provider.storage.buckets.create("held")
    before = _open_fds()
    bucket.objects.create("a/new.bin").upload(b"one", metadata={"n": "1"})  # a directory made
    bucket.objects.create("a/next.bin").upload(b"two")  # a lock-free link
    bucket.objects.create("a/next.bin").upload(b"three")  # replaced
    with pytest.raises(PreconditionFailedException):
        bucket.objects.create("a/next.bin").upload(b"four", overwrite=False)
    assert _open_fds() == before
    assert b"".join(bucket.objects.get("a/next.bin").iter_content()) == b"three"
    first = bucket.objects.get("a/new.bin")
    assert (first.metadata, b"".join(first.iter_content())) == ({"n": "1"}, b"one")


def test_a_refused_held_link_takes_the_slow_path(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = provider.storage.buckets.create("refused")
    bucket.objects.create("k0").upload(b"0")

    def refused(*args: Any) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(beneath, "_empty_path_links", True)
    monkeypatch.setitem(beneath._held, "linkat", refused)
    before = _open_fds()
    bucket.objects.create("k1").upload(b"1")  # named in tmp, then linked under the lock
    assert _open_fds() == before
    assert sorted(os.listdir(root / "refused")) == ["k0", "k1"]
    assert os.listdir(root / ".bucketbridge" / "tmp") == []


def test_a_held_lookup_into_another_mount_is_made_letting_the_gil_go() -> None:
    # /dev/shm is a mount below /dev: a held lookup stays on the filesystem
    # it starts on (RESOLVE_NO_XDEV), whose calls holds_gil said never wait;
    # one that crosses into a mount (a disk, the network) is made unheld
    if os.stat("/dev").st_dev == os.stat("/dev/shm").st_dev:
        pytest.skip("/dev/shm is not a mount below /dev here")
    dev = os.open("/dev", beneath.DIR_FLAGS)
    try:
        fd = beneath.open_beneath(dev, "shm", beneath.DIR_FLAGS, held=True)
        assert os.fstat(fd).st_dev == os.stat("/dev/shm").st_dev
        os.close(fd)
        # the held lookup itself is refused at the mount: what sends it the other way
        how = ctypes.pointer(beneath._OpenHow(beneath.DIR_FLAGS, 0, beneath._RESOLVE_HELD))
        openat2 = beneath._held["syscall"]
        refused = openat2(beneath._SYS_OPENAT2, dev, b"shm", how, beneath._HOW_SIZE)
        assert refused < 0 and ctypes.get_errno() == errno.EXDEV
    finally:
        os.close(dev)
