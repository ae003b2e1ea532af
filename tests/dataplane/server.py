"""A loopback HTTP/1.1 server whose behaviour each test writes as a function.

``Server(app)`` listens on a free port of 127.0.0.1 (with TLS when given a
context) and calls ``app(exchange)`` for every request; the app answers with
:meth:`Exchange.reply`, or misbehaves on ``exchange.sock`` directly. The
server counts the connections it accepted and records every request, so a
test can assert how many connections and attempts the client made.

No pytest here: tests/dataplane/conftest.py makes servers and clients.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Seen:
    """A request as the server received it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int  # which accepted connection (1, 2, ...) carried it


class Exchange(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer
    number: int

    def setup(self) -> None:
        super().setup()
        self.number = self.server.accepted(self.request)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError, ssl.SSLError):
            self.close_connection = True

    def _dispatch(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length and self.server.read_bodies else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.seen = Seen(self.command, self.path, headers, body, self.number)
        self.server.record(self.seen)
        self.server.app(self)

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    @property
    def sock(self) -> socket.socket:
        connection: socket.socket = self.request
        return connection

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        extra = headers or {}
        for name, value in extra.items():
            self.send_header(name, value)
        if "content-length" not in {name.lower() for name in extra}:
            self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)
        self.wfile.flush()

    def hang_up(self) -> None:
        """Close the connection without a word (the client sees EOF)."""
        self.close_connection = True
        self.sock.shutdown(socket.SHUT_RDWR)

    def reset(self) -> None:
        """Abort the connection (the client sees a reset)."""
        self.close_connection = True
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def log_message(self, format: str, *args: object) -> None:
        return None


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self, app: Callable[[Exchange], None], tls: ssl.SSLContext | None, read_bodies: bool
    ) -> None:
        super().__init__(("127.0.0.1", 0), Exchange)
        self.app = app
        self.read_bodies = read_bodies
        self.tls = tls
        self.connections = 0
        self.seen: list[Seen] = []
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()

    def get_request(self) -> tuple[socket.socket, object]:
        sock, address = self.socket.accept()
        if self.tls is not None:
            sock.settimeout(5)
            sock = self.tls.wrap_socket(sock, server_side=True)
        return sock, address

    def accepted(self, sock: socket.socket) -> int:
        with self.lock:
            self.connections += 1
            self.open.add(sock)
            return self.connections

    def record(self, seen: Seen) -> None:
        with self.lock:
            self.seen.append(seen)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self.lock:
            self.open.discard(request)
        super().shutdown_request(request)


class Server:
    def __init__(
        self,
        app: Callable[[Exchange], None],
        *,
        tls: ssl.SSLContext | None = None,
        read_bodies: bool = True,
    ) -> None:
        """``read_bodies=False``: the app is called before the request body
        is read (and must read it, or never does)."""
        self._server = _HttpServer(app, tls, read_bodies)
        self.port: int = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def connections(self) -> int:
        """How many connections were accepted so far."""
        return self._server.connections

    @property
    def seen(self) -> list[Seen]:
        with self._server.lock:
            return list(self._server.seen)

    def drop_idle(self) -> None:
        """Close every open connection from the server's side, as a server
        does with keep-alive connections idle too long."""
        with self._server.lock:
            sockets = list(self._server.open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.drop_idle()
        self._thread.join(5)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
