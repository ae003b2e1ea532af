"""CloudBridge's explicit multipart API, on every provider."""

from __future__ import annotations

import os

import pytest

from bucketbridge import (
    Bucket,
    InvalidValueException,
    MultipartUpload,
    NotFoundException,
    UploadPart,
)

MiB = 1024 * 1024


def test_parts_of_5_5_and_1_kib(bucket: Bucket) -> None:
    parts_data = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1024)]
    obj = bucket.objects.create("multi.bin")
    upload = obj.create_multipart_upload()
    assert isinstance(upload, MultipartUpload) and upload.id
    assert upload.name == upload.object_name == "multi.bin" and upload.bucket == bucket
    parts = [upload.upload_part(n, data) for n, data in enumerate(parts_data, start=1)]
    assert all(isinstance(p, UploadPart) for p in parts)
    assert [p.part_number for p in parts] == [1, 2, 3]
    completed = upload.complete(parts)
    assert completed.size == sum(map(len, parts_data))
    stored = bucket.objects.get("multi.bin")
    assert stored is not None and stored.size == completed.size
    assert b"".join(stored.iter_content()) == b"".join(parts_data)


def test_parts_sent_out_of_order_are_joined_ascending(bucket: Bucket) -> None:
    data = {n: bytes([n]) * (5 * MiB if n < 3 else 10) for n in (1, 2, 3)}
    upload = bucket.objects.create("ordered.bin").create_multipart_upload()
    parts = [upload.upload_part(n, data[n]) for n in (3, 1, 2)]
    obj = upload.complete(parts)
    assert obj.download_range(0, obj.size) == data[1] + data[2] + data[3]


def test_abort_leaves_nothing_and_is_idempotent(bucket: Bucket) -> None:
    upload = bucket.objects.create("aborted.bin").create_multipart_upload()
    upload.upload_part(1, os.urandom(1024))
    upload.abort()
    upload.abort()
    assert bucket.objects.get("aborted.bin") is None
    assert bucket.objects.list() == []


@pytest.mark.enforced("no_such_upload")
def test_an_aborted_upload_takes_no_more_parts(bucket: Bucket) -> None:
    upload = bucket.objects.create("gone.bin").create_multipart_upload()
    upload.upload_part(1, os.urandom(1024))
    upload.abort()
    with pytest.raises(NotFoundException):  # the upload and its parts are gone
        upload.upload_part(2, os.urandom(1024))


def test_a_small_part_before_the_last_is_refused(bucket: Bucket) -> None:
    upload = bucket.objects.create("small.bin").create_multipart_upload()
    parts = [upload.upload_part(1, b"tiny"), upload.upload_part(2, b"last")]
    with pytest.raises(InvalidValueException):
        upload.complete(parts)
    upload.abort()
    assert bucket.objects.get("small.bin") is None


@pytest.mark.parametrize("number", [0, -1, 10_001])
def test_part_numbers_outside_1_to_10000_are_refused(bucket: Bucket, number: int) -> None:
    upload = bucket.objects.create("numbers.bin").create_multipart_upload()
    with pytest.raises(InvalidValueException, match="part_number"):
        upload.upload_part(number, b"x")
    upload.abort()


def test_complete_needs_parts(bucket: Bucket) -> None:
    upload = bucket.objects.create("empty.bin").create_multipart_upload()
    with pytest.raises(InvalidValueException, match="parts"):
        upload.complete([])
    upload.abort()
