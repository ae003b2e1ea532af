"""Keep-alive connections to one host, reused most-recently-idle first.

At most ``size`` idle connections are kept per host (more may be open while
busy; the transfer engine never runs more threads than the pool is wide, see
``TransferPlan.resolve``). A connection is only put back once its response
has been read to the end, so the next request on it starts clean.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading

from .request import Endpoint
from .response import FastResponse


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
        """A connected connection, and whether it was reused (a reused one may
        have been closed by the server while idle: the client retries that
        once on a new connection, without counting it as an attempt)."""
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._connect(), False

    def _connect(self) -> http.client.HTTPConnection:
        host, port = self._endpoint.host, self._endpoint.port
        connection: http.client.HTTPConnection
        if self._endpoint.scheme == "https":
            connection = http.client.HTTPSConnection(
                host, port, timeout=self._connect_timeout, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self._connect_timeout)
        connection.response_class = FastResponse  # headers parsed without the email package
        connection.connect()
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
