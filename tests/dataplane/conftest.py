"""Servers, clients and a counting signer for the data plane's tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bucketbridge.config import ConnectionSettings
from bucketbridge.dataplane import client as client_module
from bucketbridge.dataplane.client import HttpClient
from bucketbridge.dataplane.request import Endpoint, Request
from bucketbridge.drivers.http_errors import Subject
from tests.dataplane.server import Exchange, Server


class CountingSigner:
    """Signs each attempt with a fresh, numbered header, as a real signer
    stamps a fresh date: the server sees which signing each attempt carried."""

    def __init__(self) -> None:
        self.count = 0

    def sign(self, request: Request) -> None:
        self.count += 1
        request.headers["x-signature"] = f"signed-{self.count}"


def settings(**changes: float) -> ConnectionSettings:
    values: dict[str, float] = {
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "max_attempts": 3,
        "pool_size": 4,
    }
    values.update(changes)
    return ConnectionSettings(
        connect_timeout=values["connect_timeout"],
        read_timeout=values["read_timeout"],
        max_attempts=int(values["max_attempts"]),
        pool_size=int(values["pool_size"]),
    )


def subject(url: str) -> Subject:
    return Subject("Test", url.split("://", 1)[1], "bucket", "key")


def get(url: str, path: str = "/", method: str = "GET", **fields: object) -> Request:
    return Request(method, Endpoint.parse(url), path, **fields)  # type: ignore[arg-type]


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The backoffs the client asked for (each after the n-th failure); none is slept."""
    asked: list[int] = []

    def backoff(failures: int) -> float:
        asked.append(failures)
        return 0.0

    monkeypatch.setattr(client_module, "backoff", backoff)
    return asked


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(app: Callable[[Exchange], None], **options: object) -> Server:
        server = Server(app, **options)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def make_client() -> Iterator[Callable[..., HttpClient]]:
    clients: list[HttpClient] = []

    def make(verify: bool | str = True, **changes: float) -> HttpClient:
        client = HttpClient(settings(**changes), verify=verify)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
