"""Fixtures of the Azure-specific tests: providers on the Azurite of
tests/servers/azurite.py, and the SDK's own client to look behind them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from bucketbridge import Bucket, CloudProvider, ProviderList
from tests.servers.azurite import AzuriteServer
from tests.servers.providers import provider_factory

MakeProvider = Callable[[dict[str, Any]], CloudProvider]


def unique_bucket_name() -> str:
    return f"azt-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_provider() -> Iterator[MakeProvider]:
    with provider_factory(ProviderList.AZURE, lambda **config: config) as make:
        yield lambda config: make(**config)


@pytest.fixture
def azure(azurite_server: AzuriteServer, make_provider: MakeProvider) -> CloudProvider:
    return make_provider(azurite_server.config())


@pytest.fixture
def azure_bucket(azure: CloudProvider) -> Iterator[Bucket]:
    bucket = azure.storage.buckets.create(unique_bucket_name())
    yield bucket
    bucket.delete(delete_contents=True)


@pytest.fixture
def sdk(azurite_server: AzuriteServer) -> Iterator[BlobServiceClient]:
    client = BlobServiceClient.from_connection_string(azurite_server.connection_string)
    yield client
    client.close()


@pytest.fixture
def container(sdk: BlobServiceClient, azure_bucket: Bucket) -> ContainerClient:
    """The SDK's view of ``azure_bucket``."""
    return sdk.get_container_client(azure_bucket.name)
