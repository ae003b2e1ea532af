"""Multipart uploads on GCS are temporary part objects joined with compose
(bucketbridge/drivers/gcs/uploads.py): never listed as objects, listed as
incomplete uploads until completed or aborted, and gone afterwards."""

from __future__ import annotations

import os
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from bucketbridge import Bucket, InvalidValueException
from bucketbridge.drivers.gcs import uploads
from tests.servers.fake_gcs import GcsServer

MiB = 1024 * 1024


def _raw_names(server: GcsServer, bucket: str) -> list[str]:
    """Every object in the bucket, hidden ones too, as the SDK lists them."""
    client: Any = storage.Client(
        project="p",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": server.endpoint_url},
    )
    return [blob.name for blob in client.list_blobs(bucket)]


def test_parts_are_never_listed_and_are_deleted_on_complete(
    gcs_bucket: Bucket, fake_gcs_server: GcsServer
) -> None:
    gcs_bucket.objects.create("before").upload(b"b")
    upload = gcs_bucket.objects.create("big.bin").create_multipart_upload(
        content_type="application/x-test", metadata={"who": "me"}
    )
    parts = [upload.upload_part(1, os.urandom(5 * MiB)), upload.upload_part(2, b"end")]
    assert [o.name for o in gcs_bucket.objects.list()] == ["before"]
    assert any(
        n.startswith(uploads.UPLOADS_PREFIX) for n in _raw_names(fake_gcs_server, gcs_bucket.name)
    )
    assert [u.id for u in gcs_bucket.objects.incomplete_uploads()] == [upload.id]
    obj = upload.complete(parts)
    assert obj.size == 5 * MiB + 3 and obj.etag is not None and obj.etag.endswith("-2")
    stored = gcs_bucket.objects.get("big.bin")
    assert stored is not None
    assert (stored.content_type, dict(stored.metadata or {})) == (
        "application/x-test",
        {"who": "me"},
    )
    assert stored.etag == obj.etag  # the hidden etag key is not user metadata
    assert sorted(_raw_names(fake_gcs_server, gcs_bucket.name)) == ["before", "big.bin"]
    assert gcs_bucket.objects.incomplete_uploads() == []


def test_abort_incomplete_uploads_removes_every_piece(
    gcs_bucket: Bucket, fake_gcs_server: GcsServer
) -> None:
    for name in ("one.bin", "two.bin"):
        upload = gcs_bucket.objects.create(name).create_multipart_upload()
        upload.upload_part(1, os.urandom(1024))
    listed = gcs_bucket.objects.incomplete_uploads()
    assert sorted(u.name for u in listed) == ["one.bin", "two.bin"]
    assert gcs_bucket.objects.abort_incomplete_uploads() == 2
    assert _raw_names(fake_gcs_server, gcs_bucket.name) == []


def test_more_parts_than_one_compose_takes_are_joined_in_a_tree(
    gcs_bucket: Bucket, fake_gcs_server: GcsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "MAX_COMPOSE_SOURCES", 2)  # 32 on GCS: 160 MiB of parts
    data = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(5 * MiB), b"tail"]
    upload = gcs_bucket.objects.create("tree.bin").create_multipart_upload()
    parts = [upload.upload_part(n, d) for n, d in enumerate(data, start=1)]
    obj = upload.complete(parts)
    assert obj.etag is not None and obj.etag.endswith("-4")
    assert obj.download_range(0, obj.size) == b"".join(data)
    assert _raw_names(fake_gcs_server, gcs_bucket.name) == ["tree.bin"]


def test_the_etag_metadata_key_is_reserved(gcs_bucket: Bucket) -> None:
    obj = gcs_bucket.objects.create("meta.txt")
    with pytest.raises(InvalidValueException, match=uploads.ETAG_METADATA_KEY):
        obj.upload(b"x", metadata={uploads.ETAG_METADATA_KEY: "forged-1"})
    with pytest.raises(InvalidValueException, match=uploads.ETAG_METADATA_KEY):
        obj.create_multipart_upload(metadata={uploads.ETAG_METADATA_KEY: "forged-1"})
    assert gcs_bucket.objects.get("meta.txt") is None


def test_a_page_thinned_by_parts_is_filled_from_the_next(gcs_bucket: Bucket) -> None:
    # "-" sorts before ".bucketbridge/", which sorts before letters
    for name in ("-first", "a", "b"):
        gcs_bucket.objects.create(name).upload(b"x")
    upload = gcs_bucket.objects.create("c").create_multipart_upload()
    upload.upload_part(1, b"part")
    page = gcs_bucket.objects.list(limit=2)
    assert [o.name for o in page] == ["-first", "a"] and page.is_truncated
    rest = gcs_bucket.objects.list(limit=2, marker=page.marker)
    assert [o.name for o in rest] == ["b"]
    upload.abort()
