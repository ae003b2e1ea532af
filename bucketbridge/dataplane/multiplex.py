"""Many small GETs (or PUTs) on one thread: up to ``window`` in flight, one wait for them all.

A batch of small objects read by 16 threads, one request each, is bound
by the threads themselves: every blocking call lets the GIL go, and with
16 threads each release is a futex wake and a context switch each way
(bench/profile_batch.py: ~27 switches an object). Here one thread keeps
up to ``window`` requests in flight on as many keep-alive connections of
the client's :class:`~.pool.ConnectionPool`: each request is sent (a small
head into an empty send buffer, which never waits), then one ``poll``
waits for all of them, and a ready socket is read without waiting
(``MSG_DONTWAIT``). Answers are handed back as each completes, their head
read by :mod:`.http11`'s rules and their body whole (Content-Length,
chunked, or until the close): only small objects come here. A small PUT
(``SmallWrites``) goes out as a GET does, its bytes after its head in the
same send; its driver counts the copy sent here when it is sent again.

There is no second retry policy: a request whose connection failed (or
timed out) or that was answered 429/5xx is handed back as ``None``, and
its caller sends it again on the blocking path (:meth:`.client.HttpClient.send`,
whose policy retries it). The read timeout applies to each request: the
time it spent waiting in this thread's ``poll`` with nothing arriving.

https too: a TLS connection's request is sent while its socket keeps
its timeout (a small head into an idle connection does not wait; if it
must, the read timeout bounds it), then the socket is made non-blocking
until its answer is whole. A TLS socket's ``recv`` takes no flags, and
bytes OpenSSL has decrypted are invisible to ``poll``: so when ``poll``
says the socket is ready it is read until OpenSSL wants more from the
network (``SSLWantReadError``), which leaves nothing decrypted behind
(``pending()`` is 0). The socket's timeout is put back before the
connection goes back to the pool. Plain http keeps the held libc calls.
"""

from __future__ import annotations

import ctypes
import errno
import http.client
import logging
import os
import select
import socket
import ssl
import sys
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from email.message import Message
from typing import Any, Generic, TypeVar

from ..drivers.http_errors import Subject
from ..reads import backoff
from .client import NETWORK_ERRORS, RETRY_STATUSES, HttpClient, log_answered
from .http11 import HEAD_LIMIT, RECV_SIZE, Connection, RawResponse, request_head
from .request import Endpoint, Request
from .signing import Signer

log = logging.getLogger("bucketbridge")

T = TypeVar("T")

_READY = select.POLLIN | select.POLLERR | select.POLLHUP
_AGAIN = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR})


def _load_held() -> tuple[Any, Any] | None:
    """libc's ``send`` and ``recv`` called without letting the GIL go
    (``PyDLL``), or None. Here they never wait (``MSG_DONTWAIT``: a socket
    ``poll`` said is ready, a request head into an idle connection's empty
    send buffer), and a socket method lets the GIL go around each call:
    with other threads about (the batch's puts, the other batches), each
    release is a futex wake and a context switch each way. Linux only, as
    pool.py's held poll."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        library = ctypes.PyDLL(None, use_errno=True)
        send, recv = library.send, library.recv
    except (OSError, AttributeError):
        return None
    for function in (send, recv):
        function.restype = ctypes.c_ssize_t
        function.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return send, recv


_held = _load_held()
_SEND_FLAGS = socket.MSG_DONTWAIT | getattr(socket, "MSG_NOSIGNAL", 0)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request to multiplex: signed by ``signer`` as it is sent,
    ``subject`` naming it in logs (and, on the blocking path, in errors)."""

    request: Request
    signer: Signer
    subject: Subject


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole response: status, headers, body (all of it), and how many
    times the request was sent (always 1 here: a retry is the blocking path's)."""

    status: int
    reason: str
    headers: Message
    body: bytes
    attempts: int = 1

    def header(self, name: str) -> str | None:
        """As :meth:`.client.Response.header`: a driver reads both alike."""
        value: str | None = self.headers.get(name)
        return value


def supports(endpoint: Endpoint) -> bool:
    """Whether requests to ``endpoint`` can be multiplexed (http and https)."""
    return endpoint.scheme in ("http", "https")


class _Failed(Exception):
    """The request's exchange failed here; ``stale``: on a reused connection
    the server had closed, before any byte of an answer (not an attempt)."""

    def __init__(self, cause: BaseException | str, *, stale: bool = False) -> None:
        super().__init__(str(cause))
        self.stale = stale


class _InFlight(Generic[T]):
    """One request sent and its answer being read."""

    __slots__ = (
        "connection",
        "exchange",
        "idle",
        "raw",
        "received",
        "reused",
        "started",
        "tag",
        "timeout",
    )

    def __init__(
        self,
        tag: T,
        exchange: Exchange,
        connection: Connection,
        reused: bool,
        started: float,
        timeout: float | None,
    ) -> None:
        self.tag = tag
        self.exchange = exchange
        self.connection = connection
        self.reused = reused
        self.started = started
        self.raw: RawResponse | None = None
        self.received = False  # any byte of the answer yet
        self.idle = 0.0  # seconds waited in poll with nothing arriving
        # a TLS socket's own timeout, put back when it goes back to the pool
        # (it is non-blocking while here); None for plain http
        self.timeout = timeout


class Multiplexer:
    """Runs small requests of one client on the calling thread, at most
    ``window`` in flight (so at most ``window`` connections held)."""

    def __init__(self, client: HttpClient, window: int) -> None:
        self._client = client
        # what a held receive fills (one call at a time: this thread's)
        self._scratch = ctypes.create_string_buffer(RECV_SIZE)
        self._window = window
        settings = client.settings
        self._read_timeout = settings.read_timeout
        self._retries = settings.max_attempts > 1

    def run(
        self, exchanges: Iterable[tuple[T, Exchange | None]]
    ) -> Generator[tuple[T, Answer | None], None, None]:
        """Each ``(tag, exchange)``'s answer as it completes, in any order;
        ``None`` for one to send on the blocking path (an exchange of None
        at once). Closing the generator early closes the connections still
        in flight."""
        pending = iter(exchanges)
        flying: dict[int, _InFlight[T]] = {}
        poller = select.poll()
        try:
            more = True
            while True:
                while more and len(flying) < self._window:
                    item = next(pending, None)
                    if item is None:
                        more = False
                        break
                    tag, exchange = item
                    started = None if exchange is None else self._start(tag, exchange)
                    if started is None:
                        yield tag, None
                        continue
                    fd = started.connection.sock.fileno()
                    flying[fd] = started
                    poller.register(fd, select.POLLIN)
                if not flying:
                    return
                for tag, answer in self._wait(flying, poller):
                    yield tag, answer
        finally:
            for state in flying.values():
                state.connection.close()

    def _start(self, tag: T, exchange: Exchange) -> _InFlight[T] | None:
        """Sign and send ``exchange`` on a pooled connection; None if that
        failed (the blocking path sends it again and maps its errors)."""
        request = exchange.request
        if request.body is not None and not isinstance(request.body, bytes):
            return None  # a file window: the blocking path sends it (with sendfile)
        request.headers["host"] = request.endpoint.netloc
        request.headers["content-length"] = str(request.content_length)
        connection: Connection | None = None
        try:
            exchange.signer.sign(request)
            head = request_head(request.method, request.target(), request.headers)
            connection, reused = self._client.pool_for(request.endpoint).acquire()
            sock = connection.sock
            timeout = None
            if isinstance(sock, ssl.SSLSocket):
                # sent with the socket's timeout (OpenSSL may need to wait where
                # a plain send would not), then read without waiting
                sock.sendall(head + request.body if request.body else head)
                timeout = sock.gettimeout()
                sock.settimeout(0)
            else:
                # a request head into an idle connection's empty send buffer: never waits
                _send(sock, head + request.body if request.body else head)
        except Exception as error:  # any: the blocking path says what it is
            if connection is not None:
                connection.close()
            log.debug("%s %s not multiplexed (%s)", request.method, exchange.subject, error)
            return None
        return _InFlight(tag, exchange, connection, reused, time.monotonic(), timeout)

    def _wait(
        self, flying: dict[int, _InFlight[T]], poller: select.poll
    ) -> list[tuple[T, Answer | None]]:
        """One wait for every request in flight; the answers it completed
        (and the requests that failed or timed out, as None)."""
        longest = max(state.idle for state in flying.values())
        waited = time.monotonic()
        events = poller.poll(max(0.0, self._read_timeout - longest) * 1000)
        waited = time.monotonic() - waited
        done: list[tuple[T, Answer | None]] = []
        ready = {fd for fd, mask in events if mask & _READY}
        for fd in list(flying):
            state = flying[fd]
            if fd not in ready:
                state.idle += waited
                if state.idle < self._read_timeout:
                    continue
                failure: _Failed | None = _Failed("timed out")
                answer = None
            else:
                state.idle = 0.0
                try:
                    answer = self._receive(state)
                    failure = None
                except _Failed as error:
                    answer, failure = None, error
                if answer is None and failure is None:
                    continue  # more to come
            poller.unregister(fd)
            del flying[fd]
            done.append((state.tag, self._finish(state, answer, failure)))
        return done

    def _receive(self, state: _InFlight[T]) -> Answer | None:
        """Read what arrived; the answer once whole, None while incomplete."""
        connection = state.connection
        sock = connection.sock
        try:
            if isinstance(sock, ssl.SSLSocket):
                data, ended = _recv_tls(sock)
            else:
                data = self._recv(sock)
                ended = not data
        except BlockingIOError:
            return None
        except OSError as error:  # an SSLError too
            raise _Failed(error) from error
        buffer = connection.buffer
        if data:
            state.received = True
            buffer += data
        elif not ended:
            return None  # only TLS records with no data (a session ticket)
        try:
            return self._parse(state, ended=ended)
        except (*NETWORK_ERRORS, ValueError) as error:
            raise _Failed(error, stale=state.reused and not state.received) from error

    def _recv(self, sock: socket.socket) -> bytes:
        """What the socket has, without waiting (BlockingIOError if nothing)."""
        if _held is None:
            return sock.recv(RECV_SIZE, socket.MSG_DONTWAIT)
        scratch = self._scratch
        count = _held[1](sock.fileno(), scratch, RECV_SIZE, socket.MSG_DONTWAIT)
        if count < 0:
            _raise_errno()
        return ctypes.string_at(scratch, count)

    def _parse(self, state: _InFlight[T], *, ended: bool) -> Answer | None:
        connection = state.connection
        buffer = connection.buffer
        method = state.exchange.request.method
        while state.raw is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > HEAD_LIMIT:
                    raise http.client.HTTPException(f"response head longer than {HEAD_LIMIT} bytes")
                if ended:
                    if not buffer:
                        raise http.client.RemoteDisconnected(
                            "Remote end closed connection without response"
                        )
                    raise http.client.IncompleteRead(bytes(buffer))
                return None
            head = buffer[:end].decode("iso-8859-1")
            del buffer[: end + 4]
            raw = RawResponse(connection, method, head)
            # an interim answer (100 Continue, 103 Early Hints) precedes the real one
            if not 100 <= raw.status < 200 or raw.status == 101:
                state.raw = raw
        raw = state.raw
        if raw.chunked:
            whole = _dechunked(buffer)
            if whole is None:
                if ended:
                    raise http.client.IncompleteRead(bytes(buffer))
                return None
            body, used = whole
            del buffer[:used]
        elif raw.length is not None:
            if len(buffer) < raw.length:
                if ended:
                    raise http.client.IncompleteRead(bytes(buffer), raw.length - len(buffer))
                return None
            body = bytes(buffer[: raw.length])
            del buffer[: raw.length]
        else:  # until the close
            if not ended:
                return None
            body = bytes(buffer)
            del buffer[:]
        return Answer(raw.status, raw.reason, raw.msg, body)

    def _finish(
        self, state: _InFlight[T], answer: Answer | None, failure: _Failed | None
    ) -> Answer | None:
        """Put the connection back (or close it) and say what to hand back."""
        connection = state.connection
        raw = state.raw
        request = state.exchange.request
        if answer is not None and raw is not None and not raw.will_close and not connection.buffer:
            if state.timeout is not None:
                connection.sock.settimeout(state.timeout)
            self._client.pool_for(request.endpoint).release(connection)
        else:
            connection.close()
        if answer is None:
            log.debug(
                "%s %s failed (%s); sent again on the blocking path",
                request.method,
                state.exchange.subject.describe(),
                failure,
            )
            if failure is None or not failure.stale:
                time.sleep(backoff(1))  # as the client waits before its second attempt
            return None
        if answer.status in RETRY_STATUSES and self._retries:
            log.debug(
                "%s %s answered %d; sent again on the blocking path",
                request.method,
                state.exchange.subject.describe(),
                answer.status,
            )
            time.sleep(backoff(1))
            return None
        log_answered(request, answer.status, state.started)
        return answer


def _send(sock: socket.socket, data: bytes) -> None:
    """All of ``data`` into the socket: one held call where it fits (the
    usual case), the socket's own ``sendall`` for the rest."""
    if _held is not None:
        sent = _held[0](sock.fileno(), data, len(data), _SEND_FLAGS)
        if sent == len(data):
            return
        if sent < 0:
            number = ctypes.get_errno()
            if number not in _AGAIN:
                raise OSError(number, os.strerror(number))
            sent = 0
        data = data[sent:]
    sock.sendall(data)


def _recv_tls(sock: ssl.SSLSocket) -> tuple[bytes, bool]:
    """All a non-blocking TLS socket has, and whether the stream ended: read
    until OpenSSL wants more from the network, so that nothing it decrypted
    is left where ``poll`` cannot see it."""
    parts: list[bytes] = []
    while True:
        try:
            data = sock.recv(RECV_SIZE)
        except ssl.SSLWantReadError:
            return b"".join(parts), False
        if not data:  # close_notify, or the peer's FIN (a ragged end)
            return b"".join(parts), True
        parts.append(data)


def _raise_errno() -> None:
    number = ctypes.get_errno()
    if number in _AGAIN:
        raise BlockingIOError(number, os.strerror(number))
    raise OSError(number, os.strerror(number))


def _dechunked(buffer: bytearray) -> tuple[bytes, int] | None:
    """A chunked body whole from the start of ``buffer``, and the bytes it
    took (trailers included); None while it is incomplete. A size line that
    is not hex is ValueError; a chunk without its line end, IncompleteRead."""
    parts: list[bytes] = []
    at = 0
    while True:
        end = buffer.find(b"\n", at)
        if end < 0:
            return None
        size = int(bytes(buffer[at:end]).split(b";", 1)[0], 16)
        at = end + 1
        if size == 0:
            while True:  # trailers, up to the blank line
                end = buffer.find(b"\n", at)
                if end < 0:
                    return None
                line = bytes(buffer[at : end + 1])
                at = end + 1
                if line in (b"\r\n", b"\n"):
                    return b"".join(parts), at
        if len(buffer) < at + size + 2:
            if len(buffer) == at + size + 1 and buffer[at + size : at + size + 1] == b"\n":
                pass  # a bare line feed after the chunk: handled below
            else:
                return None
        parts.append(bytes(buffer[at : at + size]))
        at += size
        if buffer[at : at + 2] == b"\r\n":
            at += 2
        elif buffer[at : at + 1] == b"\n":
            at += 1
        else:
            raise http.client.IncompleteRead(b"", 0)
