"""The fault proxy's own tests, against a tiny HTTP/1.1 server on loopback."""

from __future__ import annotations

import http.client
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.faults.proxy import (
    FaultProxy,
    Match,
    Reply,
    ResetRequest,
    ResetResponse,
    RewriteBody,
    Stall,
    StripHeader,
    Truncate,
)

BODY = os.urandom(300_000)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Origin:
    port: int
    seen: list[Seen] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers
    server: _Server

    def _record(self) -> bytes:
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length) if length else b""
        self.server.origin.seen.append(
            Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        return body

    def do_GET(self) -> None:
        self._record()
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(BODY), 100_000):
                piece = BODY[start : start + 100_000]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def do_HEAD(self) -> None:
        self._record()
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()

    def do_PUT(self) -> None:
        body = self._record()
        answer = f"got {len(body)}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_POST = do_PUT  # noqa: N815 (http.server's naming)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    origin: Origin

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the proxy drops connections on purpose; a broken pipe here is expected


@pytest.fixture
def origin() -> Iterator[Origin]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.origin = Origin(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.origin
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(origin: Origin) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", origin.port)) as running:
        yield running
    assert running.errors == []


def _connection(proxy: FaultProxy, timeout: float = 10) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=timeout)


def _get(conn: http.client.HTTPConnection, path: str = "/object") -> bytes:
    conn.request("GET", path)
    return conn.getresponse().read()


def test_requests_pass_untouched_over_one_keep_alive_connection(
    proxy: FaultProxy, origin: Origin
) -> None:
    conn = _connection(proxy)
    assert _get(conn) == BODY
    conn.request("PUT", "/object?partNumber=1", body=b"x" * 1000)
    assert conn.getresponse().read() == b"got 1000"
    conn.request("HEAD", "/object")
    head = conn.getresponse()
    assert head.status == 200 and head.read() == b""
    assert _get(conn, "/chunked") == BODY
    sock = conn.sock
    assert _get(conn) == BODY
    assert conn.sock is sock  # the client never had to reconnect
    assert [(s.method, s.path) for s in origin.seen] == [
        ("GET", "/object"),
        ("PUT", "/object?partNumber=1"),
        ("HEAD", "/object"),
        ("GET", "/chunked"),
        ("GET", "/object"),
    ]
    assert [method for _, method, _ in proxy.requests] == ["GET", "PUT", "HEAD", "GET", "GET"]


def test_a_rule_matches_by_method_path_and_query(proxy: FaultProxy) -> None:
    parts = proxy.add(Match("PUT", path="/object", query=("partNumber",)), Reply(500, "No"))
    others = proxy.add(Match("PUT", no_query=("partNumber",)), Reply(501, "No"))
    conn = _connection(proxy)
    for target in ("/object?partNumber=2", "/object", "/other?partNumber=1", "/object?uploads"):
        conn.request("PUT", target, body=b"x")
        conn.getresponse().read()
    assert _get(conn) == BODY
    assert (parts.matched, others.matched) == (1, 2)


def test_reset_mid_response_is_transient_with_times(proxy: FaultProxy) -> None:
    rule = proxy.add(Match("GET"), ResetResponse(after=100_000), times=1)
    conn = _connection(proxy)
    conn.request("GET", "/object")
    response = conn.getresponse()
    assert response.status == 200
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError)):
        response.read()
    assert _get(_connection(proxy)) == BODY
    assert (rule.fired, rule.matched) == (1, 2)


def test_reset_mid_response_of_a_chunked_body(proxy: FaultProxy) -> None:
    proxy.add(Match("GET", path="/chunked"), ResetResponse(after=150_000))
    conn = _connection(proxy)
    conn.request("GET", "/chunked")
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError)):
        conn.getresponse().read()


def test_truncate_closes_after_fewer_bytes_than_promised(proxy: FaultProxy) -> None:
    rule = proxy.add(Match("GET"), Truncate(after=1234))
    conn = _connection(proxy)
    conn.request("GET", "/object")
    response = conn.getresponse()
    assert response.getheader("Content-Length") == str(len(BODY))
    with pytest.raises(http.client.IncompleteRead) as cut:
        response.read()
    assert cut.value.partial == BODY[:1234]
    assert rule.matched == 1


def test_reset_mid_request_never_reaches_the_server(proxy: FaultProxy, origin: Origin) -> None:
    rule = proxy.add(Match("PUT"), ResetRequest(after=10_000), times=1)
    with socket.create_connection(("127.0.0.1", proxy.port)) as raw:
        raw.sendall(b"PUT /object HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            for _ in range(100):  # far more than the proxy reads before resetting
                raw.sendall(b"y" * 10_000)
                time.sleep(0.001)
            raw.recv(1)
            raise ConnectionResetError  # an orderly close is not the reset asked for
    conn = _connection(proxy)
    conn.request("PUT", "/object", body=b"z" * 5000)
    assert conn.getresponse().read() == b"got 5000"
    assert [s.body for s in origin.seen] == [b"z" * 5000]
    assert rule.matched == 2


def test_expect_100_continue_is_answered_by_the_proxy(proxy: FaultProxy, origin: Origin) -> None:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as raw:
        raw.sendall(
            b"PUT /object HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
        )
        assert raw.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        raw.sendall(b"abc")
        reply = b""
        while not reply.endswith(b"got 3"):
            reply += raw.recv(1000)
    assert origin.seen[0].body == b"abc" and "expect" not in origin.seen[0].headers


def test_reply_answers_with_the_given_error_and_keeps_the_connection(
    proxy: FaultProxy, origin: Origin
) -> None:
    slow_down = b"<Error><Code>SlowDown</Code></Error>"
    rule = proxy.add(
        Match("PUT"), Reply(503, "Slow Down", slow_down, [("Content-Type", "application/xml")]), 2
    )
    conn = _connection(proxy)
    for _ in range(2):
        conn.request("PUT", "/object", body=b"abc")
        response = conn.getresponse()
        assert (response.status, response.read()) == (503, slow_down)
    conn.request("PUT", "/object", body=b"abc")
    assert conn.getresponse().read() == b"got 3"
    assert (rule.fired, rule.matched, len(origin.seen)) == (2, 3, 1)


@pytest.mark.parametrize("after", [None, 5000], ids=["before-response", "mid-body"])
def test_stall_outlasts_a_read_timeout(proxy: FaultProxy, after: int | None) -> None:
    proxy.add(Match("GET"), Stall(after=after))
    conn = _connection(proxy, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        conn.request("GET", "/object")
        conn.getresponse().read()
    assert 0.4 < time.monotonic() - started < 5


def test_strip_header(proxy: FaultProxy, origin: Origin) -> None:
    proxy.add(Match("POST", query=("uploadId",)), StripHeader("If-None-Match"))
    conn = _connection(proxy)
    for target in ("/object?uploadId=1", "/object?uploads"):
        conn.request("POST", target, body=b"", headers={"If-None-Match": "*"})
        conn.getresponse().read()
    assert ["if-none-match" in seen.headers for seen in origin.seen] == [False, True]


@pytest.mark.parametrize("path", ["/object", "/chunked"])
def test_rewrite_body(proxy: FaultProxy, path: str) -> None:
    proxy.add(Match("GET"), RewriteBody(lambda body: body[:10] + b"!"))
    conn = _connection(proxy)
    conn.request("GET", path)
    response = conn.getresponse()
    assert response.getheader("Content-Length") == "11"
    assert response.read() == BODY[:10] + b"!"


def test_close_ends_stalled_connections_at_once(origin: Origin) -> None:
    proxy = FaultProxy(("127.0.0.1", origin.port)).__enter__()
    proxy.add(Match("GET"), Stall())
    conn = _connection(proxy, timeout=30)
    conn.request("GET", "/object")
    time.sleep(0.2)
    started = time.monotonic()
    proxy.close()
    assert time.monotonic() - started < 5
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        conn.getresponse()
