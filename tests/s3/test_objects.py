"""Object writes on SeaweedFS where S3 needs care from the driver: emptying a
bucket in batches. Pinned reads and progress on a single put are checked on
every provider in tests/conformance/test_objects.py."""

from __future__ import annotations

import logging

import pytest

from bucketbridge import CloudProvider


def test_emptying_a_bucket_takes_one_request_per_thousand_objects(
    seaweed: CloudProvider, caplog: pytest.LogCaptureFixture
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.s3.conftest import unique_bucket_name

    bucket = seaweed.storage.buckets.create(unique_bucket_name())
    names = [f"k/{i:04d}" for i in range(1005)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: bucket.objects.create(name).upload(b"x"), names))
    # the lean plane logs each request it makes: "METHOD address -> status"
    with caplog.at_level(logging.DEBUG, logger="bucketbridge.requests"):
        bucket.delete(delete_contents=True)
    methods = [record.getMessage().split()[0] for record in caplog.records]
    assert methods.count("POST") == 2  # DeleteObjects: a request per 1,000 keys
    assert methods.count("DELETE") == 1  # the bucket; no DeleteObject
    assert seaweed.storage.buckets.get(bucket.name) is None
