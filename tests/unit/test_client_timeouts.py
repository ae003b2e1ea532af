"""The lean plane's timeouts, on a plain socket (the kernel's own receive and
send timeouts, pool.py) as on any: a server that stops answering or stops
reading fails the request within about ``read_timeout``, named "read timed
out" or "write timed out". A real socket server on loopback that stalls."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from bucketbridge.config import ConnectionSettings
from bucketbridge.dataplane.client import HttpClient
from bucketbridge.dataplane.request import Endpoint, Request
from bucketbridge.dataplane.signing import NoSigner
from bucketbridge.drivers.http_errors import Subject
from bucketbridge.errors import ProviderConnectionException

HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"


@pytest.fixture
def stalling() -> Iterator[tuple[Endpoint, list[str]]]:
    """A server that reads a request head, then answers per its path:
    ``/silent`` never, ``/half`` a head and half the body, ``/deaf`` is
    never read at all. Every connection stays open until the test ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()
    kept: list[socket.socket] = []
    seen: list[str] = []

    def serve() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            kept.append(connection)
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            head = b""
            if b"/deaf" in connection.recv(64, socket.MSG_PEEK):
                seen.append("/deaf")
                continue
            while b"\r\n\r\n" not in head:
                head += connection.recv(65536)
            path = head.split(b" ", 2)[1].decode()
            seen.append(path)
            if path == "/half":
                connection.sendall(HEAD + b"x" * 50)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield Endpoint("http", "127.0.0.1", listener.getsockname()[1]), seen
    done.set()
    listener.close()
    for connection in kept:
        connection.close()


def _client() -> HttpClient:
    return HttpClient(
        ConnectionSettings(connect_timeout=2, read_timeout=0.3, max_attempts=1, pool_size=4)
    )


def _fails_in_time(call: object, reason: str) -> None:
    started = time.monotonic()
    with pytest.raises(ProviderConnectionException, match=reason):
        call()  # type: ignore[operator]
    assert 0.25 < time.monotonic() - started < 5


def test_a_server_that_never_answers_is_a_read_timeout(
    stalling: tuple[Endpoint, list[str]],
) -> None:
    endpoint, _ = stalling
    client = _client()
    request = Request("GET", endpoint, "/silent")
    _fails_in_time(lambda: client.send(request, NoSigner(), Subject("S3", "x")), "read timed out")


def test_a_body_that_stops_midway_is_a_read_timeout(stalling: tuple[Endpoint, list[str]]) -> None:
    endpoint, _ = stalling
    response = _client().send(Request("GET", endpoint, "/half"), NoSigner(), Subject("S3", "x"))
    assert response.status == 200
    _fails_in_time(response.read, "read timed out")


def test_a_server_that_stops_reading_is_a_write_timeout(
    stalling: tuple[Endpoint, list[str]],
) -> None:
    endpoint, _ = stalling
    client = _client()
    request = Request("PUT", endpoint, "/deaf", body=b"x" * (64 * 1024 * 1024))
    _fails_in_time(lambda: client.send(request, NoSigner(), Subject("S3", "x")), "write timed out")
