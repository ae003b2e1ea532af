"""Many threads on one client never see each other's responses."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from bucketbridge.dataplane.client import HttpClient
from tests.dataplane.conftest import CountingSigner, get, subject
from tests.dataplane.server import Exchange, Server

THREADS = 16
REQUESTS = 25


def named(path: str) -> bytes:
    """A body that names its request, of a size that depends on it (a body
    read on the wrong connection would be the wrong size or the wrong name)."""
    size = 10 + (hash(path) % 70_000)
    return (path.encode() + b"|") * (size // (len(path) + 1) + 1)


def test_sixteen_threads_on_a_pool_of_four_never_mix_responses(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient]
) -> None:
    def answer(exchange: Exchange) -> None:
        time.sleep(random.random() / 500)
        exchange.reply(200, named(exchange.path))

    server = serve(answer)
    client = make_client(pool_size=4)
    failures: list[str] = []

    def worker(number: int) -> None:
        signer = CountingSigner()
        for request in range(REQUESTS):
            path = f"/t{number}/r{request}"
            response = client.send(get(server.url, path), signer, subject(server.url))
            expected = named(path)
            if request % 5 == 4:  # some read a little and hang up early
                start = bytearray(len(path))
                response.readinto(start)
                response.close()
                got = bytes(start)
                expected = expected[: len(path)]
            elif request % 2:
                buffer = bytearray(len(expected) + 10)
                got = bytes(buffer[: response.readinto(buffer)])
            else:
                got = response.read()
            if got != expected:
                failures.append(f"{path}: got {got[:40]!r}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert len(server.seen) == THREADS * REQUESTS
    # reuse happened: far fewer connections than requests
    assert server.connections < THREADS * REQUESTS / 2
