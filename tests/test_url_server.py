"""The embedded providers' signed-URL server over real sockets: its lifecycle,
clients that misbehave, and the HTTP it speaks."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from bucketbridge import BucketObject, CloudProvider, CloudProviderFactory, ProviderList


@pytest.fixture
def provider() -> Iterator[CloudProvider]:
    made = CloudProviderFactory().create_provider(ProviderList.MEMORY, {})
    yield made
    made.close()


@pytest.fixture
def obj(provider: CloudProvider) -> BucketObject:
    return (
        provider.storage.buckets.create("served")
        .objects.create("data.bin")
        .upload(bytes(range(256)) * 4)
    )


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def test_the_server_starts_on_first_url_and_stops_on_close(
    provider: CloudProvider, obj: BucketObject
) -> None:
    url = obj.generate_url(60)
    assert requests.get(url, timeout=10).content == bytes(range(256)) * 4
    assert obj.generate_url(60).split("?")[0] == url.split("?")[0]  # one server, reused
    provider.close()
    with pytest.raises(OSError):
        socket.create_connection(_address(url), timeout=5).close()
