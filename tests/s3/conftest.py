"""Fixtures of the S3-specific tests: providers on the real servers of
tests/servers (SeaweedFS enforces signatures; moto issues session tokens)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bucketbridge import Bucket, CloudProvider, ProviderList
from tests.servers.providers import provider_factory
from tests.servers.seaweedfs import S3Server


def unique_bucket_name() -> str:
    return f"s3t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_provider() -> Iterator[Callable[[dict[str, Any]], CloudProvider]]:
    with provider_factory(ProviderList.AWS, lambda **config: config) as make:
        yield lambda config: make(**config)


@pytest.fixture
def seaweed(
    seaweedfs_server: S3Server, make_provider: Callable[[dict[str, Any]], CloudProvider]
) -> CloudProvider:
    return make_provider(seaweedfs_server.config())


@pytest.fixture
def seaweed_bucket(seaweed: CloudProvider) -> Iterator[Bucket]:
    bucket = seaweed.storage.buckets.create(unique_bucket_name())
    yield bucket
    bucket.delete(delete_contents=True)
