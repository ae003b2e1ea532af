"""S3's server-side copy (drivers/s3/copies.py) on the real servers: a
multipart copy above a small ``s3_copy_threshold``, the source pinned to its
revision on every request, no upload left behind by a failure, and metadata
and keys that need encoding on the wire. tests/conformance/test_copy.py covers
the rest on every backend."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bucketbridge import (
    Bucket,
    CloudProvider,
    InvalidConfigurationException,
    PreconditionFailedException,
    ProviderConnectionException,
)
from bucketbridge.drivers.records import WriteOptions
from bucketbridge.drivers.s3.driver import S3Driver
from tests.interrupts import Interrupted, interrupted_starts
from tests.s3.conftest import unique_bucket_name
from tests.servers.moto import MotoServer
from tests.servers.seaweedfs import S3Server

MiB = 1024 * 1024
SMALL_COPIES = {"s3_copy_threshold": 5 * MiB, "s3_copy_part_size": 5 * MiB}
DATA = os.urandom(11 * MiB + 17)  # three parts of 5 MiB
AWKWARD_METADATA = {
    "run-id": "7",
    "1st": "a  b",
    "x-y-z": '~!@#$^&*()[]{}|\\/?`\'"q"=;,%20 <x>',
    "_under_": "u",
}
AWKWARD_KEY = "dir/caf\u00e9 +%20&?#=\u4e2d.bin"


@pytest.fixture(params=["seaweedfs", "moto"])
def small_copies(
    request: pytest.FixtureRequest, make_provider: Callable[[dict[str, Any]], CloudProvider]
) -> Iterator[Bucket]:
    server: S3Server | MotoServer = request.getfixturevalue(f"{request.param}_server")
    provider = make_provider(server.config(multipart_max_concurrency=2, **SMALL_COPIES))
    bucket = provider.storage.buckets.create(unique_bucket_name())
    yield bucket
    bucket.delete(delete_contents=True)


@pytest.fixture
def seaweed_small_copies(
    seaweedfs_server: S3Server, make_provider: Callable[[dict[str, Any]], CloudProvider]
) -> Iterator[Bucket]:
    provider = make_provider(seaweedfs_server.config(multipart_max_concurrency=2, **SMALL_COPIES))
    bucket = provider.storage.buckets.create(unique_bucket_name())
    yield bucket
    bucket.delete(delete_contents=True)


def _driver(bucket: Bucket) -> S3Driver:
    driver = bucket._provider.driver
    assert isinstance(driver, S3Driver)
    return driver


def _content(bucket: Bucket, key: str) -> bytes:
    found = bucket.objects.get(key)
    assert found is not None, key
    return b"".join(found.iter_content())


def test_above_the_threshold_the_copy_is_multipart_and_whole(small_copies: Bucket) -> None:
    bucket = small_copies
    bucket.objects.create("big.bin").upload(DATA, content_type="application/x-big")
    source = bucket.objects.get("big.bin")
    assert source is not None
    copied = source.copy_to(bucket, AWKWARD_KEY, metadata={"k": "v"})
    assert copied.size == len(DATA)
    stored = bucket.objects.get(AWKWARD_KEY)
    assert stored is not None
    assert stored.etag is not None and stored.etag.endswith("-3")  # three UploadPartCopy parts
    assert (stored.content_type, stored.metadata) == ("application/x-big", {"k": "v"})
    assert _content(bucket, AWKWARD_KEY) == DATA
    assert list(bucket.objects.incomplete_uploads()) == []


def test_metadata_and_keys_that_need_encoding_survive_the_copy(
    small_copies: Bucket, request: pytest.FixtureRequest
) -> None:
    metadata = dict(AWKWARD_METADATA)
    if request.node.callspec.params["small_copies"] == "moto":
        del metadata["_under_"]  # moto's server drops such headers (its UNENFORCED)
    bucket = small_copies
    source = bucket.objects.create(AWKWARD_KEY).upload(b"small", metadata=metadata)
    copied = source.copy_to(bucket, AWKWARD_KEY + ".copy")
    stored = bucket.objects.get(AWKWARD_KEY + ".copy")
    assert stored is not None and copied.size == 5
    assert stored.metadata == metadata
    assert copied.etag == stored.etag and copied.last_modified == stored.last_modified
    assert _content(bucket, AWKWARD_KEY + ".copy") == b"small"


@pytest.mark.parametrize("size", [100, len(DATA)], ids=["CopyObject", "UploadPartCopy"])
def test_the_server_refuses_a_copy_of_a_replaced_revision(
    seaweed_small_copies: Bucket, size: int
) -> None:
    """The source is replaced after the core looked it up (the driver looks
    no more): the ``x-amz-copy-source-if-match`` on the copy itself must
    refuse it (moto ignores it: ``copy_conditions``)."""
    bucket = seaweed_small_copies
    driver = _driver(bucket)
    bucket.objects.create("src").upload(DATA[:size])
    stale = driver.head_object(bucket.name, "src")
    assert stale is not None
    bucket.objects.create("src").upload(DATA[1 : size + 1])  # same size, new bytes
    with pytest.raises(PreconditionFailedException, match="replaced"):
        driver.copy_object(bucket.name, stale, bucket.name, "dst", WriteOptions("text/plain"))
    assert bucket.objects.get("dst") is None
    assert list(bucket.objects.incomplete_uploads()) == []


def test_a_failed_part_aborts_the_upload(
    small_copies: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = small_copies
    driver = _driver(bucket)
    bucket.objects.create("big.bin").upload(DATA)
    real = driver._client.upload_part_copy

    def second_part_fails(**args: Any) -> Any:
        if args["PartNumber"] == 2:
            raise ClientError(
                {"Error": {"Code": "InternalError"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
                "UploadPartCopy",
            )
        return real(**args)

    monkeypatch.setattr(driver._client, "upload_part_copy", second_part_fails)
    source = bucket.objects.get("big.bin")
    assert source is not None
    with pytest.raises(ProviderConnectionException):
        source.copy_to(bucket, "dst")
    assert bucket.objects.get("dst") is None
    assert list(bucket.objects.incomplete_uploads()) == []


def test_an_interrupt_while_the_copy_starts_leaves_no_open_upload(
    seaweed_small_copies: Bucket,
) -> None:
    """Ctrl-C (or the CLI's SIGTERM) landing while the server answers the
    multipart copy's start: the upload is aborted, the interrupt raised
    (tests/interrupts.py; drivers/shielded.py)."""
    bucket = seaweed_small_copies
    bucket.objects.create("big.bin").upload(DATA)
    source = bucket.objects.get("big.bin")
    assert source is not None
    with interrupted_starts(_driver(bucket)) as started, pytest.raises(Interrupted):
        source.copy_to(bucket, "dst")
    assert len(started) == 1, "the multipart copy was started"
    assert bucket.objects.get("dst") is None
    assert list(bucket.objects.incomplete_uploads()) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [("s3_copy_threshold", 5 * 1024 * MiB + 1), ("s3_copy_part_size", 5 * 1024 * MiB + 1)],
)
def test_a_copy_setting_beyond_s3s_limits_is_refused(
    seaweedfs_server: S3Server,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    key: str,
    value: int,
) -> None:
    with pytest.raises(InvalidConfigurationException, match=f"{key}.*{value}"):
        make_provider(seaweedfs_server.config(**{key: value}))
