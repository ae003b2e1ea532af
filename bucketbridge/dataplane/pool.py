"""Keep-alive connections to one host, reused most-recently-idle first.

At most ``size`` idle connections are kept per host (more may be open while
busy; the transfer engine never runs more threads than the pool is wide, see
``TransferPlan.resolve``). A connection is only put back once its response
has been read to the end, so the next request on it starts clean.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading

from .request import Endpoint
from .response import FastResponse

COALESCE_LIMIT = 64 * 1024
"""A body up to this size leaves in the same ``send`` as the request's head."""


class _OneSend:
    """http.client sends a request's head, then its body, in two ``send``
    calls: for a small object's PUT that is a second system call (and a
    second wait for the GIL) per request, and a head and body in separate
    segments. A small ``bytes`` body is joined to the head here instead."""

    def _send_output(self, message_body: object = None, encode_chunked: bool = False) -> None:
        if (
            type(message_body) is bytes
            and len(message_body) <= COALESCE_LIMIT
            and not encode_chunked
        ):
            buffer: list[bytes] = self._buffer  # type: ignore[attr-defined]
            # joined by "\r\n": the head, the blank line, then the body
            buffer.extend((b"", message_body))
            message = b"\r\n".join(buffer)
            del buffer[:]
            self.send(message)  # type: ignore[attr-defined]
            return
        super()._send_output(message_body, encode_chunked)  # type: ignore[misc]


class LeanHTTPConnection(_OneSend, http.client.HTTPConnection):
    pass


class LeanHTTPSConnection(_OneSend, http.client.HTTPSConnection):
    pass


class ConnectTimeoutError(TimeoutError):
    """No connection (TCP and TLS handshake) within ``connect_timeout``: the
    error message says "connect timed out", not just "timed out"."""


class ReadTimeoutError(TimeoutError):
    """The server sent nothing for ``read_timeout`` (before or inside a response)."""


class WriteTimeoutError(TimeoutError):
    """The server took no more of the request for ``read_timeout``."""


class ConnectionPool:
    def __init__(
        self,
        endpoint: Endpoint,
        *,
        size: int,
        connect_timeout: float,
        read_timeout: float,
        tls: ssl.SSLContext | None,
    ) -> None:
        self._endpoint = endpoint
        self._size = size
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._tls = tls
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def acquire(self) -> tuple[http.client.HTTPConnection, bool]:
        """A connected connection, and whether it was reused. Idle ones the
        server has visibly closed are dropped here; one it closes just as it
        is reused fails the request, which the client then sends again on
        another connection without counting an attempt."""
        while True:
            with self._lock:
                if not self._idle:
                    break
                connection = self._idle.pop()
            if not _dropped(connection):
                return connection, True
            # the server closed it while idle (its keep-alive timeout): found
            # here with one poll rather than by a failed request
            connection.close()
        return self._connect(), False

    def _connect(self) -> http.client.HTTPConnection:
        host, port = self._endpoint.host, self._endpoint.port
        connection: http.client.HTTPConnection
        if self._endpoint.scheme == "https":
            connection = LeanHTTPSConnection(
                host, port, timeout=self._connect_timeout, context=self._tls
            )
        else:
            connection = LeanHTTPConnection(host, port, timeout=self._connect_timeout)
        # headers parsed without email.parser: a third of a HEAD's client CPU
        connection.response_class = FastResponse
        try:
            connection.connect()
        except TimeoutError as error:
            connection.close()
            raise ConnectTimeoutError(
                f"connect timed out after {self._connect_timeout}s"
            ) from error
        # the connect timeout bounds the handshake; every later wait is a read
        assert connection.sock is not None
        connection.sock.settimeout(self._read_timeout)
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def release(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self._size:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle connection is unusable: readable means the server
    closed it (EOF), reset it, or sent bytes no request asked for."""
    sock = connection.sock
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))
