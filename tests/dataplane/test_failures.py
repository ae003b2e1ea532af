"""A server that cannot be reached, or stops answering, gives one
ProviderConnectionException in bounded time that names the endpoint, says
what happened, and shows no secret of the request."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bucketbridge.dataplane.client import HttpClient
from bucketbridge.drivers.records import Body
from bucketbridge.errors import ProviderConnectionException
from tests.dataplane.conftest import CountingSigner, get, subject
from tests.dataplane.server import Exchange, Server
from tests.servers import certs

SECRET_HEADER = "header-secret-8f3a"
SECRET_QUERY = "query-secret-51c7"
TIMEOUT = 0.3


def secret_request(url: str, path: str = "/object") -> object:
    return get(
        url,
        path,
        query=[("X-Amz-Signature", SECRET_QUERY)],
        headers={"authorization": f"Bearer {SECRET_HEADER}"},
    )


@pytest.fixture
def stalled() -> Iterator[threading.Event]:
    """Set at the end of the test: stalled server handlers give up then."""
    release = threading.Event()
    yield release
    release.set()


def fail(client: HttpClient, url: str, caplog: pytest.LogCaptureFixture, *, within: float) -> str:
    """The message of the exception a request to ``url`` raises (after
    checking it came in time and that no secret shows, in it or in a log)."""
    caplog.set_level(logging.DEBUG, logger="bucketbridge")
    started = time.monotonic()
    with pytest.raises(ProviderConnectionException) as raised:
        response = client.send(secret_request(url), CountingSigner(), subject(url))  # type: ignore[arg-type]
        response.read()
    assert time.monotonic() - started < within
    message = str(raised.value)
    everything = message + caplog.text + repr(raised.value)
    assert SECRET_HEADER not in everything and SECRET_QUERY not in everything
    assert url.split("://")[1] in message
    return message


def test_connection_refused(
    make_client: Callable[..., HttpClient], caplog: pytest.LogCaptureFixture, delays: list[int]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    message = fail(make_client(max_attempts=2), f"http://127.0.0.1:{port}", caplog, within=5)
    assert "connection refused" in message
    assert delays == [1]


def test_connect_timeout_on_a_listener_that_never_accepts(
    make_client: Callable[..., HttpClient], caplog: pytest.LogCaptureFixture, delays: list[int]
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        # fill the accept queue: the kernel drops the SYNs of further connections
        fillers = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.1)
        try:
            client = make_client(connect_timeout=TIMEOUT, read_timeout=30, max_attempts=2)
            message = fail(client, f"http://127.0.0.1:{port}", caplog, within=2 * TIMEOUT + 3)
        finally:
            for filler in fillers:
                filler.close()
    assert "connect" in message and "timed out" in message
    assert delays == [1]


def test_read_timeout_before_the_status_line(
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
    caplog: pytest.LogCaptureFixture,
    stalled: threading.Event,
    delays: list[int],
) -> None:
    server = serve(lambda exchange: stalled.wait(30))
    client = make_client(read_timeout=TIMEOUT, max_attempts=2)
    message = fail(client, server.url, caplog, within=2 * TIMEOUT + 3)
    assert "read timed out" in message
    assert len(server.seen) == 2


def test_read_timeout_in_the_middle_of_the_body(
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
    caplog: pytest.LogCaptureFixture,
    stalled: threading.Event,
) -> None:
    def half_then_stall(exchange: Exchange) -> None:
        exchange.send_response(200)
        exchange.send_header("content-length", "1000")
        exchange.end_headers()
        exchange.wfile.write(b"x" * 400)
        exchange.wfile.flush()
        stalled.wait(30)

    server = serve(half_then_stall)
    client = make_client(read_timeout=TIMEOUT, max_attempts=5)
    message = fail(client, server.url, caplog, within=TIMEOUT + 3)
    assert "read timed out" in message
    assert len(server.seen) == 1  # a body cut off is resumed by the core, not resent here


def test_a_body_cut_short_is_an_error_from_readinto(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient]
) -> None:
    def half_then_close(exchange: Exchange) -> None:
        exchange.send_response(200)
        exchange.send_header("content-length", "100000")
        exchange.end_headers()
        exchange.wfile.write(b"y" * 70000)
        exchange.wfile.flush()
        exchange.hang_up()

    server = serve(half_then_close)
    response = make_client().send(get(server.url), CountingSigner(), subject(server.url))
    buffer = bytearray(65536)
    assert response.readinto(buffer) == 65536
    with pytest.raises(
        ProviderConnectionException, match="closed before the response was complete"
    ):
        response.readinto(buffer)
    assert response.readinto(buffer) == 0  # closed by the failure; the pool did not keep it


def test_a_body_reset_is_an_error_from_readinto(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient]
) -> None:
    def half_then_reset(exchange: Exchange) -> None:
        exchange.send_response(200)
        exchange.send_header("content-length", "100000")
        exchange.end_headers()
        exchange.wfile.write(b"y" * 1000)
        exchange.wfile.flush()
        time.sleep(0.1)
        exchange.reset()

    server = serve(half_then_reset)
    response = make_client().send(get(server.url), CountingSigner(), subject(server.url))
    with pytest.raises(ProviderConnectionException, match=f"127.0.0.1:{server.port}"):
        response.readinto(bytearray(100000))


def test_a_chunked_body_cut_short_is_an_error_and_its_connection_is_not_reused(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient]
) -> None:
    def chunked_then_close(exchange: Exchange) -> None:
        if exchange.path == "/ok":
            exchange.reply(200, b"fine")
            return
        exchange.send_response(200)
        exchange.send_header("transfer-encoding", "chunked")
        exchange.end_headers()
        exchange.wfile.write(b"10\r\n" + b"z" * 16 + b"\r\n")  # and no last chunk
        exchange.wfile.flush()
        exchange.hang_up()

    server = serve(chunked_then_close)
    client = make_client()
    response = client.send(get(server.url, "/cut"), CountingSigner(), subject(server.url))
    with pytest.raises(ProviderConnectionException, match="before the response was complete"):
        response.readinto(bytearray(1000))
    after = client.send(get(server.url, "/ok"), CountingSigner(), subject(server.url))
    assert after.read() == b"fine"
    assert server.connections == 2


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_server_that_stops_reading_the_body_gives_a_write_timeout(
    scheme: str,
    tmp_path: Path,
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
    caplog: pytest.LogCaptureFixture,
    stalled: threading.Event,
) -> None:
    path = tmp_path / "sparse"
    with path.open("wb") as file:
        file.truncate(64 * 1024 * 1024)  # more than every socket buffer on the way holds
    tls = certs.make(tmp_path) if scheme == "https" else None
    server = serve(
        lambda exchange: stalled.wait(30),
        read_bodies=False,
        **({"tls": tls.server} if tls else {}),
    )
    client = make_client(
        read_timeout=TIMEOUT, max_attempts=1, verify=str(tls.ca_file) if tls else True
    )
    fd = os.open(path, os.O_RDONLY)
    try:
        caplog.set_level(logging.DEBUG, logger="bucketbridge")
        started = time.monotonic()
        request = get(server.url, "/object", "PUT", body=Body.of_file(fd, 0, 64 * 1024 * 1024))
        with pytest.raises(ProviderConnectionException, match="write timed out"):
            client.send(request, CountingSigner(), subject(server.url))
        assert time.monotonic() - started < TIMEOUT + 5
    finally:
        os.close(fd)


def test_a_tls_handshake_that_never_completes_is_a_connect_timeout(
    make_client: Callable[..., HttpClient], caplog: pytest.LogCaptureFixture, delays: list[int]
) -> None:
    with socket.socket() as listener:  # the kernel accepts; nobody answers the ClientHello
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        client = make_client(connect_timeout=TIMEOUT, read_timeout=30, max_attempts=2)
        message = fail(client, f"https://127.0.0.1:{port}", caplog, within=2 * TIMEOUT + 3)
    assert "connect timed out" in message
