"""The multiplexer's HTTP on a loopback server: every framing read whole
(Content-Length, chunked in pieces with trailers, until the close), an
interim 100 skipped, connections reused; and what it hands back as None
(for the blocking path): a reset, a body cut short, a retried status."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from bucketbridge.dataplane import multiplex
from bucketbridge.dataplane.client import HttpClient
from bucketbridge.dataplane.multiplex import Answer, Exchange, Multiplexer
from tests.dataplane.conftest import CountingSigner, get, subject
from tests.dataplane.server import Exchange as Served
from tests.dataplane.server import Server

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


def _run(
    client: HttpClient, server: Server, paths: list[str], window: int = 4
) -> dict[str, Answer | None]:
    signer = CountingSigner()
    exchanges = (
        (path, Exchange(get(server.url, path), signer, subject(server.url))) for path in paths
    )
    return dict(Multiplexer(client, window).run(exchanges))


def test_every_framing_is_read_whole(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient]
) -> None:
    server = serve(_app)
    client = make_client()
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
    assert missing.header_map()["x-why"] == "gone"
    # kept alive where the answer allows: a second round reuses them
    before = server.connections
    again = _run(client, server, ["/length", "/chunked", "/missing"])
    assert all(answer is not None for answer in again.values())
    assert server.connections == before


def test_failures_go_back_for_the_blocking_path(
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(multiplex, "backoff", lambda failures: 0.0)
    server = serve(_app)
    answers = _run(make_client(), server, ["/reset", "/short", "/busy", "/length"])
    assert answers["/reset"] is None and answers["/short"] is None
    assert answers["/busy"] is None  # retried on the blocking path, as 503 is
    length = answers["/length"]
    assert length is not None and length.body == BODY
    # one attempt in all: the blocking path would retry nothing, so the answer is final
    final = _run(make_client(max_attempts=1), server, ["/busy"])["/busy"]
    assert final is not None and final.status == 503


def test_a_silent_server_times_out_alone(
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(multiplex, "backoff", lambda failures: 0.0)

    def app(served: Served) -> None:
        if served.path == "/silent":
            time.sleep(3)
            served.hang_up()
        else:
            _app(served)

    server = serve(app)
    started = time.monotonic()
    answers = _run(make_client(read_timeout=0.5), server, ["/silent", "/length"])
    assert answers["/silent"] is None
    assert answers["/length"] is not None
    assert time.monotonic() - started < 2.5
