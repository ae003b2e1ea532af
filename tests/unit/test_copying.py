"""The core's choice between a server-side copy and a streamed one
(bucketbridge/copying.py), on the memory driver: which driver calls it
makes, and what the driver is handed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bucketbridge import CloudProvider, CloudProviderFactory, ProviderList
from bucketbridge.drivers.memory import MemoryDriver
from bucketbridge.drivers.records import ObjectInfo, WriteOptions


class _Recording(MemoryDriver):
    """The memory driver, its copies recorded; ``copies_keep_content_type``
    as Azure's Copy Blob."""

    def __init__(self, keeps_type: bool) -> None:
        super().__init__(server_url=None)
        self.copies_keep_content_type = keeps_type
        self.copied: list[ObjectInfo] = []
        self.heads = 0

    def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
        self.heads += 1
        return super().head_object(bucket, key)

    def copy_object(
        self, source_bucket: str, source: ObjectInfo, bucket: str, key: str, options: WriteOptions
    ) -> ObjectInfo:
        self.copied.append(source)
        return super().copy_object(source_bucket, source, bucket, key, options)


@pytest.fixture(params=[False, True], ids=["sets-type", "keeps-type"])
def provider(request: pytest.FixtureRequest) -> Iterator[CloudProvider]:
    made = CloudProviderFactory().create_provider(ProviderList.MEMORY, {})
    with CloudProvider("memory", {}, made.settings, _Recording(request.param)) as provider:
        yield provider
    made.close()


def test_the_driver_is_handed_the_source_as_looked_up_once(provider: CloudProvider) -> None:
    driver = provider.driver
    assert isinstance(driver, _Recording)
    bucket = provider.storage.buckets.create("bkt")
    source = bucket.objects.create("src").upload(b"hello", content_type="text/plain")
    driver.heads = 0
    source.copy_to(bucket, "dst", metadata={"n": "1"})
    assert driver.heads == 1  # the core's look; the driver's copy needs none
    [handed] = driver.copied
    assert (handed.key, handed.size, handed.etag, handed.content_type) == (
        "src",
        5,
        source.etag,
        "text/plain",
    )
    assert handed.revision is not None


def test_a_driver_whose_copies_keep_the_type_streams_a_retyped_copy(
    provider: CloudProvider,
) -> None:
    driver = provider.driver
    assert isinstance(driver, _Recording)
    keeps = driver.copies_keep_content_type
    assert provider.features.copies_keep_content_type is keeps
    bucket = provider.storage.buckets.create("bkt")
    source = bucket.objects.create("src").upload(b"hello", content_type="text/plain")
    copied = source.copy_to(bucket, "dst", content_type="application/json")
    assert copied.content_type == "application/json"
    assert len(driver.copied) == (0 if keeps else 1)  # streamed where the copy would keep it
    stored = bucket.objects.get("dst")
    assert stored is not None and stored.content_type == "application/json"
    assert b"".join(stored.iter_content()) == b"hello"
