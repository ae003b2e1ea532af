"""Object reads and writes on SeaweedFS where S3 needs care from the driver:
streams that cannot seek, and reads pinned to one version."""

from __future__ import annotations

import pytest

from bucketbridge import Bucket, CloudProvider, PreconditionFailedException


def test_a_read_of_a_replaced_version_is_refused(
    seaweed: CloudProvider, seaweed_bucket: Bucket
) -> None:
    seaweed_bucket.objects.create("v.txt").upload(b"first version")
    before = seaweed.driver.head_object(seaweed_bucket.name, "v.txt")
    assert before is not None and before.version is not None
    same = seaweed.driver.read_object(
        seaweed_bucket.name, "v.txt", start=0, end=5, chunk_size=1024, if_version=before.version
    )
    assert b"".join(same) == b"first"
    seaweed_bucket.objects.create("v.txt").upload(b"second version")
    with pytest.raises(PreconditionFailedException, match="replaced"):
        seaweed.driver.read_object(
            seaweed_bucket.name, "v.txt", chunk_size=1024, if_version=before.version
        )


def test_single_put_with_progress(seaweed_bucket: Bucket) -> None:
    """With a progress callback the body the driver gets cannot seek, which
    botocore needs over HTTP to hash the payload and to retry."""
    seen: list[int] = []
    obj = seaweed_bucket.objects.create("small.bin").upload(b"p" * 3000, progress=seen.append)
    assert sum(seen) == 3000 and obj.size == 3000
    assert obj.download_range(0, 5000) == b"p" * 3000
