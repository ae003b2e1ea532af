"""Fixtures of the conformance suite: every test runs once per backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from bucketbridge import Bucket, CloudProvider
from tests.conformance.backends import BACKENDS
from tests.servers.embedded import ProviderFactory


@pytest.fixture(params=BACKENDS)
def provider_factory(request: pytest.FixtureRequest) -> ProviderFactory:
    factory: ProviderFactory = request.getfixturevalue(f"{request.param}_provider_factory")
    return factory


@pytest.fixture
def provider(provider_factory: ProviderFactory) -> CloudProvider:
    return provider_factory()


def unique_name(prefix: str = "bb") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def bucket(provider: CloudProvider) -> Iterator[Bucket]:
    created = provider.storage.buckets.create(unique_name())
    yield created
    created.delete(delete_contents=True)
