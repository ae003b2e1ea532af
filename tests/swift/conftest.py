"""Fixtures of the Swift-specific tests: providers on the real all-in-one
Swift of tests/servers/swift.py, and a plain swiftclient connection to look
behind the driver (segments containers, account keys)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from swiftclient.client import Connection

from bucketbridge import Bucket, CloudProvider, ProviderList
from tests.servers.providers import provider_factory
from tests.servers.swift import SwiftServer


def unique_bucket_name() -> str:
    return f"swt-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_provider() -> Iterator[Callable[[dict[str, Any]], CloudProvider]]:
    with provider_factory(ProviderList.OPENSTACK, lambda **config: config) as make:
        yield lambda config: make(**config)


@pytest.fixture
def swift(swift_server: SwiftServer, make_provider: Callable[..., CloudProvider]) -> CloudProvider:
    return make_provider(swift_server.config())


@pytest.fixture
def raw(swift_server: SwiftServer) -> Connection:
    storage_url, token = swift_server.auth()
    return Connection(preauthurl=storage_url, preauthtoken=token, retries=0)


@pytest.fixture
def swift_bucket(swift: CloudProvider) -> Iterator[Bucket]:
    bucket = swift.storage.buckets.create(unique_bucket_name())
    yield bucket
    bucket.delete(delete_contents=True)
