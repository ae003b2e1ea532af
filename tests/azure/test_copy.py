"""Server-side copies on Azurite (``drivers/azure/copies.py``): Copy Blob,
pinned to the source's revision, authorised by a short-lived read SAS that
never shows in an error or a log."""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from bucketbridge import (
    Bucket,
    CloudProvider,
    InvalidValueException,
    PreconditionFailedException,
    TransferConfig,
)
from bucketbridge.drivers.azure import copies
from bucketbridge.drivers.azure.metadata import ETAG_NAME
from bucketbridge.drivers.records import WriteOptions

MiB = 1024 * 1024
SMALL = TransferConfig(threshold=5 * MiB, part_size=5 * MiB, max_concurrency=2)


def _content(bucket: Bucket, name: str) -> bytes:
    found = bucket.objects.get(name)
    assert found is not None, name
    return b"".join(found.iter_content())


def test_a_copy_of_a_block_blob_keeps_bytes_and_its_multipart_etag(
    azure_bucket: Bucket, container: ContainerClient
) -> None:
    data = os.urandom(11 * MiB + 3)  # three blocks under SMALL
    source = azure_bucket.objects.create("big").upload(data, SMALL)
    assert source.etag is not None and source.etag.endswith("-3")
    copied = source.copy_to(azure_bucket, "copy", config=SMALL)
    stored = azure_bucket.objects.get("copy")
    assert stored is not None
    assert (copied.size, copied.etag, stored.etag) == (len(data), source.etag, source.etag)
    assert _content(azure_bucket, "copy") == data
    # the whole blob is committed: no uncommitted block waits on either name
    for name in ("big", "copy"):
        _committed, uncommitted = container.get_blob_client(name).get_block_list("all")
        assert uncommitted == []
    assert list(azure_bucket.objects.incomplete_uploads()) == []


def test_a_source_replaced_after_the_look_up_is_refused_by_the_server(
    azure: CloudProvider, azure_bucket: Bucket, container: ContainerClient
) -> None:
    """The pin travels with the copy (x-ms-source-if-match): the source is
    replaced between the core's look and the Copy Blob."""
    azure_bucket.objects.create("src").upload(b"first")
    driver: Any = azure.driver
    info = driver.head_object(azure_bucket.name, "src")
    container.upload_blob("src", b"second", overwrite=True)
    with pytest.raises(PreconditionFailedException, match="replaced"):
        driver.copy_object(
            azure_bucket.name, info, azure_bucket.name, "dst", WriteOptions(info.content_type)
        )
    assert azure_bucket.objects.get("dst") is None
    assert [blob.name for blob in container.list_blobs(include=["uncommittedblobs"])] == ["src"]


def test_metadata_that_needs_encoding_survives_the_copy_and_none_means_none(
    azure_bucket: Bucket, container: ContainerClient
) -> None:
    metadata = {"run-id": "7", "1st": "a", "bbx_raw": "b", "plain": "c"}
    source = azure_bucket.objects.create("src").upload(b"hello", metadata=metadata)
    source.copy_to(azure_bucket, "same")
    same = azure_bucket.objects.get("same")
    assert same is not None and same.metadata == metadata and same.etag == source.etag
    stored = container.get_blob_client("same").get_blob_properties().metadata
    assert "bbx_run_2did" in stored and ETAG_NAME in stored
    # Copy Blob keeps the source's metadata when sent none: an empty one is asked for
    source.copy_to(azure_bucket, "bare", metadata={})
    bare = azure_bucket.objects.get("bare")
    assert bare is not None and bare.metadata == {}


def test_the_source_sas_never_shows_in_an_error_or_a_log(
    azure: CloudProvider,
    azure_bucket: Bucket,
    container: ContainerClient,
    monkeypatch: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tokens: list[str] = []
    sign = copies.generate_blob_sas

    def recorded(*args: Any, **kwargs: Any) -> str:
        tokens.append(sign(*args, **kwargs))
        return tokens[-1]

    monkeypatch.setattr(copies, "generate_blob_sas", recorded)
    azure_bucket.objects.create("src").upload(b"x")
    azure_bucket.objects.create("dst").upload(b"kept")
    driver: Any = azure.driver
    info = driver.head_object(azure_bucket.name, "src")
    caplog.set_level(logging.DEBUG)
    failures: list[BaseException] = []
    with pytest.raises(PreconditionFailedException) as exists:  # create-only onto "dst"
        driver.copy_object(
            azure_bucket.name,
            info,
            azure_bucket.name,
            "dst",
            WriteOptions(info.content_type, {}, True),
        )
    failures.append(exists.value)
    container.upload_blob("src", b"y", overwrite=True)
    with pytest.raises(PreconditionFailedException) as replaced:
        driver.copy_object(
            azure_bucket.name, info, azure_bucket.name, "new", WriteOptions(info.content_type)
        )
    failures.append(replaced.value)
    monkeypatch.undo()
    assert len(tokens) == 2 and all("sig=" in token for token in tokens)
    signatures = [dict(p.split("=", 1) for p in token.split("&"))["sig"] for token in tokens]
    texts = [caplog.text]
    for failure in failures:
        current: BaseException | None = failure
        while current is not None:
            texts += [str(current), repr(current)]
            current = current.__cause__ or current.__context__
    for signature in signatures:
        assert all(signature not in text for text in texts)
    assert _content(azure_bucket, "dst") == b"kept"


def test_a_direct_copy_given_another_type_is_refused_and_the_core_streams_it(
    azure: CloudProvider, azure_bucket: Bucket, container: ContainerClient
) -> None:
    """Copy Blob keeps the source's type: retyping it afterwards would show
    the wrong type for a round trip, so the driver refuses and the core streams."""
    source = azure_bucket.objects.create("src").upload(b"hello", content_type="text/plain")
    driver: Any = azure.driver
    assert azure.features.copies_keep_content_type
    info = driver.head_object(azure_bucket.name, "src")
    with pytest.raises(InvalidValueException, match="text/x-new"):
        driver.copy_object(
            azure_bucket.name, info, azure_bucket.name, "dst", WriteOptions("text/x-new")
        )
    assert azure_bucket.objects.get("dst") is None
    copied = source.copy_to(azure_bucket, "dst", content_type="text/x-new")
    assert copied.content_type == "text/x-new"
    # streamed, not Copy Blob: the blob carries no copy record
    assert container.get_blob_client("dst").get_blob_properties().copy.id is None
    assert _content(azure_bucket, "dst") == b"hello"
