"""The multiplexer's HTTP on a loopback server: every framing read whole
(Content-Length, chunked in pieces with trailers, until the close), an
interim 100 skipped, connections reused; and what it hands back as None
(for the blocking path): a reset, a body cut short, a retried status. Over
TLS also: a wakeup with only session tickets, close_notify mid-body, a
record that does not decrypt."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable

import pytest

from bucketbridge.dataplane import multiplex
from bucketbridge.dataplane.client import HttpClient
from bucketbridge.dataplane.multiplex import Answer, Exchange, Multiplexer
from bucketbridge.dataplane.request import Endpoint
from tests.dataplane.conftest import CountingSigner, get, subject
from tests.dataplane.server import Exchange as Served
from tests.dataplane.server import Server
from tests.servers import certs

BODY = b"0123456789" * 700  # 7,000 bytes: more than one segment


def _app(served: Served) -> None:
    path = served.path
    if path == "/length":
        served.reply(200, BODY)
    elif path == "/chunked":
        served.send_response(200)
        served.send_header("transfer-encoding", "chunked")
        served.end_headers()
        served.wfile.flush()
        for start in range(0, len(BODY), 3000):
            piece = BODY[start : start + 3000]
            served.wfile.write(f"{len(piece):x};ext=1\r\n".encode() + piece + b"\r\n")
            served.wfile.flush()
            time.sleep(0.01)  # each piece in its own receive
        served.wfile.write(b"0\r\nx-trailer: t\r\n\r\n")
        served.wfile.flush()
    elif path == "/close":
        served.close_connection = True
        served.sock.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + BODY)
        served.hang_up()
    elif path == "/continue":
        served.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        served.reply(200, BODY[:10])
    elif path == "/reset":
        served.reset()
    elif path == "/short":
        served.send_response(200)
        served.send_header("content-length", str(len(BODY)))
        served.end_headers()
        served.wfile.write(BODY[:100])
        served.wfile.flush()
        served.hang_up()
    elif path == "/busy":
        served.reply(503, b"busy")
    elif path == "/missing":
        served.reply(404, b"nope", {"x-why": "gone"})


@pytest.fixture(scope="module")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> certs.Certificates:
    return certs.make(tmp_path_factory.mktemp("certs"))


Start = Callable[[Callable[[Served], None]], tuple[Server, HttpClient]]


@pytest.fixture(params=["http", "https"])
def start(
    request: pytest.FixtureRequest,
    tls_certs: certs.Certificates,
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
) -> Start:
    """A server for ``app`` and a client of it, over plain http or TLS."""
    https = request.param == "https"

    def begin(app: Callable[[Served], None], **changes: float) -> tuple[Server, HttpClient]:
        if https:
            server = serve(app, tls=tls_certs.server)
            return server, make_client(verify=str(tls_certs.ca_file), **changes)
        return serve(app), make_client(**changes)

    return begin  # type: ignore[return-value]


def _run(
    client: HttpClient, server: Server, paths: list[str], window: int = 4
) -> dict[str, Answer | None]:
    signer = CountingSigner()
    exchanges = (
        (path, Exchange(get(server.url, path), signer, subject(server.url))) for path in paths
    )
    return dict(Multiplexer(client, window).run(exchanges))


def test_every_framing_is_read_whole(start: Start) -> None:
    server, client = start(_app)
    answers = _run(client, server, ["/length", "/chunked", "/close", "/continue", "/missing"])
    assert {path: answer.body if answer else None for path, answer in answers.items()} == {
        "/length": BODY,
        "/chunked": BODY,
        "/close": BODY,
        "/continue": BODY[:10],
        "/missing": b"nope",
    }
    missing = answers["/missing"]
    assert missing is not None and missing.status == 404 and missing.header("X-Why") == "gone"
    # kept alive where the answer allows: a second round reuses them
    before = server.connections
    again = _run(client, server, ["/length", "/chunked", "/missing"])
    assert all(answer is not None for answer in again.values())
    assert server.connections == before


def test_failures_go_back_for_the_blocking_path(
    start: Start,
    make_client: Callable[..., HttpClient],
    tls_certs: certs.Certificates,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(multiplex, "backoff", lambda failures: 0.0)
    server, client = start(_app)
    answers = _run(client, server, ["/reset", "/short", "/busy", "/length"])
    assert answers["/reset"] is None and answers["/short"] is None
    assert answers["/busy"] is None  # retried on the blocking path, as 503 is
    length = answers["/length"]
    assert length is not None and length.body == BODY
    # one attempt in all: the blocking path would retry nothing, so the answer is final
    once = make_client(verify=str(tls_certs.ca_file), max_attempts=1)
    final = _run(once, server, ["/busy"])["/busy"]
    assert final is not None and final.status == 503


def test_a_silent_server_times_out_alone(start: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(multiplex, "backoff", lambda failures: 0.0)

    def app(served: Served) -> None:
        if served.path == "/silent":
            time.sleep(3)
            with contextlib.suppress(OSError):  # the client closed it long ago
                served.hang_up()
        else:
            _app(served)

    server, client = start(app, read_timeout=0.5)
    started = time.monotonic()
    answers = _run(client, server, ["/silent", "/length"])
    assert answers["/silent"] is None
    assert answers["/length"] is not None
    assert time.monotonic() - started < 2.5


def test_requests_are_in_flight_together(start: Start) -> None:
    """Four requests at once on four connections (over TLS too): the server
    answers none until all four have arrived."""
    arrived = threading.Barrier(4, timeout=5)
    seen = {"broken": 0}

    def app(served: Served) -> None:
        try:
            arrived.wait()
        except threading.BrokenBarrierError:
            seen["broken"] += 1  # they came one at a time: the test fails below
        served.reply(200, BODY)

    server, client = start(app)
    paths = [f"/{number}" for number in range(4)]
    started = time.monotonic()
    answers = _run(client, server, paths)
    assert [answers[path] and answers[path].body for path in paths] == [BODY] * 4
    assert seen["broken"] == 0 and time.monotonic() - started < 4
    # and kept alive: the sockets went back to the pool as they were
    pool = client.pool_for(Endpoint.parse(server.url))
    connection, reused = pool.acquire()
    assert reused
    assert connection.sock.gettimeout() != 0.0
    pool.release(connection)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_http_and_https_are_multiplexed(scheme: str) -> None:
    assert multiplex.supports(Endpoint.parse(f"{scheme}://example.com"))


def test_nothing_is_left_where_poll_cannot_see_it(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Receives smaller than a TLS record: OpenSSL holds the rest of the
    record decrypted, which ``poll`` never reports; it is read all the same."""
    monkeypatch.setattr(multiplex, "RECV_SIZE", 1000)
    monkeypatch.setattr(multiplex, "backoff", lambda failures: 0.0)
    server, client = start(_app, read_timeout=1.0)
    answers = _run(client, server, ["/length", "/chunked"])
    assert {path: answer and answer.body for path, answer in answers.items()} == {
        "/length": BODY,
        "/chunked": BODY,
    }


def _tls_app(served: Served) -> None:
    """Answers only a TLS connection gives: late, cut by close_notify, or
    broken by bytes that are no TLS record."""
    if served.path == "/late":
        time.sleep(0.2)  # the session tickets arrive alone first
        served.reply(200, BODY)
        return
    served.send_response(200)
    served.send_header("content-length", str(len(BODY)))
    served.end_headers()
    served.wfile.write(BODY[:100])
    served.wfile.flush()
    served.close_connection = True
    tls = served.sock
    assert isinstance(tls, ssl.SSLSocket)
    if served.path == "/notify":
        raw = tls.unwrap()  # close_notify: a clean end of the TLS stream, mid-body
        raw.shutdown(socket.SHUT_RDWR)
    elif served.path == "/garbage":
        # an application-data record whose bytes no key made
        os.write(tls.fileno(), b"\x17\x03\x03\x00\x20" + os.urandom(32))
        time.sleep(0.2)
        served.hang_up()


def test_a_wakeup_with_no_application_data_keeps_waiting(
    make_client: Callable[..., HttpClient],
    serve: Callable[..., Server],
    tls_certs: certs.Certificates,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TLS 1.3 sends session tickets after the handshake: a socket ``poll``
    says is ready may hold nothing for the application. The answer that
    comes later is still read whole."""
    assert tls_certs.server.num_tickets > 0
    reads: list[tuple[int, bool]] = []
    recv_tls = multiplex._recv_tls

    def recorded(sock: ssl.SSLSocket) -> tuple[bytes, bool]:
        data, ended = recv_tls(sock)
        reads.append((len(data), ended))
        return data, ended

    monkeypatch.setattr(multiplex, "_recv_tls", recorded)
    server = serve(_tls_app, tls=tls_certs.server)
    client = make_client(verify=str(tls_certs.ca_file))
    answers = _run(client, server, ["/late"])
    assert [answer.body if answer else None for answer in answers.values()] == [BODY]
    assert (0, False) in reads  # woken with nothing for the application, and waited on


@pytest.mark.parametrize("path", ["/notify", "/garbage"])
def test_a_tls_stream_ended_or_broken_mid_answer_goes_to_the_blocking_path(
    path: str,
    make_client: Callable[..., HttpClient],
    serve: Callable[..., Server],
    tls_certs: certs.Certificates,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """close_notify before the Content-Length is reached is a short body,
    not an answer; a record that does not decrypt is an SSLError: both go
    back for the blocking read, and their connection is never reused."""
    monkeypatch.setattr(multiplex, "backoff", lambda failures: 0.0)
    server = serve(
        lambda served: _tls_app(served) if served.path == path else _app(served),
        tls=tls_certs.server,
    )
    client = make_client(verify=str(tls_certs.ca_file))
    answers = _run(client, server, [path, "/length"])
    assert answers[path] is None
    length = answers["/length"]
    assert length is not None and length.body == BODY
    again = _run(client, server, ["/length", "/chunked", "/missing"])
    assert all(answer is not None for answer in again.values())
