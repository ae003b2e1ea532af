"""A loopback HTTP/1.1 proxy that injects faults between a provider and its real server.

Tests put a :class:`FaultProxy` in front of a server and point the provider
at ``proxy.url``. Each :class:`Rule` matches requests (method, path, query)
and applies one fault to the first ``times`` of them, or to all when
``times`` is None; every request it matches is counted, fired or not, so a
test can assert how many attempts the library made.

It understands just enough HTTP/1.1 to apply rules per request on a
keep-alive connection: request line and headers, a body framed by
Content-Length or chunked, ``Expect: 100-continue`` (answered here, so the
client never waits for the server's), and responses framed by
Content-Length, chunked or connection close. Each request goes to the
server on a fresh connection, so a fault never leaves a half-used server
connection behind.

No pytest here: tests/faults/fixtures.py makes proxies for the backends.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import parse_qs, unquote, urlsplit

COPY_CHUNK = 64 * 1024
MAX_LINE = 64 * 1024
DEFAULT_STALL = 60.0

Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class Request:
    """The head of a request, as rules see it."""

    method: str
    target: str
    version: str
    headers: Headers

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.target).path)

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def header(self, name: str) -> str | None:
        return _header(self.headers, name)


# --- what a rule does --------------------------------------------------------


@dataclass(frozen=True)
class ResetRequest:
    """Reset the connection after ``after`` bytes of the request body (None:
    after the whole request); the server never sees the request."""

    after: int | None = None


@dataclass(frozen=True)
class ResetResponse:
    """Forward the request, send the response's head and ``after`` bytes of
    its body, then reset the connection. (Here and for Truncate and Stall, a
    body no longer than ``after`` passes whole: there is nothing to cut.)
    With ``after`` None the server's whole answer is lost: it did the work,
    the client hears nothing but the reset."""

    after: int | None = 0


@dataclass(frozen=True)
class Truncate:
    """Forward the request, send the response's head (whose Content-Length
    promises the whole body) and ``after`` bytes of its body, then close
    the connection cleanly."""

    after: int = 0


@dataclass(frozen=True)
class Stall:
    """Say nothing for ``seconds`` (or until the proxy stops), then close.
    With ``after`` None the request is not forwarded and no response starts;
    with ``after`` N the response's head and N bytes of body are sent first."""

    after: int | None = None
    seconds: float = DEFAULT_STALL


@dataclass(frozen=True)
class Reply:
    """Answer here without forwarding: a provider's own error response."""

    status: int
    reason: str
    body: bytes = b""
    headers: Headers = field(default_factory=list)


@dataclass(frozen=True)
class Delay:
    """Hold the request ``seconds``, then forward it untouched (a slow
    server): requests held at once show in ``FaultProxy.most_in_flight``."""

    seconds: float


Resign = Callable[[Request, Headers, bytes], Headers]
"""Signs a changed request again: given its head as received, its headers
as changed and its body, the headers to send."""


@dataclass(frozen=True)
class StripHeader:
    """Forward the request without the header ``name`` (a server that
    ignores it, as Ceph RGW ignores If-None-Match on multipart completion).
    Where the header is signed and the server checks signatures, ``resign``
    signs the request again without it."""

    name: str
    resign: Resign | None = None


@dataclass(frozen=True)
class RewriteBody:
    """Forward the request and pass the response body through ``change``
    (a server that formats something differently)."""

    change: Callable[[bytes], bytes]


Action = ResetRequest | ResetResponse | Truncate | Stall | Reply | StripHeader | RewriteBody | Delay


def describe(action: Action) -> str:
    """A short name of ``action``, for reports."""
    if isinstance(action, Reply):
        return f"Reply({action.status} {action.reason})"
    if isinstance(action, StripHeader):
        return f"StripHeader({action.name!r})"
    if isinstance(action, RewriteBody):
        return f"RewriteBody({getattr(action.change, '__name__', 'change')})"
    if isinstance(action, Stall):
        return f"Stall(after={action.after})"
    return repr(action)


# --- which requests a rule applies to ----------------------------------------


@dataclass(frozen=True)
class Match:
    """``method`` (any if None); ``path`` a regular expression the whole
    decoded path must match (any if None); ``query`` parameter names that
    must be present, ``no_query`` ones that must be absent; ``where`` any
    other test of the request head."""

    method: str | None = None
    path: str | None = None
    query: Sequence[str] = ()
    no_query: Sequence[str] = ()
    where: Callable[[Request], bool] | None = None

    def __call__(self, request: Request) -> bool:
        if self.method is not None and request.method != self.method.upper():
            return False
        if self.path is not None and re.fullmatch(self.path, request.path) is None:
            return False
        query = request.query
        if any(name not in query for name in self.query):
            return False
        if any(name in query for name in self.no_query):
            return False
        return self.where is None or self.where(request)


class Rule:
    """A fault applied to requests that ``match``: the first ``times`` of
    them, or every one if ``times`` is None. ``matched`` counts every request
    it matched, ``fired`` those it applied its action to."""

    def __init__(self, match: Match, action: Action, times: int | None) -> None:
        if times is not None and times < 0:
            raise ValueError(f"times={times!r}: give a count >= 0, or None for always")
        self.match = match
        self.action = action
        self.times = times
        self.matched = 0
        self.fired = 0

    def _take(self) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True

    def __repr__(self) -> str:
        times = "always" if self.times is None else f"times={self.times}"
        return f"Rule({self.match!r}, {self.action!r}, {times}, matched={self.matched})"


# --- the proxy -------------------------------------------------------------------


class _Dropped(Exception):
    """The client connection is finished with (by a fault or by the client)."""


class FaultProxy:
    """Listens on a free loopback port and forwards to ``upstream`` (host, port);
    with ``tls`` (a server context) it speaks https to its clients, plain
    http upstream."""

    def __init__(self, upstream: tuple[str, int], tls: ssl.SSLContext | None = None) -> None:
        self.upstream = upstream
        self._tls = tls
        self.requests: list[tuple[float, str, str]] = []
        """(time.monotonic(), method, target) of every request received, in order."""
        self.errors: list[BaseException] = []
        """What went wrong in the proxy itself (not a fault it was told to make)."""
        self.most_in_flight = 0
        """The most requests the proxy was handling at once (see :meth:`reset_counts`)."""
        self.most_open = 0
        """The most client connections open at once."""
        self._in_flight = 0
        self._open = 0
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://{self.address}"

    def __enter__(self) -> FaultProxy:
        self._acceptor.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add(self, match: Match, action: Action, times: int | None = None) -> Rule:
        """Apply ``action`` to the first ``times`` requests ``match`` accepts
        (all of them if None). Earlier rules win when several match."""
        rule = Rule(match, action, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule: from now on requests pass untouched."""
        with self._lock:
            self._rules.clear()

    def reset_counts(self) -> None:
        """Start ``most_in_flight`` and ``most_open`` again from what is now."""
        with self._lock:
            self.most_in_flight = self._in_flight
            self.most_open = self._open

    def _count(self, name: str, step: int) -> None:
        with self._lock:
            now = getattr(self, f"_{name}") + step
            setattr(self, f"_{name}", now)
            if now > getattr(self, f"most_{name}"):
                setattr(self, f"most_{name}", now)

    @property
    def rules(self) -> list[Rule]:
        with self._lock:
            return list(self._rules)

    def close(self) -> None:
        self._stopping.set()
        _shut(self._listener)  # wakes the accept() in progress; close() alone does not
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)
        if self._acceptor.is_alive():
            self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)

    # --- connections ---------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            thread = threading.Thread(
                target=self._serve, args=(client,), name="fault-proxy-conn", daemon=True
            )
            with self._lock:
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
            thread.start()

    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.add(sock)
        if self._stopping.is_set():
            _shut(sock)
        return sock

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def _serve(self, client: socket.socket) -> None:
        if self._tls is not None:
            try:  # the handshake on this connection's thread, not the acceptor's
                client = self._tls.wrap_socket(client, server_side=True)
            except OSError:
                client.close()
                return
        self._track(client)
        self._count("open", 1)
        reader = client.makefile("rb")
        try:
            while not self._stopping.is_set():
                request = _read_request_head(reader)
                if request is None:
                    return
                self._count("in_flight", 1)
                try:
                    if not self._exchange(client, reader, request):
                        return
                finally:
                    self._count("in_flight", -1)
        except (_Dropped, OSError):
            return
        except Exception as error:  # a bug here must fail the test, not vanish in a thread
            with self._lock:
                self.errors.append(error)
        finally:
            reader.close()
            self._forget(client)
            client.close()
            self._count("open", -1)

    def _choose(self, request: Request) -> Action | None:
        with self._lock:
            self.requests.append((time.monotonic(), request.method, request.target))
            chosen: Action | None = None
            for rule in self._rules:
                if rule.match(request):
                    rule.matched += 1
                    if chosen is None and rule._take():
                        chosen = rule.action
            return chosen

    def _exchange(self, client: socket.socket, reader: BinaryIO, request: Request) -> bool:
        """Handle one request; False when the client connection must end."""
        action = self._choose(request)
        headers = [(k, v) for k, v in request.headers if k.lower() != "expect"]
        if (request.header("expect") or "").lower() == "100-continue":
            client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if isinstance(action, ResetRequest):
            for _ in _body(reader, request.headers, limit=action.after):
                pass  # read as far as the fault lets the client send
            _reset(client)
            raise _Dropped
        body = b"".join(_body(reader, request.headers))
        keep_alive = _keeps_alive(request)
        if isinstance(action, Reply):
            self._reply(client, request, action, keep_alive)
            return keep_alive
        if isinstance(action, Stall) and action.after is None:
            self._stall(action)
            raise _Dropped
        if isinstance(action, Delay):
            self._stopping.wait(action.seconds)
        if isinstance(action, StripHeader):
            headers = [(k, v) for k, v in headers if k.lower() != action.name.lower()]
            if action.resign is not None:
                headers = action.resign(request, headers, body)
        return self._forward(client, request, headers, body, action, keep_alive)

    def _reply(self, client: socket.socket, request: Request, reply: Reply, keep: bool) -> None:
        body = b"" if request.method == "HEAD" else reply.body
        headers = [
            *reply.headers,
            ("Content-Length", str(len(reply.body))),
            ("Connection", "keep-alive" if keep else "close"),
        ]
        client.sendall(_head(f"HTTP/1.1 {reply.status} {reply.reason}", headers) + body)

    def _stall(self, stall: Stall) -> None:
        self._stopping.wait(stall.seconds)

    def _forward(
        self,
        client: socket.socket,
        request: Request,
        headers: Headers,
        body: bytes,
        action: Action | None,
        keep_alive: bool,
    ) -> bool:
        upstream = self._track(socket.create_connection(self.upstream, timeout=120))
        try:
            headers = [(k, v) for k, v in headers if k.lower() != "connection"]
            headers.append(("Connection", "close"))
            line = f"{request.method} {request.target} {request.version}"
            upstream.sendall(_head(line, headers) + body)
            with upstream.makefile("rb") as answer:
                status_line, response_headers = _read_response_head(answer)
                status = int(status_line.split()[1])
                bodiless = request.method == "HEAD" or status in (204, 304)
                framed = bodiless or _framed(response_headers)
                keep_alive = keep_alive and framed
                response_headers = [
                    (k, v) for k, v in response_headers if k.lower() not in ("connection",)
                ]
                response_headers.append(("Connection", "keep-alive" if keep_alive else "close"))
                chunks = iter(()) if bodiless else _body(answer, response_headers, response=True)
                if isinstance(action, ResetResponse) and action.after is None:
                    _reset(client)
                    raise _Dropped
                if isinstance(action, RewriteBody):
                    return self._rewrite(client, status_line, response_headers, chunks, action)
                client.sendall(_head(status_line, response_headers))
                limit = _cut_after(action)
                sent = 0
                for chunk in chunks:
                    if limit is not None and sent + len(chunk) > limit:
                        client.sendall(chunk[: limit - sent])
                        break
                    client.sendall(chunk)
                    sent += len(chunk)
                else:
                    return keep_alive  # a body no longer than the cut passes whole
        finally:
            self._forget(upstream)
            upstream.close()
        return self._cut(client, action)

    def _cut(self, client: socket.socket, action: Action | None) -> bool:
        """End a response cut short by ``action`` (or by the server)."""
        if isinstance(action, ResetResponse):
            _reset(client)
        elif isinstance(action, Stall):
            self._stall(action)
        raise _Dropped

    def _rewrite(
        self,
        client: socket.socket,
        status_line: str,
        headers: Headers,
        chunks: Iterator[bytes],
        action: RewriteBody,
    ) -> bool:
        chunked = (_header(headers, "transfer-encoding") or "").lower() == "chunked"
        raw = b"".join(chunks)
        body = action.change(_dechunk(raw) if chunked else raw)
        dropped = ("content-length", "transfer-encoding", "content-md5", "connection")
        kept = [(k, v) for k, v in headers if k.lower() not in dropped]
        kept += [("Content-Length", str(len(body))), ("Connection", "close")]
        client.sendall(_head(status_line, kept) + body)
        return False


def _cut_after(action: Action | None) -> int | None:
    """How many body bytes to send before ``action`` cuts the response."""
    if isinstance(action, (ResetResponse, Truncate)):
        return action.after or 0
    if isinstance(action, Stall):
        return action.after
    return None


# --- HTTP/1.1 framing -----------------------------------------------------------


def _header(headers: Headers, name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


def _readline(reader: BinaryIO) -> bytes:
    line = reader.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise ValueError("header line too long")
    return line


def _read_headers(reader: BinaryIO) -> Headers:
    headers: Headers = []
    while True:
        line = _readline(reader)
        if not line:
            raise _Dropped
        if line in (b"\r\n", b"\n"):
            return headers
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))


def _read_request_head(reader: BinaryIO) -> Request | None:
    line = _readline(reader)
    while line in (b"\r\n", b"\n"):  # tolerated between requests (RFC 9112 2.2)
        line = _readline(reader)
    if not line:
        return None
    method, target, version = line.decode("latin-1").split()
    return Request(method, target, version, _read_headers(reader))


def _read_response_head(reader: BinaryIO) -> tuple[str, Headers]:
    while True:
        line = _readline(reader)
        if not line:
            raise _Dropped
        status_line = line.decode("latin-1").rstrip("\r\n")
        headers = _read_headers(reader)
        if not status_line.split()[1].startswith("1"):
            return status_line, headers  # interim 1xx answers are dropped


def _framed(headers: Headers) -> bool:
    return (_header(headers, "transfer-encoding") or "").lower() == "chunked" or (
        _header(headers, "content-length") is not None
    )


def _body(
    reader: BinaryIO, headers: Headers, *, limit: int | None = None, response: bool = False
) -> Iterator[bytes]:
    """The raw bytes of a message body as framed by ``headers`` (chunked
    bodies are passed on still chunked), at most ``limit`` of them. A
    response framed by neither header runs to the connection's close."""
    left = limit
    if (_header(headers, "transfer-encoding") or "").lower() == "chunked":
        source: Iterator[bytes] = _raw_chunks(reader)
    elif _header(headers, "content-length") is not None:
        source = _exactly(reader, int(_header(headers, "content-length") or 0))
    elif response:
        source = _to_close(reader)
    else:
        return
    for piece in source:
        if left is not None:
            if left <= 0:
                return
            piece = piece[:left]
            left -= len(piece)
        yield piece


def _exactly(reader: BinaryIO, size: int) -> Iterator[bytes]:
    while size > 0:
        piece = reader.read(min(size, COPY_CHUNK))
        if not piece:
            raise _Dropped
        size -= len(piece)
        yield piece


def _to_close(reader: BinaryIO) -> Iterator[bytes]:
    while piece := reader.read1(COPY_CHUNK):  # type: ignore[attr-defined]
        yield piece


def _raw_chunks(reader: BinaryIO) -> Iterator[bytes]:
    while True:
        size_line = _readline(reader)
        if not size_line:
            raise _Dropped
        yield size_line
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while True:  # trailers, then the empty line
                trailer = _readline(reader)
                if not trailer:
                    raise _Dropped
                yield trailer
                if trailer in (b"\r\n", b"\n"):
                    return
        yield from _exactly(reader, size + 2)  # the data and its CRLF


def _dechunk(raw: bytes) -> bytes:
    out = bytearray()
    position = 0
    while True:
        end = raw.index(b"\r\n", position)
        size = int(raw[position:end].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += raw[end + 2 : end + 2 + size]
        position = end + 2 + size + 2


def _keeps_alive(request: Request) -> bool:
    connection = (request.header("connection") or "").lower()
    if request.version == "HTTP/1.0":
        return connection == "keep-alive"
    return connection != "close"


def _head(first_line: str, headers: Headers) -> bytes:
    lines = [first_line, *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset rather than an orderly close."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    _shut(sock, orderly=False)


def _shut(sock: socket.socket, *, orderly: bool = True) -> None:
    try:
        if orderly:
            sock.shutdown(socket.SHUT_RDWR)
        else:
            sock.close()
    except OSError:
        pass
