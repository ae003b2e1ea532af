"""The embedded providers' signed-URL server over real sockets: its lifecycle,
clients that misbehave, and the HTTP it speaks."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from bucketbridge import BucketObject, CloudProvider, CloudProviderFactory, ProviderList
from bucketbridge.localserver import SignedUrlServer


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


IDLE_CLIENTS = 40  # more than cheroot's default pool of workers


def test_idle_clients_cannot_block_a_normal_get(obj: BucketObject) -> None:
    url = obj.generate_url(60)
    idle: list[socket.socket] = []
    try:
        for _ in range(IDLE_CLIENTS):
            sock = socket.create_connection(_address(url), timeout=10)
            # half a request head, then nothing: the slowest client there is
            sock.sendall(b"GET /served/data.bin HTTP/1.1\r\nHost: x\r\n")
            idle.append(sock)
        # generous: an unblocked GET takes milliseconds; a blocked one waits for
        # the idle clients to time out, tens of seconds
        response = requests.get(url, timeout=5)
        assert response.status_code == 200
        assert response.content == bytes(range(256)) * 4
    finally:
        for sock in idle:
            sock.close()


def test_past_its_connection_limit_the_server_answers_503_at_once(
    provider: CloudProvider, obj: BucketObject
) -> None:
    driver: Any = provider.driver
    server = SignedUrlServer(driver, driver._signer.signer, max_connections=2)
    base = server.start_in_thread()
    url = base + "/" + obj.generate_url(60).split("/", 3)[3]
    idle = [socket.create_connection(_address(base), timeout=10) for _ in range(2)]
    try:
        for sock in idle:
            sock.sendall(b"GET /served/data.bin HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.5)  # let the server take both before the third arrives
        assert requests.get(url, timeout=5).status_code == 503
        for sock in idle:
            sock.close()
        idle.clear()
        deadline = time.monotonic() + 10
        while (status := requests.get(url, timeout=5).status_code) == 503:
            assert time.monotonic() < deadline, "the slots of closed clients never came back"
            time.sleep(0.1)
        assert status == 200
    finally:
        for sock in idle:
            sock.close()
        server.stop()
