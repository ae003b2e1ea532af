"""Keep-alive: one connection serves request after request, and a connection
that might hold stale bytes, or that the server closed, is never reused."""

from __future__ import annotations

import time
from collections.abc import Callable

from bucketbridge.dataplane.client import HttpClient
from tests.dataplane.conftest import CountingSigner, get, subject
from tests.dataplane.server import Exchange, Server

BIG = 256 * 1024


def answers(exchange: Exchange) -> None:
    """/ok, /head, /204, /404 (with an error body), /big (256 KiB named after the request)."""
    path = exchange.path
    if path == "/204":
        exchange.reply(204)
    elif path == "/404":
        exchange.reply(404, b"<Error><Code>NoSuchKey</Code></Error>")
    elif path.startswith("/big"):
        exchange.reply(200, (path.encode() + b"." * BIG)[:BIG])
    else:
        exchange.reply(200, f"answer to {exchange.command} {path}".encode())


def test_sequential_requests_share_one_connection(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient]
) -> None:
    server = serve(answers)
    client = make_client()
    signer = CountingSigner()
    for number in range(5):
        response = client.send(get(server.url, f"/ok{number}"), signer, subject(server.url))
        assert response.status == 200
        assert response.read() == f"answer to GET /ok{number}".encode()
    head = client.send(get(server.url, "/ok", "HEAD"), signer, subject(server.url))
    assert head.status == 200 and head.header("content-length") == str(len("answer to HEAD /ok"))
    head.close()  # a HEAD has no body to read: closing it hands the connection back
    empty = client.send(get(server.url, "/204", "DELETE"), signer, subject(server.url))
    assert empty.status == 204
    assert empty.read() == b""
    missing = client.send(get(server.url, "/404"), signer, subject(server.url))
    assert missing.status == 404
    assert b"NoSuchKey" in missing.read()
    last = client.send(get(server.url, "/ok"), signer, subject(server.url))
    assert last.read() == b"answer to GET /ok"
    assert server.connections == 1
    assert {seen.connection for seen in server.seen} == {1}
    assert len(server.seen) == 9


def test_a_response_read_with_readinto_to_its_end_gives_the_connection_back(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient]
) -> None:
    server = serve(answers)
    client = make_client()
    for number in range(3):
        response = client.send(
            get(server.url, f"/big{number}"), CountingSigner(), subject(server.url)
        )
        buffer = bytearray(BIG)  # exactly the body: the end is only seen by closing it
        assert response.readinto(buffer) == BIG
        assert buffer.startswith(f"/big{number}".encode())
        response.close()
    assert server.connections == 1


def test_a_response_closed_early_is_not_reused_and_leaves_no_stale_bytes(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient]
) -> None:
    server = serve(answers)
    client = make_client()
    signer = CountingSigner()
    first = client.send(get(server.url, "/big-first"), signer, subject(server.url))
    assert first.readinto(bytearray(1000)) == 1000
    first.close()
    assert first.read() == b""  # closed: nothing more, and no error
    second = client.send(get(server.url, "/ok-second"), signer, subject(server.url))
    assert second.read() == b"answer to GET /ok-second"
    assert server.connections == 2
    # and the second connection, read to its end, is the one reused now
    third = client.send(get(server.url, "/ok-third"), signer, subject(server.url))
    assert third.read() == b"answer to GET /ok-third"
    assert server.connections == 2


def test_a_404_closed_unread_is_not_reused(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient]
) -> None:
    server = serve(answers)
    client = make_client()
    missing = client.send(get(server.url, "/404"), CountingSigner(), subject(server.url))
    missing.close()
    after = client.send(get(server.url, "/ok"), CountingSigner(), subject(server.url))
    assert after.status == 200 and after.read() == b"answer to GET /ok"


def test_idle_connections_the_server_closed_are_replaced_without_an_attempt_or_a_delay(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient], delays: list[int]
) -> None:
    server = serve(answers)
    client = make_client(max_attempts=1)  # any counted attempt lost would fail the request
    signer = CountingSigner()
    # four connections idle in the pool
    held = [client.send(get(server.url, f"/ok{n}"), signer, subject(server.url)) for n in range(4)]
    for response in held:
        response.read()
    assert server.connections == 4
    server.drop_idle()  # the server's idle timeout closes them all
    for number in range(3):
        response = client.send(get(server.url, f"/again{number}"), signer, subject(server.url))
        assert response.read() == f"answer to GET /again{number}".encode()
        assert response.attempts == 1
    assert delays == []
    assert server.connections == 5


def test_a_connection_closed_after_every_response_still_serves(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient], delays: list[int]
) -> None:
    """A server that closes each connection after answering, without saying
    so: each next request meets a closed connection and is sent again on a
    new one, uncounted."""

    def answer_and_close(exchange: Exchange) -> None:
        exchange.reply(200, b"once")
        exchange.hang_up()

    server = serve(answer_and_close)
    client = make_client(max_attempts=1)
    for _ in range(3):
        response = client.send(get(server.url, "/"), CountingSigner(), subject(server.url))
        assert response.read() == b"once"
    assert delays == []
    assert server.connections == 3


def test_bytes_past_the_content_length_are_never_read_as_the_next_answer(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient]
) -> None:
    """A server that sends more than its Content-Length: the extra bytes
    sit on the connection; the next request must not take them for its
    answer."""

    def overlong(exchange: Exchange) -> None:
        if exchange.path == "/overlong":
            exchange.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
            exchange.wfile.flush()
            time.sleep(0.05)  # after the client has read its answer
            exchange.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstale")
            exchange.wfile.flush()
        else:
            exchange.reply(200, b"fresh")

    server = serve(overlong)
    client = make_client(max_attempts=1)
    first = client.send(get(server.url, "/overlong"), CountingSigner(), subject(server.url))
    assert first.read() == b"hello"
    time.sleep(0.2)  # the extra bytes have arrived by the next request
    second = client.send(get(server.url, "/next"), CountingSigner(), subject(server.url))
    assert second.read() == b"fresh"
    assert second.attempts == 1


def test_a_response_framed_by_closing_the_connection_is_read_whole_and_not_reused(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient]
) -> None:
    def close_framed(exchange: Exchange) -> None:
        exchange.send_response(200)
        exchange.send_header("connection", "close")
        exchange.end_headers()
        exchange.wfile.write(b"until the end " * 1000)
        exchange.wfile.flush()
        exchange.hang_up()

    server = serve(close_framed)
    client = make_client(max_attempts=1)
    for _ in range(2):
        response = client.send(get(server.url), CountingSigner(), subject(server.url))
        buffer = bytearray(20_000)
        assert response.readinto(buffer) == 14_000
        assert bytes(buffer[:14]) == b"until the end "
    assert server.connections == 2
