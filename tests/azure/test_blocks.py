"""Multipart uploads as staged blocks (bucketbridge/drivers/azure/blocks.py),
looked at from behind with the SDK."""

from __future__ import annotations

import base64
import io
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from azure.storage.blob import ContainerClient

from bucketbridge import (
    Bucket,
    CloudProvider,
    PreconditionFailedException,
    TransferConfig,
    UploadSupersededException,
)
from bucketbridge.drivers.records import Body, WriteOptions

MiB = 1024 * 1024
SMALL = TransferConfig(threshold=5 * MiB, part_size=5 * MiB, max_concurrency=2)


def _uncommitted(container: ContainerClient) -> list[str]:
    """Names of the blobs that exist only as uncommitted blocks."""
    committed = {blob.name for blob in container.list_blobs()}
    everything = {blob.name for blob in container.list_blobs(include=["uncommittedblobs"])}
    return sorted(everything - committed)


def test_parts_are_fixed_width_blocks_invisible_until_committed(
    azure_bucket: Bucket, container: ContainerClient
) -> None:
    upload = azure_bucket.objects.create("big.bin").create_multipart_upload(
        content_type="x/parts", metadata={"run-id": "7"}
    )
    parts = [upload.upload_part(n, bytes([n]) * (5 * MiB if n < 12 else 10)) for n in (1, 12)]
    _committed, blocks = container.get_blob_client("big.bin").get_block_list("uncommitted")
    ids = [base64.b64decode(block.id).decode() for block in blocks]
    assert len(ids) == 2 and {len(i) for i in ids} == {48}  # the SDK's own width
    assert all(i.startswith(f"bb-{upload.id}-") for i in ids)
    assert azure_bucket.objects.get("big.bin") is None and azure_bucket.objects.list() == []
    assert [(u.name, u.id) for u in azure_bucket.objects.incomplete_uploads()] == [
        ("big.bin", upload.id)
    ]
    obj = upload.complete(parts)
    assert obj.etag is not None and obj.etag.endswith("-2")
    properties = container.get_blob_client("big.bin").get_blob_properties()
    assert properties.content_settings.content_type == "x/parts"
    assert properties.metadata["bbx_run_2did"] == "7"
    got = azure_bucket.objects.get("big.bin")
    assert got is not None and (got.etag, got.metadata) == (obj.etag, {"run-id": "7"})
    assert _uncommitted(container) == [] and azure_bucket.objects.incomplete_uploads() == []


def test_abandoned_uploads_are_listed_and_cleared(
    azure_bucket: Bucket, container: ContainerClient
) -> None:
    mine = azure_bucket.objects.create("mine.bin").create_multipart_upload()
    mine.upload_part(1, b"abandoned")
    # blocks another tool staged and never committed
    container.get_blob_client("theirs.bin").stage_block(
        base64.b64encode(b"0" * 48).decode(), b"foreign"
    )
    listed = {(u.name, u.id) for u in azure_bucket.objects.incomplete_uploads()}
    assert listed == {("mine.bin", mine.id), ("theirs.bin", "*")}
    assert all(u.initiated is not None for u in azure_bucket.objects.incomplete_uploads())
    assert azure_bucket.objects.abort_incomplete_uploads() == 2
    assert _uncommitted(container) == []


def test_a_failed_upload_leaves_no_blob_and_no_blocks(
    azure_bucket: Bucket, container: ContainerClient
) -> None:
    class Breaks(io.RawIOBase):
        """A stream that fails after its first 6 MiB."""

        sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            if self.sent >= 6 * MiB:
                raise OSError("the source broke")
            n = min(len(buffer), 6 * MiB - self.sent)
            buffer[:n] = b"x" * n
            self.sent += n
            return n

    with pytest.raises(Exception, match="the source broke"):
        azure_bucket.objects.create("broken.bin").upload(io.BufferedReader(Breaks()), SMALL)
    assert azure_bucket.objects.get("broken.bin") is None
    assert _uncommitted(container) == []


def test_create_only_is_checked_by_the_commit_itself(
    azure: CloudProvider, azure_bucket: Bucket, container: ContainerClient
) -> None:
    driver = azure.driver
    session = driver.start_multipart(
        azure_bucket.name, "race.bin", WriteOptions("x/y", create_only=True)
    )
    part = session.upload_part(1, Body.of_bytes(b"mine"))
    # another writer, after any look (overwrite: Azurite takes a blob with
    # only uncommitted blocks for an existing one on Put Blob)
    container.upload_blob("race.bin", b"theirs", overwrite=True)
    with pytest.raises(PreconditionFailedException):
        session.complete([part], WriteOptions("x/y", create_only=True))
    assert container.get_blob_client("race.bin").download_blob().readall() == b"theirs"
    session.abort()


def test_aborting_an_upload_over_an_existing_object_keeps_the_object(
    azure_bucket: Bucket, container: ContainerClient
) -> None:
    azure_bucket.objects.create("kept.bin").upload(b"kept")
    upload = azure_bucket.objects.create("kept.bin").create_multipart_upload()
    upload.upload_part(1, os.urandom(1024))
    upload.abort()
    got = azure_bucket.objects.get("kept.bin")
    assert got is not None and got.download_range(0, 10) == b"kept"


def _overtaken_once(bucket: Bucket, key: str) -> Callable[[int], None]:
    """A progress callback that, after the first part of an upload is staged,
    has another upload commit ``key`` (discarding that part on Azure)."""
    done = threading.Event()

    def progress(_nbytes: int) -> None:
        if not done.is_set():
            done.set()
            other = bucket.objects.create(key).create_multipart_upload()
            other.complete([other.upload_part(1, b"theirs")])

    return progress


def test_an_explicit_upload_overtaken_by_another_commit_says_so(
    azure_bucket: Bucket, container: ContainerClient
) -> None:
    first = azure_bucket.objects.create("both.bin").create_multipart_upload()
    second = azure_bucket.objects.create("both.bin").create_multipart_upload()
    mine = [first.upload_part(1, b"first")]
    theirs = [second.upload_part(1, b"second")]
    second.complete(theirs)
    with pytest.raises(UploadSupersededException, match="another upload committed that name"):
        first.complete(mine)
    first.abort()
    got = azure_bucket.objects.get("both.bin")
    assert got is not None and got.download_range(0, 100) == b"second"
    assert _uncommitted(container) == [] and azure_bucket.objects.incomplete_uploads() == []


@pytest.mark.parametrize("source", ["stream", "file"])
def test_an_overtaken_upload_is_run_again_and_its_commit_wins(
    azure_bucket: Bucket, container: ContainerClient, tmp_path: Path, source: str
) -> None:
    data = os.urandom(11 * MiB)
    progress = _overtaken_once(azure_bucket, "big.bin")
    obj = azure_bucket.objects.create("big.bin")
    if source == "stream":
        obj.upload(io.BytesIO(data), SMALL, progress=progress)
    else:
        (tmp_path / "big.bin").write_bytes(data)
        obj.upload_from_file(tmp_path / "big.bin", SMALL, progress=progress)
    got = azure_bucket.objects.get("big.bin")
    assert got is not None and got.size == len(data) and got.etag == obj.etag
    assert got.download_range(0, 64) == data[:64]
    assert _uncommitted(container) == [] and azure_bucket.objects.incomplete_uploads() == []


def test_an_overtaken_upload_of_a_stream_that_cannot_seek_fails_naming_why(
    azure_bucket: Bucket, container: ContainerClient
) -> None:
    class OneWay(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            return self._data.readinto(buffer)

    progress = _overtaken_once(azure_bucket, "once.bin")
    with pytest.raises(
        UploadSupersededException, match="cannot seek, so the upload was not re-run"
    ):
        azure_bucket.objects.create("once.bin").upload(
            io.BufferedReader(OneWay(os.urandom(11 * MiB))), SMALL, progress=progress
        )
    got = azure_bucket.objects.get("once.bin")
    assert got is not None and got.download_range(0, 100) == b"theirs"
    assert _uncommitted(container) == [] and azure_bucket.objects.incomplete_uploads() == []
