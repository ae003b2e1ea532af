"""Fixtures of the Swift-specific tests: providers on the real all-in-one
Swift of tests/servers/swift.py, and a plain swiftclient connection to look
behind the driver (segments containers, account keys)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from swiftclient.client import ClientException, Connection

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


def live_segments(raw: Connection, bucket: Bucket) -> list[str]:
    """The names in ``<bucket>_segments`` that are not retired: an
    overwritten or deleted SLO's segments carry ``X-Delete-At`` for their
    grace (bucketbridge/drivers/swift/retire.py), then answer 404 until the
    object expirer removes them; both are left out."""
    return [
        name
        for name, headers in segment_headers(raw, bucket).items()
        if headers is not None and "x-delete-at" not in headers
    ]


def segment_headers(raw: Connection, bucket: Bucket) -> dict[str, dict[str, str] | None]:
    """Each name listed in ``<bucket>_segments`` with its HEAD; None for one
    listed but past its X-Delete-At (no expirer has removed it yet)."""
    container = f"{bucket.name}_segments"
    try:
        _, listing = raw.get_container(container, full_listing=True)
    except ClientException:
        return {}
    found: dict[str, dict[str, str] | None] = {}
    for entry in listing:
        try:
            found[entry["name"]] = raw.head_object(container, entry["name"])
        except ClientException as error:
            if error.http_status != 404:
                raise
            found[entry["name"]] = None
    return found
