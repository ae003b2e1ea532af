"""Fixtures of the GCS-specific tests: providers on fake-gcs-server
(tests/servers/fake_gcs.py), made with the server's config plus ``extra``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bucketbridge import Bucket, CloudProvider, ProviderList
from tests.servers.fake_gcs import GcsServer
from tests.servers.providers import provider_factory

MakeProvider = Callable[..., CloudProvider]


def unique_bucket_name() -> str:
    return f"gcst-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_provider() -> Iterator[Callable[[dict[str, Any]], CloudProvider]]:
    """A provider from exactly the config given (no server defaults)."""
    with provider_factory(ProviderList.GCP, lambda **config: config) as make:
        yield lambda config: make(**config)


@pytest.fixture
def gcs(
    fake_gcs_server: GcsServer, make_provider: Callable[[dict[str, Any]], CloudProvider]
) -> CloudProvider:
    return make_provider(fake_gcs_server.config())


@pytest.fixture
def gcs_bucket(gcs: CloudProvider) -> Iterator[Bucket]:
    bucket = gcs.storage.buckets.create(unique_bucket_name())
    yield bucket
    bucket.delete(delete_contents=True)
