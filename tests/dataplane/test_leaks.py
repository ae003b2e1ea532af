"""Nothing outlives the client: no descriptor or thread after close(), and
a response dropped unread closes its connection instead of leaving it to
the garbage collector's warning."""

from __future__ import annotations

import gc
import os
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from bucketbridge.dataplane.client import HttpClient
from bucketbridge.errors import ProviderConnectionException
from tests.dataplane.conftest import CountingSigner, get, settings, subject
from tests.dataplane.server import Exchange, Server
from tests.servers import certs


def descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def settle(condition: Callable[[], bool]) -> bool:
    """Whether ``condition`` holds within 5 s (the server's threads notice a
    closed connection on their own time; an earlier test's may still be
    ending, hence the comparisons with <=)."""
    deadline = time.monotonic() + 5
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def unclosed(caught: list[warnings.WarningMessage], server: Server) -> list[str]:
    """The collector's complaints about sockets to ``server`` left unclosed
    (an earlier test's leftovers are not this test's business)."""
    to_server = f"raddr=('127.0.0.1', {server.port})"
    return [str(warning.message) for warning in caught if to_server in str(warning.message)]


def big(exchange: Exchange) -> None:
    exchange.reply(200, b"b" * (4 * 1024 * 1024 if exchange.path == "/big" else 100))


def test_close_leaves_no_descriptor_and_no_thread(serve: Callable[..., Server]) -> None:
    server = serve(big)
    threads, fds = threading.active_count(), descriptors()
    client = HttpClient(settings())
    held = [
        client.send(get(server.url, "/small"), CountingSigner(), subject(server.url))
        for _ in range(6)
    ]
    for response in held[:5]:
        response.read()  # five idle in the pool (of four: one closed at once)
    unread = held[5]  # one still busy when the client closes
    client.close()
    unread.read()  # a busy connection finished after close() is closed, not pooled
    assert settle(lambda: threading.active_count() <= threads)
    assert settle(lambda: descriptors() <= fds)


def test_a_response_dropped_unread_closes_its_connection(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient]
) -> None:
    server = serve(big)
    client = make_client()
    threads, fds = threading.active_count(), descriptors()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        response = client.send(get(server.url, "/big"), CountingSigner(), subject(server.url))
        response.readinto(bytearray(1000))
        del response
        gc.collect()
    assert unclosed(caught, server) == []
    assert settle(lambda: threading.active_count() <= threads)
    assert settle(lambda: descriptors() <= fds)


def test_a_refused_certificate_leaves_no_socket_behind(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    tls = certs.make(tmp_path)
    server = serve(big, tls=tls.server)
    client = HttpClient(settings(max_attempts=2))
    fds = descriptors()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(ProviderConnectionException, match="certificate"):
            client.send(get(server.url), CountingSigner(), subject(server.url))
        gc.collect()
    client.close()
    assert unclosed(caught, server) == []
    assert settle(lambda: descriptors() <= fds)
