"""Object reads and writes on SeaweedFS where S3 needs care from the driver:
streams that cannot seek, and reads pinned to one version."""

from __future__ import annotations

import pytest

from bucketbridge import Bucket, CloudProvider, PreconditionFailedException
from bucketbridge.drivers.records import ReadOptions


def test_a_read_of_a_replaced_version_is_refused(
    seaweed: CloudProvider, seaweed_bucket: Bucket
) -> None:
    seaweed_bucket.objects.create("v.txt").upload(b"first version")
    before = seaweed.driver.head_object(seaweed_bucket.name, "v.txt")
    assert before is not None and before.revision is not None
    pinned = ReadOptions(start=0, end=5, if_revision=before.revision)
    same = seaweed.driver.read_object(seaweed_bucket.name, "v.txt", pinned)
    assert b"".join(same) == b"first"
    seaweed_bucket.objects.create("v.txt").upload(b"second version")
    with pytest.raises(PreconditionFailedException, match="replaced"):
        seaweed.driver.read_object(
            seaweed_bucket.name, "v.txt", ReadOptions(if_revision=before.revision)
        )


def test_single_put_with_progress(seaweed_bucket: Bucket) -> None:
    """With a progress callback the body the driver gets cannot seek, which
    botocore needs over HTTP to hash the payload and to retry."""
    seen: list[int] = []
    obj = seaweed_bucket.objects.create("small.bin").upload(b"p" * 3000, progress=seen.append)
    assert sum(seen) == 3000 and obj.size == 3000
    assert obj.download_range(0, 5000) == b"p" * 3000


def test_emptying_a_bucket_takes_one_request_per_thousand_objects(
    seaweed: CloudProvider,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.s3.conftest import unique_bucket_name

    bucket = seaweed.storage.buckets.create(unique_bucket_name())
    names = [f"k/{i:04d}" for i in range(1005)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: bucket.objects.create(name).upload(b"x"), names))
    calls: list[str] = []
    events = seaweed.driver._client.meta.events  # type: ignore[attr-defined]

    def count(model: object, **_: object) -> None:
        calls.append(model.name)  # type: ignore[attr-defined]

    events.register("before-call.s3", count)
    try:
        bucket.delete(delete_contents=True)
    finally:
        events.unregister("before-call.s3", count)
    assert calls.count("DeleteObjects") == 2
    assert "DeleteObject" not in calls
    assert seaweed.storage.buckets.get(bucket.name) is None
