"""One retry policy: 429 and 5xx are sent again, signed afresh, up to
max_attempts, then the last answer goes to the driver; a connection that
never answers fails after exactly max_attempts attempts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from bucketbridge.dataplane.client import HttpClient
from bucketbridge.errors import ProviderConnectionException
from tests.dataplane.conftest import CountingSigner, get, subject
from tests.dataplane.server import Exchange, Server
from tests.faults.proxy import FaultProxy, Match, ResetResponse, Truncate


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_retried_status_is_sent_again_signed_afresh_then_answered(
    status: int,
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
    delays: list[int],
) -> None:
    def busy_twice(exchange: Exchange) -> None:
        if len(exchange.server.seen) <= 2:
            exchange.reply(status, b"<Error>SlowDown</Error>")
        else:
            exchange.reply(200, b"done")

    server = serve(busy_twice)
    signer = CountingSigner()
    response = make_client(max_attempts=3).send(get(server.url), signer, subject(server.url))
    assert (response.status, response.read(), response.attempts) == (200, b"done", 3)
    assert [seen.headers["x-signature"] for seen in server.seen] == [
        "signed-1",
        "signed-2",
        "signed-3",
    ]
    assert delays == [1, 2]
    assert server.connections == 1  # the short error bodies were read: the connection stayed


@pytest.mark.parametrize("status", [500, 503, 429])
def test_the_last_retried_status_is_returned_to_the_driver(
    status: int,
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
    delays: list[int],
) -> None:
    server = serve(
        lambda exchange: exchange.reply(status, f"busy {len(exchange.server.seen)}".encode())
    )
    signer = CountingSigner()
    response = make_client(max_attempts=4).send(get(server.url), signer, subject(server.url))
    assert response.status == status
    assert response.attempts == 4
    assert response.read() == b"busy 4"  # the last answer's body, for the driver's error
    assert signer.count == len(server.seen) == 4
    assert delays == [1, 2, 3]


@pytest.mark.parametrize("status", [400, 403, 404, 409, 412, 416])
def test_a_client_error_is_not_retried(
    status: int,
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
    delays: list[int],
) -> None:
    server = serve(lambda exchange: exchange.reply(status, b"no"))
    response = make_client(max_attempts=5).send(
        get(server.url), CountingSigner(), subject(server.url)
    )
    assert (response.status, response.attempts, len(server.seen)) == (status, 1, 1)
    assert delays == []


def test_a_server_that_hangs_up_on_every_request_fails_after_max_attempts(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient], delays: list[int]
) -> None:
    server = serve(lambda exchange: exchange.hang_up())
    signer = CountingSigner()
    with pytest.raises(ProviderConnectionException) as raised:
        make_client(max_attempts=4).send(get(server.url), signer, subject(server.url))
    assert f"127.0.0.1:{server.port}" in str(raised.value)
    assert "closed" in str(raised.value) or "reset" in str(raised.value)
    assert len(server.seen) == server.connections == signer.count == 4
    assert delays == [1, 2, 3]


def test_a_server_that_resets_every_request_fails_after_max_attempts(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient], delays: list[int]
) -> None:
    server = serve(lambda exchange: exchange.reset())
    with pytest.raises(ProviderConnectionException, match="connection reset by peer"):
        make_client(max_attempts=2).send(get(server.url), CountingSigner(), subject(server.url))
    assert len(server.seen) == 2


def test_hanging_up_after_a_kept_connection_counts_attempts_on_new_ones(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient], delays: list[int]
) -> None:
    """With a connection idle in the pool, the first hang-up is taken for a
    stale connection (uncounted); every later one is on a new connection
    and counts, so the request still ends after max_attempts attempts."""
    answered = False

    def once_then_hang_up(exchange: Exchange) -> None:
        nonlocal answered
        if answered:
            exchange.hang_up()
        else:
            answered = True
            exchange.reply(200, b"ok")

    server = serve(once_then_hang_up)
    client = make_client(max_attempts=3)
    assert client.send(get(server.url), CountingSigner(), subject(server.url)).read() == b"ok"
    with pytest.raises(ProviderConnectionException):
        client.send(get(server.url), CountingSigner(), subject(server.url))
    assert len(server.seen) == 1 + 1 + 3
    assert delays == [1, 2]


def test_through_the_fault_proxy_resets_before_the_answer_are_retried(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient], delays: list[int]
) -> None:
    server = serve(lambda exchange: exchange.reply(200, b"at last"))
    with FaultProxy(("127.0.0.1", server.port)) as proxy:
        lost = proxy.add(Match(method="GET"), ResetResponse(after=None), times=2)
        signer = CountingSigner()
        response = make_client(max_attempts=3).send(
            get(proxy.url, "/object"), signer, subject(proxy.url)
        )
        assert (response.read(), response.attempts) == (b"at last", 3)
        # the server did the work three times; the client heard only the third
        assert (lost.matched, lost.fired, len(server.seen), signer.count) == (3, 2, 3, 3)
        assert proxy.errors == []


def test_through_the_fault_proxy_a_truncated_body_is_not_resent(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient]
) -> None:
    server = serve(lambda exchange: exchange.reply(200, b"w" * 100_000))
    with FaultProxy(("127.0.0.1", server.port)) as proxy:
        proxy.add(Match(method="GET"), Truncate(after=50_000), times=1)
        client = make_client(max_attempts=3)
        response = client.send(get(proxy.url, "/object"), CountingSigner(), subject(proxy.url))
        with pytest.raises(ProviderConnectionException, match=proxy.address):
            response.read()
        again = client.send(get(proxy.url, "/object"), CountingSigner(), subject(proxy.url))
        assert len(again.read()) == 100_000
        assert len(server.seen) == 2


def test_a_request_the_server_hangs_up_on_ends_while_others_keep_the_pool_full(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient], delays: list[int]
) -> None:
    """Other threads keep handing live connections back to the pool; a
    request the server always hangs up on must still end after max_attempts
    (and one uncounted try on a reused connection), not go round them all."""

    def poison(exchange: Exchange) -> None:
        if exchange.path == "/poison":
            exchange.hang_up()
        else:
            exchange.reply(200, b"fine")

    server = serve(poison)
    client = make_client(max_attempts=2, pool_size=8)
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            client.send(get(server.url, "/fine"), CountingSigner(), subject(server.url)).read()
            time.sleep(0.005)  # the connection waits in the pool meanwhile

    workers = [threading.Thread(target=busy) for _ in range(8)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(0.2)
        with pytest.raises(ProviderConnectionException):
            client.send(get(server.url, "/poison"), CountingSigner(), subject(server.url))
    finally:
        stop.set()
        for worker in workers:
            worker.join(10)
    assert 2 <= sum(seen.target == "/poison" for seen in server.seen) <= 3


def test_copies_sent_before_are_its_first_attempts(
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
    delays: list[int],
) -> None:
    """A PUT the multiplexer sent once (its answer lost) is sent again with
    ``sent_before=1``: one policy bounds both (3 attempts: 2 more here), and
    ``attempts`` counts the first copy, so a create-only 412 is checked."""

    def busy(exchange: Exchange) -> None:
        exchange.reply(503, b"<Error>SlowDown</Error>")

    server = serve(busy)
    response = make_client(max_attempts=3).send(
        get(server.url, method="PUT", body=b"x"),
        CountingSigner(),
        subject(server.url),
        sent_before=1,
    )
    assert (response.status, response.attempts) == (503, 3)
    assert len(server.seen) == 2
    assert delays == [2]  # the backoff after the second attempt, as the policy's
