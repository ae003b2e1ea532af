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
