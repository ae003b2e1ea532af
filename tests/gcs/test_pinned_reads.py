"""A read pinned to a revision never returns another revision's bytes, even
where fake-gcs-server keeps an object's generation when a compose replaces
it (GCS makes a new generation): the driver's revision is the generation
and the CRC32C, and it checks both on the media response."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from bucketbridge import Bucket, CloudProvider, PreconditionFailedException
from bucketbridge.drivers.records import ReadOptions
from tests.servers.fake_gcs import GcsServer

MiB = 1024 * 1024


@pytest.fixture(params=["lean", "sdk"])
def gcs(
    request: pytest.FixtureRequest,
    fake_gcs_server: GcsServer,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
) -> CloudProvider:
    """Both data planes check the media response's revision."""
    return make_provider(fake_gcs_server.config(data_plane=request.param))


def _compose_replace(bucket: Bucket, key: str, data: bytes) -> None:
    upload = bucket.objects.create(key).create_multipart_upload()
    upload.complete(
        [upload.upload_part(1, data[: 5 * MiB]), upload.upload_part(2, data[5 * MiB :])]
    )


def test_a_read_pinned_to_a_revision_a_compose_replaced_fails(
    gcs: CloudProvider, gcs_bucket: Bucket
) -> None:
    driver: Any = gcs.driver
    _compose_replace(gcs_bucket, "k", os.urandom(5 * MiB + 1))
    first = driver.head_object(gcs_bucket.name, "k")
    second_bytes = os.urandom(5 * MiB + 1)
    _compose_replace(gcs_bucket, "k", second_bytes)
    second = driver.head_object(gcs_bucket.name, "k")
    # the server quirk this guards against (a new generation would pass too)
    generation = first.revision.partition("/")[0]
    assert second.revision.partition("/")[0] == generation
    assert second.revision != first.revision

    with pytest.raises(PreconditionFailedException):
        driver.read_object(
            gcs_bucket.name, "k", ReadOptions(start=5 * MiB, if_revision=first.revision)
        )
    stream = driver.read_object(
        gcs_bucket.name, "k", ReadOptions(start=5 * MiB, if_revision=second.revision)
    )
    assert b"".join(stream) == second_bytes[5 * MiB :]


def test_a_read_a_listing_described_is_one_media_request(
    gcs: CloudProvider, gcs_bucket: Bucket, caplog: pytest.LogCaptureFixture
) -> None:
    """copy()/sync() hand the driver the listing's record: on the lean plane
    the read GETs that generation's media alone, no lookup first."""
    driver: Any = gcs.driver
    if driver.wire is None:
        pytest.skip("the SDK plane logs no requests (it looks the object up first)")
    data = os.urandom(4096)
    gcs_bucket.objects.create("k").upload(data)
    (listed,) = gcs_bucket.objects.list()
    info = driver.head_object(gcs_bucket.name, "k")
    with caplog.at_level("DEBUG", logger="bucketbridge.requests"):
        stream = driver.read_object(gcs_bucket.name, "k", ReadOptions(listed=info))
        assert b"".join(stream) == data
    requests = [r.getMessage() for r in caplog.records if r.name == "bucketbridge.requests"]
    assert len(requests) == 1 and "/download/" in requests[0], requests
    assert stream.info == info and listed.etag == info.etag


@pytest.mark.parametrize("replace", ["upload", "compose"])
def test_a_read_from_a_stale_listing_reads_the_live_object(
    gcs: CloudProvider, gcs_bucket: Bucket, replace: str
) -> None:
    """Replaced since it was listed (a new generation, or fake-gcs-server's
    compose that keeps the generation with new bytes), the object is looked
    up again and its live bytes read, never the listed revision's."""
    driver: Any = gcs.driver
    gcs_bucket.objects.create("k").upload(os.urandom(5 * MiB + 1))
    stale = driver.head_object(gcs_bucket.name, "k")
    live_bytes = os.urandom(5 * MiB + 1)
    if replace == "upload":
        gcs_bucket.objects.create("k").upload(live_bytes)
    else:
        _compose_replace(gcs_bucket, "k", live_bytes)
    live = driver.head_object(gcs_bucket.name, "k")
    assert live.revision != stale.revision
    stream = driver.read_object(gcs_bucket.name, "k", ReadOptions(listed=stale))
    assert stream.info.revision == live.revision
    assert b"".join(stream) == live_bytes


@pytest.mark.parametrize(
    ("header", "crc32c", "same"),
    [
        ("crc32c=mnG7TA==,md5=XUFAKrxLKna5cZ2REBfFkg==", "mnG7TA==", True),
        ("md5=XUFAKrxLKna5cZ2REBfFkg==, crc32c=mnG7TA==", "mnG7TA==", True),
        ("crc32c=AAAAAA==,md5=XUFAKrxLKna5cZ2REBfFkg==", "mnG7TA==", False),
        ("crc32c=AAAAAA==,crc32c=mnG7TA==", "mnG7TA==", True),  # the last counts
        ("md5=XUFAKrxLKna5cZ2REBfFkg==", "mnG7TA==", True),  # no CRC32C to compare
        (None, "mnG7TA==", True),
        ("", "mnG7TA==", True),
        ("crc32c=AAAAAA==", "", True),  # the record named none
        ("xcrc32c=mnG7TA==,crc32c=AAAAAA==", "mnG7TA==", False),
    ],
)
def test_the_media_responses_crc32c_is_read_from_x_goog_hash(
    header: str | None, crc32c: str, same: bool
) -> None:
    """The check that tells a compose-replaced object (same generation on
    fake-gcs-server) from the revision a read is pinned to."""
    from bucketbridge.drivers.gcs.driver import _same_crc32c

    assert _same_crc32c(header, crc32c) is same
