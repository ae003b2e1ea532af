"""Every parameter of the public API, given a wrong type or value, raises a
bucketbridge exception naming the parameter and the value, before any request,
on every provider; nothing is stored, changed or deleted."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import (
    Bucket,
    BucketObject,
    CloudProvider,
    InvalidValueException,
    UploadPart,
)

Case = Callable[[CloudProvider, Bucket, BucketObject, Path], Any]
CONTENT = b"original content"


def _upload_part(part_number: Any, data: Any) -> Case:
    def case(provider: CloudProvider, bucket: Bucket, obj: BucketObject, tmp: Path) -> Any:
        upload = bucket.objects.create("parts.bin").create_multipart_upload()
        try:
            return upload.upload_part(part_number, data)
        finally:
            upload.abort()

    return case


def _complete(parts: Any) -> Case:
    def case(provider: CloudProvider, bucket: Bucket, obj: BucketObject, tmp: Path) -> Any:
        upload = bucket.objects.create("parts.bin").create_multipart_upload()
        try:
            return upload.complete(parts)
        finally:
            upload.abort()

    return case


CASES: dict[str, tuple[str, Case]] = {
    # reads
    "iter_content-chunk_size-str": ("chunk_size", lambda p, b, o, t: o.iter_content("big")),
    "iter_content-chunk_size-bool": ("chunk_size", lambda p, b, o, t: o.iter_content(True)),
    "iter_content-chunk_size-float": ("chunk_size", lambda p, b, o, t: o.iter_content(1.5)),
    "iter_content-chunk_size-negative": ("chunk_size", lambda p, b, o, t: o.iter_content(-1)),
    "save_content-target_stream-none": ("target_stream", lambda p, b, o, t: o.save_content(None)),
    "save_content-target_stream-text": (
        "target_stream",
        lambda p, b, o, t: o.save_content(io.StringIO()),
    ),
    "save_content-chunk_size-str": (
        "chunk_size",
        lambda p, b, o, t: o.save_content(io.BytesIO(), chunk_size="big"),
    ),
    "download_range-offset-bool": ("offset", lambda p, b, o, t: o.download_range(True, 2)),
    "download_range-offset-str": ("offset", lambda p, b, o, t: o.download_range("0", 2)),
    "download_range-offset-negative": ("offset", lambda p, b, o, t: o.download_range(-1, 2)),
    "download_range-length-float": ("length", lambda p, b, o, t: o.download_range(0, 2.5)),
    "download_range-length-none": ("length", lambda p, b, o, t: o.download_range(0, None)),
    "download_to_file-path-none": ("path", lambda p, b, o, t: o.download_to_file(None)),
    "download_to_file-path-int": ("path", lambda p, b, o, t: o.download_to_file(5)),
    "download_to_file-path-empty": ("path", lambda p, b, o, t: o.download_to_file("")),
    "download_to_file-config": (
        "config",
        lambda p, b, o, t: o.download_to_file(t / "out", "fast"),
    ),
    "download_to_file-progress": (
        "progress",
        lambda p, b, o, t: o.download_to_file(t / "out", progress="yes"),
    ),
    # writes
    "upload-data-int": ("data", lambda p, b, o, t: o.upload(123)),
    "upload-data-none": ("data", lambda p, b, o, t: o.upload(None)),
    "upload-config-int": ("config", lambda p, b, o, t: o.upload(b"new", 5)),
    "upload-config-dict": ("config", lambda p, b, o, t: o.upload(b"new", {"part_size": 1})),
    "upload-overwrite-str": ("overwrite", lambda p, b, o, t: o.upload(b"new", overwrite="no")),
    "upload-overwrite-int": ("overwrite", lambda p, b, o, t: o.upload(b"new", overwrite=0)),
    "upload-progress": ("progress", lambda p, b, o, t: o.upload(b"new", progress=5)),
    "upload-metadata-list": (
        "metadata",
        lambda p, b, o, t: o.upload(b"new", metadata=[("a", "b")]),
    ),
    "upload-metadata-str": ("metadata", lambda p, b, o, t: o.upload(b"new", metadata="ab")),
    "upload-metadata-value": (
        "metadata['a']",
        lambda p, b, o, t: o.upload(b"new", metadata={"a": 1}),
    ),
    "upload-content_type-int": (
        "content_type",
        lambda p, b, o, t: o.upload(b"new", content_type=5),
    ),
    "upload-content_type-newline": (
        "content_type",
        lambda p, b, o, t: o.upload(b"new", content_type="text/plain\r\nX-Evil: 1"),
    ),
    "upload_from_file-path-none": ("path", lambda p, b, o, t: o.upload_from_file(None)),
    "upload_from_file-path-bytes": ("path", lambda p, b, o, t: o.upload_from_file(b"/etc/hosts")),
    "create_multipart_upload-metadata": (
        "metadata",
        lambda p, b, o, t: o.create_multipart_upload(metadata="x"),
    ),
    "create_multipart_upload-content_type": (
        "content_type",
        lambda p, b, o, t: o.create_multipart_upload(content_type=5),
    ),
    "upload_part-part_number-bool": ("part_number", _upload_part(True, b"x")),
    "upload_part-part_number-str": ("part_number", _upload_part("1", b"x")),
    "upload_part-part_number-zero": ("part_number", _upload_part(0, b"x")),
    "upload_part-data-str": ("data", _upload_part(1, "text")),
    "complete-parts-ints": ("parts", _complete([1, 2])),
    "complete-parts-str": ("parts", _complete("ab")),
    "complete-parts-none": ("parts", _complete(None)),
    "complete-parts-generator": ("parts", _complete(UploadPart(1, "x") for _ in range(1))),
    # signed URLs
    "generate_url-expires_in-str": ("expires_in", lambda p, b, o, t: o.generate_url("60")),
    "generate_url-writable-str": ("writable", lambda p, b, o, t: o.generate_url(60, "yes")),
    "generate_url-content_type-int": (
        "content_type",
        lambda p, b, o, t: o.generate_url(60, True, content_type=5),
    ),
    "generate_url-content_disposition-int": (
        "content_disposition",
        lambda p, b, o, t: o.generate_url(60, content_disposition=5),
    ),
    # listing and buckets
    "objects.list-prefix": ("prefix", lambda p, b, o, t: b.objects.list(prefix=5)),
    "objects.list-limit-bool": ("limit", lambda p, b, o, t: b.objects.list(limit=True)),
    "objects.list-limit-str": ("limit", lambda p, b, o, t: b.objects.list(limit="10")),
    "objects.list-marker": ("marker", lambda p, b, o, t: b.objects.list(marker=5)),
    "buckets.list-limit": ("limit", lambda p, b, o, t: p.storage.buckets.list(limit=0)),
    "buckets.list-marker": ("marker", lambda p, b, o, t: p.storage.buckets.list(marker=5)),
    "buckets.create-location": (
        "location",
        lambda p, b, o, t: p.storage.buckets.create("never-made-location", 5),
    ),
    "bucket.delete-delete_contents": (
        "delete_contents",
        lambda p, b, o, t: b.delete(delete_contents="yes"),
    ),
    "buckets.delete-delete_contents": (
        "delete_contents",
        lambda p, b, o, t: p.storage.buckets.delete(b, delete_contents=1),
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_input_is_named_and_changes_nothing(
    provider: CloudProvider, bucket: Bucket, tmp_path: Path, case: str
) -> None:
    param, call = CASES[case]
    obj = bucket.objects.create("x.txt").upload(CONTENT)
    with pytest.raises(InvalidValueException) as raised:
        call(provider, bucket, obj, tmp_path)
    assert raised.value.param == param
    assert param in str(raised.value)
    assert provider.storage.buckets.get(bucket.name) is not None
    assert [o.name for o in bucket.objects] == ["x.txt"]
    stored = bucket.objects.get("x.txt")
    assert stored is not None and stored.download_range(0, 100) == CONTENT
    assert provider.storage.buckets.get("never-made-location") is None
    assert list(tmp_path.iterdir()) == []
