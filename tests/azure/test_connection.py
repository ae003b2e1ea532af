"""The connection settings every driver honours (config.CONNECTION_SETTINGS),
proven on a server that accepts connections and never answers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from bucketbridge import ProviderConnectionException
from tests.azure.conftest import MakeProvider
from tests.servers.azurite import ACCOUNT, ACCOUNT_KEY


class SilentServer:
    """Accepts every connection, reads the request, never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.held.append(connection)

    def close(self) -> None:
        self.sock.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def test_read_timeout_and_max_attempts_are_honoured(
    silent: SilentServer, make_provider: MakeProvider
) -> None:
    provider = make_provider(
        {
            "azure_storage_account": ACCOUNT,
            "azure_account_key": ACCOUNT_KEY,
            "azure_endpoint_url": f"http://127.0.0.1:{silent.port}/{ACCOUNT}",
            "read_timeout": 0.5,
            "max_attempts": 3,
        }
    )
    started = time.monotonic()
    with pytest.raises(ProviderConnectionException, match="timed out"):
        provider.storage.buckets.list()
    assert time.monotonic() - started < 30  # 3 x 0.5 s plus backoff, not the 60 s default
    assert silent.accepted == 3  # one request, sent max_attempts times


def test_the_connection_pool_is_as_wide_as_the_transfer_concurrency(
    make_provider: MakeProvider,
) -> None:
    provider = make_provider(
        {
            "azure_storage_account": ACCOUNT,
            "azure_account_key": ACCOUNT_KEY,
            "multipart_max_concurrency": 48,
        }
    )
    session = provider.driver.client._config.transport.session  # type: ignore[attr-defined]
    assert session.get_adapter("https://x").poolmanager.connection_pool_kw["maxsize"] == 48
