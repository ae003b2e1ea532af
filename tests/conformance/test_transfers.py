"""TransferConfig and the transfer engine, on every provider.

Whether an upload went multipart is visible on every provider the same way
S3 shows it: a multipart object's etag ends in ``-<number of parts>``.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from bucketbridge import (
    Bucket,
    BucketBridgeException,
    InvalidConfigurationException,
    InvalidValueException,
    NotFoundException,
    TransferConfig,
)
from tests.conformance.conftest import unenforced, unique_name
from tests.servers.providers import ProviderFactory

MiB = 1024 * 1024
SMALL = TransferConfig(threshold=5 * MiB, part_size=5 * MiB, max_concurrency=3)


def _parts(etag: str | None) -> int:
    assert etag is not None
    return int(etag.rsplit("-", 1)[1]) if "-" in etag else 1


def _check_parts(request: pytest.FixtureRequest, etag: str | None, parts: int) -> None:
    """The part count read from an S3-style ``md5-N`` etag, where the server
    makes one (``multipart_etag`` unenforced: Swift's SLO etag is its own)."""
    if "multipart_etag" not in unenforced(request.getfixturevalue("provider_factory")):
        assert _parts(etag) == parts


@pytest.mark.parametrize(
    ("size", "parts"),
    [(5 * MiB - 1, 1), (5 * MiB, 1), (5 * MiB + 1, 2), (10 * MiB + 1, 3)],
    ids=["threshold-1", "threshold", "threshold+1", "1-byte-last-part"],
)
def test_multipart_threshold_boundary(
    request: pytest.FixtureRequest, bucket: Bucket, size: int, parts: int
) -> None:
    data = os.urandom(size)
    obj = bucket.objects.create("boundary.bin").upload(data, SMALL)
    _check_parts(request, obj.etag, parts)
    stored = bucket.objects.get("boundary.bin")
    assert stored is not None and stored.size == size
    assert hashlib.sha256(b"".join(stored.iter_content())).digest() == hashlib.sha256(data).digest()


def test_unseekable_stream_goes_multipart_without_knowing_its_size(
    request: pytest.FixtureRequest, bucket: Bucket
) -> None:
    data = os.urandom(11 * MiB)
    read_fd, write_fd = os.pipe()
    import threading

    def feed() -> None:
        with os.fdopen(write_fd, "wb") as sink:
            sink.write(data)

    feeder = threading.Thread(target=feed)
    feeder.start()
    with os.fdopen(read_fd, "rb") as pipe:
        obj = bucket.objects.create("piped.bin").upload(pipe, SMALL)
    feeder.join()
    _check_parts(request, obj.etag, 3)
    assert obj.size == len(data)
    assert obj.download_range(0, len(data)) == data


@pytest.mark.sdk_plane
def test_upload_and_download_files_with_progress(
    request: pytest.FixtureRequest, bucket: Bucket, tmp_path: Path
) -> None:
    data = os.urandom(12 * MiB + 7)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    sent: list[int] = []
    obj = bucket.objects.create("file.bin")
    obj.upload_from_file(source, SMALL, progress=sent.append)
    assert sum(sent) == len(data)
    assert obj.size == len(data)
    _check_parts(request, obj.etag, 3)  # TransferConfig honoured: 5 + 5 + 2 MiB
    same_via_stream = bucket.objects.create("stream.bin").upload(io.BytesIO(data), SMALL)
    assert same_via_stream.etag == obj.etag
    received: list[int] = []
    target = tmp_path / "target.bin"
    target.write_bytes(b"old content")
    obj.download_to_file(str(target), SMALL, progress=received.append)
    assert sum(received) == len(data)
    assert target.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.bin", "target.bin"]


def test_small_uploads_report_progress(bucket: Bucket, tmp_path: Path) -> None:
    sent: list[int] = []
    bucket.objects.create("small.bin").upload(b"x" * 1000, progress=sent.append)
    assert sum(sent) == 1000
    source = tmp_path / "small.txt"
    source.write_bytes(b"y" * 2000)
    from_file: list[int] = []
    obj = bucket.objects.create("small.txt").upload_from_file(source, progress=from_file.append)
    assert sum(from_file) == 2000 and obj.size == 2000


@pytest.mark.sdk_plane
def test_small_file_round_trip_keeps_content_type(bucket: Bucket, tmp_path: Path) -> None:
    source = tmp_path / "page.html"
    source.write_text("<p>hi</p>")
    obj = bucket.objects.create("page.html").upload_from_file(str(source))
    assert obj.content_type == "text/html"
    target = tmp_path / "copy.html"
    obj.download_to_file(target)
    assert target.read_text() == "<p>hi</p>"


class _Interrupted(Exception):
    pass


def _interrupt_after(limit: int) -> object:
    moved = 0

    def progress(nbytes: int) -> None:
        nonlocal moved
        moved += nbytes
        if moved > limit:
            raise _Interrupted(f"stopped after {moved} bytes")

    return progress


def test_interrupted_download_leaves_the_old_file_intact(bucket: Bucket, tmp_path: Path) -> None:
    data = os.urandom(11 * MiB)
    obj = bucket.objects.create("big.bin").upload(data, SMALL)
    target = tmp_path / "keep.bin"
    target.write_bytes(b"precious")
    # ranged parts and one stream (a driver that copies files itself uses neither)
    for config in (SMALL, TransferConfig(threshold=64 * MiB)):
        with pytest.raises(BucketBridgeException) as raised:
            obj.download_to_file(target, config, progress=_interrupt_after(2 * MiB))  # type: ignore[arg-type]
        assert isinstance(raised.value.__cause__, _Interrupted)
        assert target.read_bytes() == b"precious"
        assert [p.name for p in tmp_path.iterdir()] == ["keep.bin"]


@pytest.mark.sdk_plane
def test_interrupted_download_creates_no_file(bucket: Bucket, tmp_path: Path) -> None:
    obj = bucket.objects.create("big.bin").upload(os.urandom(6 * MiB))
    with pytest.raises(BucketBridgeException):
        obj.download_to_file(tmp_path / "new.bin", progress=_interrupt_after(MiB))  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_failed_multipart_upload_stores_nothing(bucket: Bucket, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(16 * MiB))
    obj = bucket.objects.create("aborted.bin")
    with pytest.raises(BucketBridgeException) as raised:
        obj.upload_from_file(source, SMALL, progress=_interrupt_after(6 * MiB))  # type: ignore[arg-type]
    assert isinstance(raised.value.__cause__, _Interrupted)
    assert bucket.objects.get("aborted.bin") is None
    stream = io.BytesIO(os.urandom(16 * MiB))
    with pytest.raises(BucketBridgeException):
        obj.upload(stream, SMALL, progress=_interrupt_after(6 * MiB))  # type: ignore[arg-type]
    assert bucket.objects.get("aborted.bin") is None


@pytest.mark.sdk_plane
def test_a_failed_replacement_keeps_the_old_object(bucket: Bucket) -> None:
    obj = bucket.objects.create("stable.bin").upload(b"old")
    with pytest.raises(BucketBridgeException):
        obj.upload(io.BytesIO(os.urandom(11 * MiB)), SMALL, progress=_interrupt_after(MiB))  # type: ignore[arg-type]
    stored = bucket.objects.get("stable.bin")
    assert stored is not None and stored.download_range(0, 10) == b"old"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("multipart_part_size", 5 * MiB - 1),
        ("multipart_part_size", 0),
        ("multipart_max_concurrency", 0),
        ("multipart_threshold", -1),
        ("multipart_threshold", "lots"),
    ],
)
def test_bad_transfer_config_keys_are_refused_when_the_provider_is_made(
    provider_factory: ProviderFactory, key: str, value: object
) -> None:
    """A provider config key's error names the key (a TransferConfig's own
    parameters are checked when it is built: tests/unit/test_transfer_config.py)."""
    with pytest.raises(InvalidConfigurationException, match=key):
        provider_factory(**{key: value})


def test_provider_config_keys_set_the_defaults(
    request: pytest.FixtureRequest, provider_factory: ProviderFactory
) -> None:
    provider = provider_factory(
        multipart_threshold=5 * MiB, multipart_part_size=5 * MiB, multipart_max_concurrency=2
    )
    bucket = provider.storage.buckets.create(unique_name())
    try:
        obj = bucket.objects.create("configured.bin").upload(os.urandom(11 * MiB))
        _check_parts(request, obj.etag, 3)
        per_call = bucket.objects.create("per-call.bin").upload(
            os.urandom(11 * MiB), TransferConfig(part_size=6 * MiB)
        )
        _check_parts(request, per_call.etag, 2)
    finally:
        bucket.delete(delete_contents=True)


def test_download_of_missing_object_raises_and_writes_nothing(
    bucket: Bucket, tmp_path: Path
) -> None:
    with pytest.raises(NotFoundException):
        bucket.objects.create("absent.bin").download_to_file(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_bad_local_paths_are_named(bucket: Bucket, tmp_path: Path) -> None:
    obj = bucket.objects.create("x.txt")
    with pytest.raises(InvalidValueException, match=r"nope\.txt"):
        obj.upload_from_file(tmp_path / "nope.txt")
    obj.upload(b"x")
    with pytest.raises(InvalidValueException, match="no-such-dir"):
        obj.download_to_file(tmp_path / "no-such-dir" / "x.txt")
