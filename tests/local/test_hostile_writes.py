"""LOCAL writes attacked (a hostile review): what must hold.

- a lock-free overwrite (``_replace_lock_free``) that looked at the key and
  found a version with its record on its file, and then lost the race to a
  locked writer publishing a version with a sidecar (a record too large for
  the attribute), replaces that version as one it saw: its sidecar goes,
  none is left for ever, and no temporary file either;
- writers racing on one key, some with records too large for the
  attribute: the last writer's version is there, whole, with its record,
  and at most its own sidecar is left;
- what a lock-free swap put in the tmp dir for a moment (a directory that
  slipped in, to be swapped back) survives a driver starting meanwhile in
  another process, whose sweep removes only a crashed writer's leftovers.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import CloudProvider, CloudProviderFactory, ProviderList
from bucketbridge.drivers.local import beneath, inline
from bucketbridge.errors import BucketBridgeException, InvalidNameException


def _sidecars(root: Path, bucket: str) -> list[Path]:
    return sorted((root / ".bucketbridge" / "meta" / bucket).glob("*/*.json"))


def test_a_sidecar_version_published_after_the_lock_free_look_leaves_no_sidecar(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = provider.storage.buckets.create("slipped")
    bucket.objects.create("d/k").upload(b"v0", metadata={"n": "0"})
    real_read_at, real_store = inline.read_at, inline.store
    slipped: list[int] = []

    def locked_sidecar_write_after_the_look(dir_fd: int, name: str) -> bytes | None:
        seen = real_read_at(dir_fd, name)
        if name == "k" and not slipped:
            slipped.append(dir_fd)
            with monkeypatch.context() as patched:
                patched.setattr(inline, "store", lambda fd, data, held=False: False)  # as ENOSPC
                writer = threading.Thread(
                    target=lambda: bucket.objects.create("d/k").upload(b"v1", metadata={"n": "1"})
                )
                writer.start()
                writer.join()
            assert len(_sidecars(root, "slipped")) == 1  # the locked writer's
        return seen

    monkeypatch.setattr(inline, "read_at", locked_sidecar_write_after_the_look)
    bucket.objects.create("d/k").upload(b"v2", metadata={"n": "2"})
    monkeypatch.setattr(inline, "read_at", real_read_at)
    assert slipped and inline.store is real_store
    obj = bucket.objects.get("d/k")
    assert obj is not None and obj.metadata == {"n": "2"}
    assert b"".join(obj.iter_content()) == b"v2"
    assert _sidecars(root, "slipped") == []  # v1's went with it
    assert os.listdir(root / ".bucketbridge" / "tmp") == []


def test_racing_writers_with_large_records_leave_only_the_last_ones_sidecar(
    provider: CloudProvider, root: Path
) -> None:
    bucket = provider.storage.buckets.create("racing")
    large = "x" * 5000  # above an ext4 block: a sidecar

    def write(writer: int) -> None:
        for round_ in range(60):
            body = f"{writer}-{round_}".encode() * 100
            metadata = {"w": str(writer), "big": large if writer % 2 else "s"}
            bucket.objects.create("k").upload(body, metadata=metadata)

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    obj = bucket.objects.get("k")
    assert obj is not None
    data = b"".join(obj.iter_content())
    writer = obj.metadata["w"]
    assert data == data[: len(data) // 100] * 100 and data.startswith(f"{writer}-".encode())
    assert obj.etag == hashlib.md5(data).hexdigest()
    driver: Any = provider.driver
    on_file = inline.read_at(driver._root_fd, "racing/k") is not None
    assert len(_sidecars(root, "racing")) == (0 if on_file else 1)
    assert os.listdir(root / ".bucketbridge" / "tmp") == []


def test_a_link_swapped_in_after_the_lock_free_look_is_refused_and_kept(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bucket = provider.storage.buckets.create("linked")
    bucket.objects.create("k").upload(b"v0")
    outside = tmp_path / "outside"
    outside.write_bytes(b"not ours")
    real_read_at = inline.read_at
    swapped: list[bool] = []

    def link_swapped_in_after_the_look(dir_fd: int, name: str) -> bytes | None:
        seen = real_read_at(dir_fd, name)
        if name == "k" and not swapped:
            swapped.append(True)
            os.symlink(outside, root / "linked" / "k.new")
            os.replace(root / "linked" / "k.new", root / "linked" / "k")
        return seen

    monkeypatch.setattr(inline, "read_at", link_swapped_in_after_the_look)
    with pytest.raises(InvalidNameException, match="symbolic link"):
        bucket.objects.create("k").upload(b"v1")
    assert swapped and os.readlink(root / "linked" / "k") == str(outside)
    assert outside.read_bytes() == b"not ours"
    assert os.listdir(root / ".bucketbridge" / "tmp") == []


def _write_rounds(root: str, writer: int, rounds: int, start: Any) -> None:
    """One process's writes of ``k``, every other one with a record too
    large for the attribute (a sidecar), once both processes are ready."""
    made = CloudProviderFactory().create_provider(ProviderList.LOCAL, {"local_root": root})
    bucket = made.storage.buckets.get("processes")
    assert bucket is not None
    start.wait(30)
    for round_ in range(rounds):
        body = f"{writer}-{round_}".encode() * 100
        large = "x" * 5000 if round_ % 2 else "s"
        bucket.objects.create("k").upload(body, metadata={"w": str(writer), "big": large})
    made.close()


def test_two_processes_writing_one_key_leave_one_whole_version(
    provider: CloudProvider, root: Path
) -> None:
    provider.storage.buckets.create("processes")
    context = multiprocessing.get_context("spawn")  # no threads of this one forked
    start = context.Barrier(2)
    writers = [
        context.Process(target=_write_rounds, args=(str(root), writer, 150, start))
        for writer in range(2)
    ]
    for process in writers:
        process.start()
    for process in writers:
        process.join(60)
        assert process.exitcode == 0
    obj = provider.storage.buckets.get("processes").objects.get("k")  # type: ignore[union-attr]
    assert obj is not None
    data = b"".join(obj.iter_content())
    assert data == data[: len(data) // 100] * 100 and data.startswith(obj.metadata["w"].encode())
    assert obj.etag == hashlib.md5(data).hexdigest()
    driver: Any = provider.driver
    on_file = inline.read_at(driver._root_fd, "processes/k") is not None
    assert len(_sidecars(root, "processes")) == (0 if on_file else 1)
    assert os.listdir(root / ".bucketbridge" / "tmp") == []


def test_a_directory_swapped_out_is_not_swept_by_a_driver_starting_meanwhile(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The swap of a lock-free overwrite puts what it replaced in the tmp
    dir for a moment; a directory that slipped in there (with files below
    it, its mtime days old) is swapped back. A driver that starts in that
    moment sweeps the tmp dir: it must not take the directory for a crashed
    writer's leftover (a rename sets the ctime, not the mtime)."""
    bucket = provider.storage.buckets.create("swept")
    bucket.objects.create("k").upload(b"v0")
    moved_in = tmp_path / "moved-in"
    moved_in.mkdir()
    (moved_in / "inner").write_bytes(b"someone's file")
    days_ago = time.time() - 3 * 86400
    os.utime(moved_in / "inner", (days_ago, days_ago))
    os.utime(moved_in, (days_ago, days_ago))
    real_read_at, real_exchange = inline.read_at, beneath.exchange
    started: list[CloudProvider] = []

    def directory_slips_in_after_the_look(dir_fd: int, name: str) -> bytes | None:
        seen = real_read_at(dir_fd, name)
        if name == "k" and not started:
            os.unlink(root / "swept" / "k")
            os.rename(moved_in, root / "swept" / "k")
        return seen

    def another_driver_starts_after_the_swap(*args: Any) -> None:
        real_exchange(*args)
        if not started:  # the swap out, not the swap back
            config = {"local_root": str(root)}
            started.append(CloudProviderFactory().create_provider(ProviderList.LOCAL, config))

    monkeypatch.setattr(inline, "read_at", directory_slips_in_after_the_look)
    monkeypatch.setattr(beneath, "exchange", another_driver_starts_after_the_swap)
    with pytest.raises(BucketBridgeException):
        bucket.objects.create("k").upload(b"v1")
    assert started, "the lock-free swap was not taken"
    started[0].close()
    assert (root / "swept" / "k" / "inner").read_bytes() == b"someone's file"
    assert os.listdir(root / ".bucketbridge" / "tmp") == []
