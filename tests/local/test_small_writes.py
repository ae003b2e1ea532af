"""The LOCAL driver's small write (``put_object`` of a body of bytes, what
``copy()`` hands it for each small object) keeps every guarantee of the
general path while taking its short cuts (bench/local_small_write.py):

- the short cuts are taken: a small body is read once, written once, and
  published with one link of the descriptor itself where the kernel allows
  it (``AT_EMPTY_PATH``), through /proc where it does not;
- the etag is the MD5 of the bytes, and the record on the file is the
  version's own (its identity), what HEAD, a read and a listing say;
- a failure at any step before the publish -- the record refused with an
  error, the link itself failing, a body that ends early -- leaves nothing:
  no object, no record, no temporary file;
- create-only is refused on a taken key on the short link too, and a key
  never lands outside its bucket (a link on the way is refused);
- the record made from the write's fields is the one ``encode`` made from a
  record dict, byte for byte, and the common one fits in an ext4 inode.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import (
    BucketBridgeException,
    CloudProvider,
    InvalidNameException,
    PreconditionFailedException,
)
from bucketbridge.drivers.local import beneath, inline, state
from bucketbridge.drivers.local import driver as local_driver
from bucketbridge.drivers.records import Body, WriteOptions, guess_content_type

PAYLOAD = os.urandom(4096)
MD5 = hashlib.md5(PAYLOAD, usedforsecurity=False).hexdigest()


def _driver(provider: CloudProvider) -> Any:
    return provider.driver  # type: ignore[attr-defined]


def _options(key: str, **fields: Any) -> WriteOptions:
    return WriteOptions(content_type=fields.pop("content_type", guess_content_type(key)), **fields)


def _left(root: Path, bucket: str) -> list[str]:
    """What the bucket and the state's tmp dir hold."""
    found = [str(path.relative_to(root / bucket)) for path in (root / bucket).rglob("*")]
    return found + os.listdir(root / ".bucketbridge" / "tmp")


def test_a_small_body_is_read_once_and_published_with_one_link(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = _driver(provider)
    driver.create_bucket("small", None)
    reads: list[tuple[int, int]] = []
    view = memoryview(PAYLOAD)

    def read_at(offset: int, length: int) -> bytes:
        reads.append((offset, length))
        return bytes(view[offset : offset + length])

    links: list[str] = []
    real_link = beneath.link_fd
    monkeypatch.setattr(
        beneath,
        "link_fd",
        lambda fd, d, name, **options: (links.append(name), real_link(fd, d, name, **options)),
    )
    driver.put_object("small", "d/first", Body.of_bytes(b"1"), _options("first"))
    links.clear()  # a new directory is made on the locked path: the next key's is there
    info = driver.put_object("small", "d/k.dat", Body(len(PAYLOAD), read_at), _options("k.dat"))
    assert reads == [(0, len(PAYLOAD))]
    assert links == ["k.dat"]  # the lock-free publish of a new key
    assert info.etag == MD5
    assert (root / "small" / "d" / "k.dat").read_bytes() == PAYLOAD
    assert os.listdir(root / ".bucketbridge" / "tmp") == []


def test_the_descriptor_is_linked_by_itself_where_the_kernel_allows_it(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not beneath._empty_path_links:
        pytest.skip("linkat(AT_EMPTY_PATH) is refused here: links go through /proc")
    driver = _driver(provider)
    driver.create_bucket("empty-path", None)
    real_linkat = beneath._linkat
    calls: list[bytes] = []

    def linkat(*args: Any) -> int:
        calls.append(args[3])
        return int(real_linkat(*args))  # type: ignore[misc]

    monkeypatch.setattr(beneath, "_linkat", linkat)
    if beneath._held:  # a root in memory links with the GIL kept: the same call
        monkeypatch.setitem(beneath._held, "linkat", linkat)
    monkeypatch.setattr(os, "link", _no_proc_link(os.link))
    driver.put_object("empty-path", "k", Body.of_bytes(PAYLOAD), _options("k"))
    assert calls == [b"k"]
    # create-only on the short link: the key is taken, nothing replaced
    with pytest.raises(PreconditionFailedException):
        driver.put_object(
            "empty-path", "k", Body.of_bytes(b"other"), _options("k", create_only=True)
        )
    assert (root / "empty-path" / "k").read_bytes() == PAYLOAD
    assert os.listdir(root / ".bucketbridge" / "tmp") == []


def _no_proc_link(link: Any) -> Any:
    def refuse_proc(source: Any, *args: Any, **kwargs: Any) -> None:
        assert not str(source).startswith("/proc/"), "linked through /proc"
        link(source, *args, **kwargs)

    return refuse_proc


def test_a_refused_empty_path_link_goes_through_proc(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that lost the capability after the probe gets ENOENT from
    the short link: the /proc link publishes the file all the same."""
    driver = _driver(provider)
    driver.create_bucket("fallback", None)

    def refused(*args: Any) -> int:
        import ctypes

        ctypes.set_errno(errno.ENOENT)
        return -1

    monkeypatch.setattr(beneath, "_empty_path_links", True)
    monkeypatch.setattr(beneath, "_linkat", refused)
    if beneath._held:
        monkeypatch.setitem(beneath._held, "linkat", refused)
    info = driver.put_object("fallback", "k", Body.of_bytes(PAYLOAD), _options("k"))
    assert info.etag == MD5
    assert (root / "fallback" / "k").read_bytes() == PAYLOAD


def test_the_etag_and_record_are_the_versions_own(provider: CloudProvider, root: Path) -> None:
    driver = _driver(provider)
    driver.create_bucket("records", None)
    options = _options("a/b.json", content_type="text/x-mine", metadata={"n": "1"})
    written = driver.put_object("records", "a/b.json", Body.of_bytes(PAYLOAD), options)
    path = root / "records" / "a" / "b.json"
    packed = inline.unpacked(os.getxattr(path, inline.NAME), os.stat(path))
    assert packed is not None, "no record of this very version on the file"
    assert packed.e == bytes.fromhex(MD5) and packed.t == "text/x-mine" and packed.m == {"n": "1"}
    head = driver.head_object("records", "a/b.json")
    assert head == written
    assert (written.etag, written.size, written.metadata) == (MD5, 4096, {"n": "1"})
    listed = driver.list_objects("records", prefix=None, marker=None, limit=10).items
    assert [(i.key, i.etag, i.revision) for i in listed] == [("a/b.json", MD5, written.revision)]
    # the returned metadata is the caller's own, not the options'
    assert written.metadata is not options.metadata


@pytest.mark.parametrize("failing", ["record", "link", "body"])
def test_a_failure_before_the_publish_leaves_nothing(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """As a crash would: the unnamed file goes, with its record."""
    driver = _driver(provider)
    driver.create_bucket("failing", None)
    driver.put_object("failing", "d/first", Body.of_bytes(b"1"), _options("first"))
    body = Body.of_bytes(PAYLOAD)

    def crash(*args: Any, **options: Any) -> None:
        raise RuntimeError(f"crashed at the {failing}")

    if failing == "record":
        monkeypatch.setattr(inline, "store", crash)
    elif failing == "link":
        monkeypatch.setattr(beneath, "link_fd", crash)
    else:  # a stream that ends before its size
        stream = io.BytesIO(PAYLOAD[:1000])
        body = Body.of_stream(stream, len(PAYLOAD))
    with pytest.raises((RuntimeError, BucketBridgeException)):
        driver.put_object("failing", "d/k", body, _options("k"))
    monkeypatch.undo()
    assert driver.head_object("failing", "d/k") is None
    assert sorted(_left(root, "failing")) == ["d", "d/first"]
    assert list((root / ".bucketbridge" / "meta").rglob("*.json")) == []


def test_a_body_of_short_reads_is_written_whole(provider: CloudProvider, root: Path) -> None:
    class Trickle(io.RawIOBase):
        """A stream that hands out at most 1000 bytes a read (a socket's)."""

        def __init__(self) -> None:
            self._data = io.BytesIO(PAYLOAD)

        def read(self, size: int = -1) -> bytes:
            return self._data.read(min(size, 1000))

    driver = _driver(provider)
    driver.create_bucket("trickle", None)
    body = Body.of_stream(Trickle(), len(PAYLOAD))  # type: ignore[arg-type]
    info = driver.put_object("trickle", "k", body, _options("k"))
    assert info.etag == MD5
    assert (root / "trickle" / "k").read_bytes() == PAYLOAD


def test_a_small_write_through_a_link_on_the_way_is_refused(
    provider: CloudProvider, root: Path, tmp_path: Path
) -> None:
    driver = _driver(provider)
    driver.create_bucket("linked", None)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "linked" / "d").symlink_to(outside)
    with pytest.raises(InvalidNameException):
        driver.put_object("linked", "d/k", Body.of_bytes(PAYLOAD), _options("k"))
    assert list(outside.iterdir()) == []
    assert os.listdir(root / ".bucketbridge" / "tmp") == []


def test_an_overwrite_of_a_small_object_replaces_it_whole(
    provider: CloudProvider, root: Path
) -> None:
    driver = _driver(provider)
    driver.create_bucket("over", None)
    first = driver.put_object("over", "k", Body.of_bytes(b"first"), _options("k"))
    second = driver.put_object("over", "k", Body.of_bytes(PAYLOAD), _options("k"))
    assert first.revision != second.revision
    assert driver.head_object("over", "k") == second
    assert (root / "over" / "k").read_bytes() == PAYLOAD


@pytest.mark.parametrize(
    ("key", "record"),
    [
        ("k.txt", {"etag": MD5, "content_type": "text/plain", "metadata": {}}),
        ("k.txt", {"etag": MD5, "content_type": "image/png", "metadata": {"a": "b"}}),
        ("k", {"etag": "0" * 31 + "z", "content_type": None, "metadata": None}),
        ("k", {"etag": MD5[:32] + "-3", "content_type": "x/y", "metadata": {}}),
        ("k", {"etag": None, "content_type": "x/y", "metadata": {}, "etag_part_size": 8 << 20}),
    ],
)
def test_a_record_from_fields_is_the_one_from_a_dict(key: str, record: dict[str, Any]) -> None:
    stat = os.stat(__file__)
    from_fields = inline.encode_fields(
        key,
        stat,
        inline.stored_etag(record["etag"]),
        record["content_type"],
        record["metadata"],
        record.get("etag_part_size"),
    )
    assert from_fields == inline.encode(key, stat, record)
    assert inline.decode(from_fields, stat) == {
        "etag": record["etag"],
        "content_type": None
        if record["content_type"] == guess_content_type(key)
        else record["content_type"],
        "metadata": record["metadata"] or {},
        "etag_part_size": record.get("etag_part_size"),
    }


def test_the_common_record_fits_in_an_ext4_inode() -> None:
    """ext4 keeps ~60 bytes of value with this name inside a 256-byte inode
    (inline.py): an MD5 etag and a guessed content type must fit."""
    stat = os.stat(__file__)
    big = os.stat_result((0, 2**40, 0, 0, 0, 0, 2**40, 0, 0, 0, 2**62))  # large inode, size, mtime
    for seen in (stat, big):
        raw = inline.encode_fields("d/k.dat", seen, bytes.fromhex(MD5), None, {}, None)
        assert len(raw) <= 60, len(raw)


def test_local_driver_module_keeps_its_injection_points() -> None:
    """Other tests inject failures through these names: keep them used."""
    assert callable(local_driver.write_all) and callable(beneath.link_fd)


def test_an_overwrite_skips_a_temporary_name_already_taken(
    provider: CloudProvider, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Temporary names come from a counter now (no getrandom a file): one
    taken anyway (a crashed process's leftover) is skipped, never replaced."""
    driver = _driver(provider)
    driver.create_bucket("names", None)
    driver.put_object("names", "k", Body.of_bytes(b"first"), _options("k"))
    names = iter(["taken.part", "taken.part", "free.part"])
    monkeypatch.setattr(state, "temp_name", lambda: next(names))
    tmp = root / ".bucketbridge" / "tmp"
    (tmp / "taken.part").write_bytes(b"someone else's")
    second = driver.put_object("names", "k", Body.of_bytes(PAYLOAD), _options("k"))
    assert driver.head_object("names", "k") == second
    assert (root / "names" / "k").read_bytes() == PAYLOAD
    assert sorted(os.listdir(tmp)) == ["taken.part"]
    assert (tmp / "taken.part").read_bytes() == b"someone else's"


def test_temporary_names_differ_across_processes() -> None:
    first = state.temp_name()
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's
        os.write(writer, state.temp_name().encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    in_child = os.read(reader, 200).decode()
    os.close(reader)
    assert first.split("-")[0] != in_child.split("-")[0]
    assert state.temp_name() != first
