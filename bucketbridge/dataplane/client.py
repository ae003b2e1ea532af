"""Send a signed request, retry what is worth retrying, stream the answer.

One retry policy for every provider on the lean plane: a connection that
fails before a response, or a 429/5xx answer, is tried again after a
full-jitter backoff (:func:`bucketbridge.reads.backoff`), up to the
``max_attempts`` connection setting, signing each attempt afresh. Every
request it carries is idempotent (GET, HEAD, PUT of a whole body or part,
DELETE), so trying again is safe; a create-only PUT may meet its own first
attempt's object, which the driver tells apart by ``Response.attempts``.
A reused keep-alive connection the server had closed is replaced once
without counting an attempt. A body cut off mid-read is not retried here:
the reader raises ProviderConnectionException and the core resumes the read
pinned to its revision (:mod:`bucketbridge.reads`).
"""

from __future__ import annotations

import http.client
import logging
import os
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from email.message import Message

from ..config import ConnectionSettings
from ..drivers.http_errors import Subject, network_error
from ..drivers.records import Body
from ..errors import ProviderConnectionException
from ..reads import backoff
from .pool import ConnectionPool
from .request import Endpoint, Request
from .signing import Signer

log = logging.getLogger("bucketbridge")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SEND_BLOCK = 1024 * 1024  # a TLS or in-memory body is sent in slices this large
NETWORK_ERRORS = (OSError, http.client.HTTPException)
# What a keep-alive connection closed by the server while idle looks like
STALE_CONNECTION = (
    http.client.RemoteDisconnected,
    http.client.BadStatusLine,
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
)


class HttpClient:
    """One per driver: a pool per host, one retry policy, thread-safe."""

    def __init__(self, connection: ConnectionSettings, *, verify: bool | str = True) -> None:
        self._connection = connection
        self._tls = _tls_context(verify)
        self._pools: dict[tuple[str, str, int], ConnectionPool] = {}
        self._lock = threading.Lock()

    def _pool(self, endpoint: Endpoint) -> ConnectionPool:
        where = (endpoint.scheme, endpoint.host, endpoint.port)
        pool = self._pools.get(where)
        if pool is None:
            with self._lock:
                pool = self._pools.setdefault(
                    where,
                    ConnectionPool(
                        endpoint,
                        size=self._connection.pool_size,
                        connect_timeout=self._connection.connect_timeout,
                        read_timeout=self._connection.read_timeout,
                        tls=self._tls if endpoint.scheme == "https" else None,
                    ),
                )
        return pool

    def send(self, request: Request, signer: Signer, subject: Subject) -> Response:
        """The server's response (any status but a retried 429/5xx), its
        body not yet read; ProviderConnectionException naming ``subject`` if
        no response came after every attempt."""
        pool = self._pool(request.endpoint)
        request.headers["host"] = request.endpoint.netloc
        request.headers["content-length"] = str(request.content_length)
        attempt = 0
        sent = 0  # attempts plus a replaced stale connection: what the server may have seen
        replaced_stale = False
        while True:
            attempt += 1
            sent += 1
            signer.sign(request)
            connection: http.client.HTTPConnection | None = None
            reused = False
            try:
                connection, reused = pool.acquire()
                _send(connection, request, self._connection.read_timeout)
                raw = connection.getresponse()
            except NETWORK_ERRORS as error:
                if connection is not None:
                    connection.close()
                if reused and not replaced_stale and isinstance(error, STALE_CONNECTION):
                    replaced_stale = True  # the server closed it while idle: not an attempt
                    attempt -= 1
                    continue
                if attempt >= self._connection.max_attempts:
                    raise network_error(error, subject) from error
                log.debug("%s %s failed (%s); retrying", request.method, subject.describe(), error)
                time.sleep(backoff(attempt))
                continue
            response = Response(raw, connection, pool, subject, sent)
            if raw.status in RETRY_STATUSES and attempt < self._connection.max_attempts:
                response.discard()
                log.debug(
                    "%s %s answered %d; retrying", request.method, subject.describe(), raw.status
                )
                time.sleep(backoff(attempt))
                continue
            return response

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


class Response:
    """A response whose body is read on demand. Reading it to the end puts
    the connection back in the pool; :meth:`close` before that discards the
    connection (the rest of the body is never downloaded for nothing)."""

    def __init__(
        self,
        raw: http.client.HTTPResponse,
        connection: http.client.HTTPConnection,
        pool: ConnectionPool,
        subject: Subject,
        attempts: int,
    ) -> None:
        self.status = raw.status
        self.headers: Message = raw.msg
        # how many times the request was sent, a resend on a replaced stale
        # connection included: a reset after the server had read the request
        # looks the same, and its first copy may have been carried out
        self.attempts = attempts
        self._raw = raw
        self._connection: http.client.HTTPConnection | None = connection
        self._pool = pool
        self._subject = subject

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def readinto(self, buffer: memoryview | bytearray) -> int:
        """Fill ``buffer`` from the body (fewer bytes only at its end, 0 once
        it is over); a connection lost mid-body is ProviderConnectionException."""
        if self._connection is None:
            return 0
        filled = 0
        view = memoryview(buffer).cast("B")
        try:
            while filled < len(view):
                count = self._raw.readinto(view[filled:])
                if not count:
                    # http.client returns 0, not IncompleteRead, when the
                    # server closes before Content-Length bytes came
                    if self._raw.length:
                        raise http.client.IncompleteRead(b"", self._raw.length)
                    break
                filled += count
        except NETWORK_ERRORS as error:
            self.close()
            raise network_error(error, self._subject) from error
        if filled < len(view):
            self._finished()
        return filled

    def read(self) -> bytes:
        """The whole (rest of the) body."""
        if self._connection is None:
            return b""
        try:
            data = self._raw.read()
        except NETWORK_ERRORS as error:
            self.close()
            raise network_error(error, self._subject) from error
        self._finished()
        return data

    def chunks(self, size: int) -> Iterator[bytes]:
        """The body in chunks of ``size`` bytes (the last may be shorter)."""
        try:
            while True:
                buffer = bytearray(size)
                count = self.readinto(buffer)
                if count:
                    yield bytes(buffer) if count == size else bytes(buffer[:count])
                if count < size:
                    return
        finally:
            self.close()

    def discard(self) -> None:
        """Read and drop a short body (an error's) so the connection is reused."""
        length = self.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) <= 64 * 1024:
            try:
                self.read()
                return
            except ProviderConnectionException:
                return
        self.close()

    def _finished(self) -> None:
        self.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if not self._raw.isclosed() and self._raw.length == 0:
            self._raw.read()  # HEAD, 204: nothing to read, but http.client wants it said
        if self._raw.isclosed() and not self._raw.will_close:
            self._pool.release(connection)
        else:
            self._raw.close()
            connection.close()


def _send(connection: http.client.HTTPConnection, request: Request, timeout: float) -> None:
    connection.putrequest(
        request.method, request.target(), skip_host=True, skip_accept_encoding=True
    )
    for name, value in request.headers.items():
        connection.putheader(name, value)
    body = request.body
    if not isinstance(body, Body):
        connection.endheaders(body or None)
        return
    connection.endheaders()
    sock = connection.sock
    assert sock is not None
    if body.window is not None and not isinstance(sock, ssl.SSLSocket) and body.size:
        fd, offset = body.window
        _sendfile(sock, fd, offset, body.size, timeout, body)
        return
    body.seek(0)
    while data := body.read(SEND_BLOCK):
        sock.sendall(data)


def _sendfile(
    sock: socket.socket, fd: int, offset: int, count: int, timeout: float, body: Body
) -> None:
    """``count`` bytes of ``fd`` from ``offset`` into the socket, inside the
    kernel: the body is never copied through Python. The socket has a
    timeout, so it is non-blocking underneath: wait for room when it is full."""
    sent_total = 0
    with selectors.PollSelector() as selector:
        selector.register(sock.fileno(), selectors.EVENT_WRITE)
        while sent_total < count:
            try:
                sent = os.sendfile(sock.fileno(), fd, offset + sent_total, count - sent_total)
            except BlockingIOError:
                if not selector.select(timeout):
                    raise TimeoutError("timed out sending the request body") from None
                continue
            if sent == 0:
                raise OSError(f"the file ended {count - sent_total} bytes before the body did")
            sent_total += sent
            body.sent(sent_total)


def _tls_context(verify: bool | str) -> ssl.SSLContext:
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return ssl.create_default_context()
