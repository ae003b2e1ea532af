"""``copy()``/``sync()`` from a server backend whose source object is
replaced or deleted between the listing and the copy's read (a hostile
review; tests/local/test_batch_copies.py and test_hostile_copies.py do
LOCAL): the copy is the revision read -- its bytes, content type,
metadata, and the etag a sync records -- or, deleted, a failure naming it
with nothing written. Streamed to MEMORY, on the batch's lean path."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import pytest

from bucketbridge import Bucket, CloudProvider, copy, sync
from bucketbridge.sync import SOURCE_ETAG_KEY
from tests.conformance.conftest import backend_factory
from tests.servers.providers import ProviderFactory


@pytest.fixture(params=["s3_seaweedfs", "gcp_fake_gcs", "azure_azurite", "openstack_swift"])
def provider_factory(request: pytest.FixtureRequest) -> ProviderFactory:
    return backend_factory(request)


def _before_the_read(provider: CloudProvider, key: str, act: Callable[[], None]) -> None:
    """``act`` just before the first read of ``key``: the driver's
    ``read_object``, or the request of its small read (which the batch path
    multiplexes, see drivers/base.SmallReads), whichever comes first."""
    driver: Any = provider.driver
    real = driver.read_object
    done: list[bool] = []

    def before(read_key: str) -> None:
        if read_key == key and not done:
            done.append(True)
            act()

    def read(bucket_name: str, read_key: str, *args: Any) -> Any:
        before(read_key)
        return real(bucket_name, read_key, *args)

    driver.read_object = read
    small = provider.features.small_reads
    if small is not None:
        provider.features = dataclasses.replace(
            provider.features, small_reads=_SmallReadsBefore(small, before)
        )


class _SmallReadsBefore:
    """``small`` calling ``before(key)`` as each small read's request is made."""

    def __init__(self, small: Any, before: Callable[[str], None]) -> None:
        self._small = small
        self._before = before
        self.client = small.client

    def small_read(self, bucket_name: str, key: str, listed: Any) -> Any:
        self._before(key)
        return self._small.small_read(bucket_name, key, listed)

    def small_result(self, *args: Any) -> Any:
        return self._small.small_result(*args)


@pytest.mark.parametrize("run", ["copy", "sync"])
def test_a_source_replaced_after_its_listing_is_copied_as_read(
    provider: CloudProvider, bucket: Bucket, memory_bucket: Bucket, run: str
) -> None:
    for i in range(3):
        bucket.objects.create(f"in/k{i}").upload(
            os.urandom(1000), content_type="application/x-old", metadata={"n": str(i)}
        )
    fresh = os.urandom(2000)
    _before_the_read(
        provider,
        "in/k1",
        lambda: bucket.objects.create("in/k1").upload(
            fresh, content_type="text/x-new", metadata={"n": "new"}
        ),
    )
    report = (copy if run == "copy" else sync)(bucket, memory_bucket)
    assert (report.copied, report.ok) == (3, True), report.failures
    source, copied = bucket.objects.get("in/k1"), memory_bucket.objects.get("in/k1")
    assert source is not None and copied is not None
    assert b"".join(copied.iter_content()) == fresh
    assert copied.content_type == "text/x-new"
    stamp = {SOURCE_ETAG_KEY: source.etag} if run == "sync" else {}
    assert copied.metadata == {"n": "new", **stamp}
    if run == "sync":
        assert sync(bucket, memory_bucket).unchanged == 3


def test_a_source_deleted_after_its_listing_fails_alone(
    provider: CloudProvider, bucket: Bucket, memory_bucket: Bucket
) -> None:
    for i in range(3):
        bucket.objects.create(f"in/k{i}").upload(os.urandom(1000))
    _before_the_read(provider, "in/k1", lambda: bucket.objects.create("in/k1").delete())
    report = sync(bucket, memory_bucket, delete=True)
    assert (report.copied, len(report.failures)) == (2, 1)
    assert report.failures[0].name == "in/k1"
    assert any(words in str(report.failures[0]) for words in ("not found", "does not exist"))
    assert sorted(o.name for o in memory_bucket.objects) == ["in/k0", "in/k2"]
