"""Send a signed request, retry what is worth retrying, stream the answer.

One retry policy for every provider on the lean plane: a connection that
fails before a response, or a 429/5xx answer, is tried again after a
full-jitter backoff (:func:`bucketbridge.reads.backoff`), up to the
``max_attempts`` connection setting, signing each attempt afresh. A request
whose connection failed may still have been carried out, so sending it again
is safe only where a second copy does no harm. Most requests it carries are
idempotent (GET, HEAD, a PUT of a whole body or part, DELETE, a GCS upload
to a fixed name, a server-side copy); the rest are not, and their driver
reads ``Response.attempts`` (how many copies the server may have seen) to
make good what an earlier copy did: a create-only write may meet its own
first attempt's object (told apart by its ETag), a completion may meet its
upload already completed, and S3's CreateMultipartUpload (``POST ?uploads``)
makes one upload per copy, so a retried start aborts the earlier ones
(drivers/s3/lost_starts.py).
A reused keep-alive connection the server had closed is replaced without
counting an attempt or waiting: the pool drops those it sees closed before
use, and one closed just as the request went out is replaced once. A refused certificate
is not tried again. A body cut off mid-read is not retried here: the reader
raises ProviderConnectionException and the core resumes the read pinned to
its revision (:mod:`bucketbridge.reads`). Timeouts are named for what timed
out (connect, read, write), so the message says which.
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
from collections.abc import Callable, Iterator, Mapping
from email.message import Message
from types import MappingProxyType

from ..config import ConnectionSettings, load_ca_bundle
from ..drivers.http_errors import Subject, network_error
from ..drivers.records import Body
from ..errors import (
    InvalidValueException,
    ProviderConnectionException,
)
from ..reads import backoff
from .http11 import Connection, RawResponse, request_head
from .pool import COALESCE_LIMIT, ConnectionPool, ReadTimeoutError, WriteTimeoutError
from .request import Endpoint, Request
from .response import FastMessage, prefixed
from .signing import Signer

log = logging.getLogger("bucketbridge")
# one DEBUG line per request answered (``bucketbridge -v``); the query is left
# out, since a SAS token or a signature may travel there
requests_log = logging.getLogger("bucketbridge.requests")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SEND_BLOCK = 1024 * 1024  # a TLS or in-memory body is sent in slices this large
NETWORK_ERRORS = (OSError, http.client.HTTPException)
# What a keep-alive connection the server closed just as it was reused looks
# like: no answer at all. The pool drops connections already closed while
# idle (pool.py); a reset (RST) or a broken pipe while the request was on its
# way is a failed attempt like any other -- a fault proxy, or a server that
# refused the body, does exactly that.
STALE_CONNECTION = (http.client.RemoteDisconnected,)


class HttpClient:
    """One per driver: a pool per host, one retry policy, thread-safe."""

    def __init__(self, connection: ConnectionSettings, *, verify: bool | str | None = None) -> None:
        """``verify``: False to trust any certificate, a CA bundle's path,
        True for the system's CAs; None: as ``connection`` says (its
        ``ca_bundle``, else the system's)."""
        self._connection = connection
        if verify is None:
            verify = connection.verify
        # made with the first https pool: loading the CA store costs ~20 ms
        # of CPU, which a plain-http endpoint (a test server) never needs
        self._verify = verify
        # a CA bundle the user named is loaded now, so a bad one is refused
        # when the provider is made, not at its first request
        self._tls: ssl.SSLContext | None = _tls_context(verify) if isinstance(verify, str) else None
        self._pools: dict[tuple[str, str, int], ConnectionPool] = {}
        self._lock = threading.Lock()

    @property
    def settings(self) -> ConnectionSettings:
        """The connection settings its requests honour (timeouts, attempts)."""
        return self._connection

    def pool_for(self, endpoint: Endpoint) -> ConnectionPool:
        """The keep-alive pool of ``endpoint``'s host (made on first use):
        the multiplexer (:mod:`.multiplex`) takes its connections from it."""
        return self._pool(endpoint)

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
                        tls=self._tls_context() if endpoint.scheme == "https" else None,
                    ),
                )
        return pool

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:  # under self._lock, held by _pool
            self._tls = _tls_context(self._verify)
        return self._tls

    def send(
        self,
        request: Request,
        signer: Signer,
        subject: Subject,
        *,
        final: Callable[[int, Message], bool] | None = None,
        sent_before: int = 0,
    ) -> Response:
        """The server's response (any status but a retried 429/5xx), its
        body not yet read; ProviderConnectionException naming ``subject`` if
        no response came after every attempt. A 429/5xx answer for which
        ``final(status, headers)`` is true is returned at once: a refusal
        that sending again would only repeat (Azurite's 500 to a header it
        does not support, which the driver answers by changing the request).
        ``sent_before``: copies of the request already sent elsewhere (the
        multiplexer's, whose answer was lost or was a 429/5xx): they are its
        first attempts, so ``max_attempts`` bounds them all as one policy,
        and ``Response.attempts`` counts them, so the driver makes good what
        they may have done."""
        pool = self._pool(request.endpoint)
        request.headers["host"] = request.endpoint.netloc
        request.headers["content-length"] = str(request.content_length)
        attempt = sent_before
        # attempts plus a replaced stale connection: what the server may have seen
        sent = sent_before
        replaced_stale = False
        while True:
            attempt += 1
            sent += 1
            started = time.monotonic()
            signer.sign(request)
            connection: Connection | None = None
            reused = False
            try:
                connection, reused = pool.acquire()
                raw = _exchange(connection, request, self._connection.read_timeout)
            except NETWORK_ERRORS as error:
                if connection is not None:
                    connection.close()
                if reused and not replaced_stale and isinstance(error, STALE_CONNECTION):
                    # closed by the server just as it was reused: not an
                    # attempt. Once only: a request the server hangs up on
                    # would otherwise go round every connection that other
                    # threads keep handing back, without end.
                    replaced_stale = True
                    attempt -= 1
                    continue
                if attempt >= self._connection.max_attempts or isinstance(
                    error, ssl.SSLCertVerificationError
                ):  # a refused certificate is refused again: say so at once
                    raise network_error(_named(error), subject) from error
                log.debug("%s %s failed (%s); retrying", request.method, subject.describe(), error)
                time.sleep(backoff(attempt))
                continue
            except BaseException:
                # not the network's fault (a file window that shrank, an
                # interrupt): the connection is half-used, never reuse it
                if connection is not None:
                    connection.close()
                raise
            response = Response(raw, connection, pool, subject, sent)
            if (
                raw.status in RETRY_STATUSES
                and attempt < self._connection.max_attempts
                and not (final is not None and final(raw.status, raw.msg))
            ):
                response.discard()
                log.debug(
                    "%s %s answered %d; retrying", request.method, subject.describe(), raw.status
                )
                time.sleep(backoff(attempt))
                continue
            log_answered(request, raw.status, started)
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
        raw: RawResponse,
        connection: Connection,
        pool: ConnectionPool,
        subject: Subject,
        attempts: int,
    ) -> None:
        self.status = raw.status
        self.reason = raw.reason  # some servers (Swift) say no more than this
        self.headers: Message = raw.msg
        # how many times the request was sent, a resend on a replaced stale
        # connection included: a reset after the server had read the request
        # looks the same, and its first copy may have been carried out
        self.attempts = attempts
        self._raw = raw
        self._connection: Connection | None = connection
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
        raw = self._raw
        try:
            while filled < len(view):
                count = raw.readinto(view[filled:])
                if not count:
                    break
                filled += count
        except NETWORK_ERRORS as error:
            self._abandon()
            raise network_error(_named(error), self._subject) from error
        if raw.isclosed():
            self._finished()
        return filled

    def read(self) -> bytes:
        """The whole (rest of the) body."""
        if self._connection is None:
            return b""
        try:
            data = self._raw.read()
        except NETWORK_ERRORS as error:
            self._abandon()
            raise network_error(_named(error), self._subject) from error
        self._finished()
        return data

    def chunks(self, size: int) -> Iterator[bytes]:
        """The body in chunks of ``size`` bytes (the last may be shorter)."""
        try:
            while True:
                chunk = self._read_chunk(size)
                if chunk:
                    yield chunk
                if len(chunk) < size:
                    return
        finally:
            self.close()

    def _read_chunk(self, size: int) -> bytes:
        if self._connection is None:
            return b""
        try:
            data = self._raw.read(size)
        except NETWORK_ERRORS as error:
            self._abandon()
            raise network_error(_named(error), self._subject) from error
        if self._raw.isclosed():
            self._finished()
        return data

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

    def __del__(self) -> None:
        # Dropped unread (a driver's error path, a caller that stopped
        # early): nothing else will close the connection, the pool only
        # holds idle ones. Closed here without the pool, whose lock this
        # thread may hold when the collector runs.
        connection = getattr(self, "_connection", None)
        if connection is not None:
            self._connection = None
            connection.close()

    def _abandon(self) -> None:
        """Close the connection after a failure: it is not fit to reuse."""
        connection, self._connection = self._connection, None
        if connection is not None:
            self._raw.close()
            connection.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._raw.isclosed() and not self._raw.will_close:
            self._pool.release(connection)
        else:
            self._raw.close()
            connection.close()


def _exchange(connection: Connection, request: Request, timeout: float) -> RawResponse:
    """Send ``request`` and read the head of its answer. A server may answer
    before it has read the whole body (a 403, a 400 for a bad checksum) and
    close the connection: sending then fails, but its answer is the one to
    give the driver, not "broken pipe"."""
    try:
        _send(connection, request, timeout)
    except (BrokenPipeError, ConnectionResetError) as error:
        if not request.content_length:
            raise
        try:
            raw = connection.response(request.method)
        except NETWORK_ERRORS:
            raise error from None
        raw.will_close = True  # the request was not all sent: never reuse it
        return raw
    return connection.response(request.method)


def _send(connection: Connection, request: Request, timeout: float) -> None:
    try:
        _write(connection, request, timeout)
    # the server stopped taking the request in (BlockingIOError: a kernel
    # send timeout, see pool.py)
    except (TimeoutError, BlockingIOError) as error:
        raise WriteTimeoutError(f"sending the request: {_timed_out(error)}") from error


def header_index(headers: Message) -> Mapping[str, str]:
    """Every header of ``headers`` by lower-case name (its first value),
    read only: the index the response was read with (http11), not one more
    pass over them; a response, and the multiplexer's whole answer, alike."""
    if isinstance(headers, FastMessage):
        return MappingProxyType(headers.index())
    index: dict[str, str] = {}
    for name, value in headers.items():
        index.setdefault(name.lower(), value)
    return MappingProxyType(index)


def with_prefix(headers: Message, prefix: str) -> dict[str, str]:
    """The first value of each header whose lower-case name starts with
    ``prefix`` (lower case), by that name without it (user metadata)."""
    if isinstance(headers, FastMessage):
        return headers.with_prefix(prefix)
    return prefixed(header_index(headers), prefix)


def log_answered(request: Request, status: int, started: float) -> None:
    """The DEBUG line of a request answered (``bucketbridge -v``): without
    its query, where a SAS token or a signature may travel."""
    if requests_log.isEnabledFor(logging.DEBUG):
        requests_log.debug(
            "%s %s://%s%s -> %d in %.3f s",
            request.method,
            request.endpoint.scheme,
            request.endpoint.netloc,
            request.path,
            status,
            time.monotonic() - started,
        )


def _write(connection: Connection, request: Request, timeout: float) -> None:
    head = request_head(request.method, request.target(), request.headers)
    sock = connection.sock
    body = request.body
    if isinstance(body, Body) and body.size <= COALESCE_LIMIT and _in_memory(body):
        if body.memory is not None:  # bytes already: joined to the head as they are
            sock.sendall(head + body.memory)
            return
        enveloped = body.frame[1].memory if body.frame is not None else None
        if body.frame is not None and enveloped is not None:  # bytes in an envelope (GCS's)
            sock.sendall(b"".join((head, body.frame[0], enveloped, body.frame[2])))
            return
        body.seek(0)
        body = body.read()  # small: sent with the head in one send
    if not isinstance(body, Body):
        if body and len(body) <= COALESCE_LIMIT:
            # one send for head and body: one system call, one segment
            sock.sendall(head + body)
            return
        sock.sendall(head)
        if body:
            sock.sendall(body)
        return
    sock.sendall(head)
    if body.frame is not None and not isinstance(sock, ssl.SSLSocket):
        front, inner, tail = body.frame
        sock.sendall(front)
        _send_body(sock, inner, timeout)
        sock.sendall(tail)
        return
    _send_body(sock, body, timeout)


def _in_memory(body: Body) -> bool:
    """Whether none of ``body`` is a file window (which leaves by sendfile)."""
    if body.frame is not None:
        return body.frame[1].window is None
    return body.window is None


def _send_body(sock: socket.socket, body: Body, timeout: float) -> None:
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
                raise InvalidValueException(
                    "file", f"offset {offset + sent_total}", "it shrank while it was sent"
                )
            sent_total += sent
            body.sent(sent_total)


def _named(error: BaseException) -> BaseException:
    """``error``, a bare timeout named for what timed out: once connected,
    every wait is for the server's answer (connect timeouts are named by
    the pool)."""
    if type(error) is TimeoutError or isinstance(error, BlockingIOError):
        # BlockingIOError: the kernel's receive timeout (see pool.py)
        named = ReadTimeoutError(_timed_out(error))
        named.__cause__ = error
        return named
    return error


def _timed_out(error: OSError) -> str:
    """A timeout's message: "timed out" as Python words it, for the kernel's too."""
    return "timed out" if isinstance(error, BlockingIOError) else str(error)


def _tls_context(verify: bool | str) -> ssl.SSLContext:
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        return load_ca_bundle(verify)
    return ssl.create_default_context()
