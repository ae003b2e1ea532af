"""A minimal HTTP/1.1 client connection: the lean plane's own, in place of http.client's.

http.client builds, per response, a socket file object, a buffered
reader and an ``HTTPResponse`` that reads its head a line at a time; per
request, it validates and buffers each header in a Python call. Measured
(bench/profile_requests.py), that was about half of a HEAD's client CPU
on the lean plane. Here a request's head is one string encoded once and
sent with a small body in one ``sendall``; a response's head is taken
from one ``recv`` (usually with the start of its body), split once, and
its body is read from what is left of that buffer, then straight from the
socket into the caller's buffer.

It keeps http.client's rules where they matter: the same checks on header
names and values (ValueError before anything is sent), status line and
version checks, 100 Continue skipped, Content-Length and chunked bodies,
bodiless answers (HEAD, 1xx, 204, 304), when a connection must close
(``Connection: close``, HTTP/1.0 without keep-alive, a body that ends
only at the close). Its failures are http.client's exception classes
(RemoteDisconnected, IncompleteRead, BadStatusLine...) or OSError, which
the client's error mapping already knows.
"""

from __future__ import annotations

import http.client
import operator
import re
import socket
import ssl
from collections.abc import Callable

from .response import FastMessage

RECV_SIZE = 64 * 1024
"""What one ``recv`` asks for when reading a head or a small body."""
HEAD_LIMIT = 256 * 1024
"""A response head longer than this is refused (http.client: 100 lines of 64 KiB)."""
MAX_HEADERS = 100

# http.client's rules for a header line (putheader): a name of no colon
# or white space, a value with no line break but an obs-fold continuation
_LEGAL_NAME = re.compile(r"[^:\s][^:\r\n]*").fullmatch
_LEGAL_NAMES = re.compile(r"[^:\s][^:\r\n]*(?:\n[^:\s][^:\r\n]*)*").fullmatch
_ILLEGAL_VALUE = re.compile(r"\n(?![ \t])|\r(?![ \t\n])").search
# http.client refuses a method or target holding a control character or a blank
_BAD_TARGET = re.compile(r"[\x00-\x20\x7f]").search
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_BODILESS = frozenset({204, 304})
_PARTITION = operator.methodcaller("partition", ":")


def request_head(method: str, target: str, headers: dict[str, str]) -> bytes:
    """The request line and header block, as http.client's ``putrequest``
    and ``putheader`` would send them (names and the request line ASCII,
    values ISO-8859-1); ValueError for a header that would split the request."""
    if _BAD_TARGET(method) or _BAD_TARGET(target):
        raise http.client.InvalidURL(f"URL can't contain control characters. {target!r}")
    names = "\n".join(headers)
    values = "".join(headers.values())
    # the usual case in two scans: no name needs a look of its own, no value
    # holds a line break (a folded one is legal, so those are looked at one by one)
    if (
        (headers and not _LEGAL_NAMES(names))
        or names.count("\n") != len(headers) - 1  # a name holding a line feed
        or "\r" in values
        or "\n" in values
    ):
        for name, value in headers.items():
            if not _LEGAL_NAME(name):
                raise ValueError(f"Invalid header name {name!r}")
            if _ILLEGAL_VALUE(value):
                raise ValueError(f"Invalid header value {value!r}")
    if not (method.isascii() and target.isascii() and names.isascii()):
        # raises UnicodeEncodeError, as putrequest and putheader do
        f"{method} {target} {names}".encode("ascii")
    lines = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
    return f"{method} {target} HTTP/1.1\r\n{lines}\r\n".encode("latin-1")


class Connection:
    """One keep-alive connection: its socket, and the bytes read past the
    last head (the start of a body). Not thread-safe: one request at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        # the pool's idle check (pool._dropped), made once
        self.poller: object | None = None

    @classmethod
    def open(cls, host: str, port: int, timeout: float, tls: ssl.SSLContext | None) -> Connection:
        """Connected (and its TLS handshake done) within ``timeout``, or TimeoutError."""
        sock = socket.create_connection((host, port), timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls is not None:
                sock = tls.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    def close(self) -> None:
        self.sock.close()

    def response(self, method: str) -> RawResponse:
        """The next response's head read (any interim 1xx before it skipped)."""
        while True:
            head = self._head()
            response = RawResponse(self, method, head)
            # an interim answer (100 Continue, 103 Early Hints) precedes the
            # real one; 101 would switch protocols, which no request asks
            if not 100 <= response.status < 200 or response.status == 101:
                return response

    def _head(self) -> str:
        buffer = self.buffer
        if not buffer:
            # the usual case (the last answer was read to its end): the head,
            # often with all its body, arrives in one receive, looked at as
            # it came rather than after a copy into the buffer
            data = self.sock.recv(RECV_SIZE)
            if not data:
                raise http.client.RemoteDisconnected(
                    "Remote end closed connection without response"
                )
            end = data.find(b"\r\n\r\n")
            if end >= 0 and data.find(b"\n\n", 0, end) < 0 and data.find(b"\n\r\n", 0, end + 2) < 0:
                if len(data) > end + 4:
                    buffer += memoryview(data)[end + 4 :]
                return data[:end].decode("iso-8859-1")
            buffer += data
        searched = 0
        while True:
            # every server here ends lines with CRLF: plain finds, 10x
            # cheaper than the pattern that also takes bare line feeds
            # (used where one comes first: the head ends at the first blank line)
            end = buffer.find(b"\r\n\r\n", max(0, searched - 3))
            if (
                end >= 0
                and buffer.find(b"\n\n", 0, end) < 0
                and buffer.find(b"\n\r\n", 0, end + 2) < 0
            ):
                head = buffer[:end].decode("iso-8859-1")
                del buffer[: end + 4]
                return head
            found = _HEAD_END.search(buffer, max(0, searched - 3))
            if found is not None:
                head = buffer[: found.start()].decode("iso-8859-1")
                del buffer[: found.end()]
                return head
            if len(buffer) > HEAD_LIMIT:
                raise http.client.HTTPException(f"response head longer than {HEAD_LIMIT} bytes")
            searched = len(buffer)
            data = self.sock.recv(RECV_SIZE)
            if not data:
                if not buffer:
                    raise http.client.RemoteDisconnected(
                        "Remote end closed connection without response"
                    )
                raise http.client.IncompleteRead(bytes(buffer))
            buffer += data

    def fill(self) -> None:
        """More bytes into the buffer; IncompleteRead at the end of the stream."""
        data = self.sock.recv(RECV_SIZE)
        if not data:
            raise http.client.IncompleteRead(bytes(self.buffer))
        self.buffer += data

    def readline(self) -> bytes:
        buffer = self.buffer
        while (end := buffer.find(b"\n")) < 0:
            if len(buffer) > 65536:
                raise http.client.LineTooLong("chunk size")
            self.fill()
        line = bytes(buffer[: end + 1])
        del buffer[: end + 1]
        return line

    def readinto(self, view: memoryview) -> int:
        """Up to ``len(view)`` bytes, buffered ones first; 0 at the end of the stream."""
        buffer = self.buffer
        if buffer:
            count = min(len(view), len(buffer))
            view[:count] = buffer[:count]
            del buffer[:count]
            return count
        return self.sock.recv_into(view)


class RawResponse:
    """A response's head, and its body read on demand from the connection.
    ``length`` is what remains of a Content-Length body (None: chunked or
    until the close); a body that ends early is IncompleteRead."""

    def __init__(self, connection: Connection, method: str, head: str) -> None:
        self._connection = connection
        lines: list[str] | None = None
        end = head.find("\r\n")
        folded = "\n " in head or "\n\t" in head
        if end >= 0 and not folded and head.count("\n") == head.count("\r\n"):
            # the usual head: CRLF lines, none folded. Its headers are read
            # from the block as received (FastMessage.of_block), split only
            # if something asks for them all
            status_line, block = head[:end], head[end + 2 :]
            if block.count("\n") >= MAX_HEADERS:
                raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
        else:
            lines = head.split("\r\n") if "\r" in head else head.split("\n")
            if len(lines) != head.count("\n") + 1:
                # a bare line feed among CRLFs ends a line too, as http.client reads it
                lines = [line.removesuffix("\r") for line in head.split("\n")]
            status_line = lines.pop(0)
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
            raise http.client.BadStatusLine(status_line)
        self.status = int(code)
        if self.status < 100:
            raise http.client.BadStatusLine(status_line)
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        if lines is None:
            self.msg = FastMessage.of_block(block)
        else:
            if folded:
                lines = _unfolded(lines)
            # as the email package keeps them: the name as sent, the value
            # without its leading blanks (trailing ones stay)
            # (a line with no colon names no header: http.client stops there)
            headers = [
                (name, value.lstrip(" \t"))
                for name, colon, value in map(_PARTITION, lines)
                if colon
            ]
            if len(headers) > MAX_HEADERS:
                raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
            self.msg = FastMessage(headers)
        get = self.msg.get
        self.chunked = get("transfer-encoding", "").lower() == "chunked"
        self.will_close = _closes(self.version, get)
        self.length: int | None = None
        length = get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            if self.length is not None and self.length < 0:
                self.length = None
        if self.status in _BODILESS or self.status < 200 or method == "HEAD":
            self.length = 0
            self.chunked = False
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True  # its body ends when the connection does
        self._chunk_left = 0  # of the current chunk; a size line is read when it is 0
        self._closed = self.length == 0

    def isclosed(self) -> bool:
        """Whether the body was read to its end (or abandoned)."""
        return self._closed

    def close(self) -> None:
        self._closed = True

    def readinto(self, view: memoryview) -> int:
        """Some bytes of the body into ``view`` (at most one receive); 0 at its end."""
        if self._closed or not len(view):
            return 0
        if self.chunked:
            return self._readinto_chunk(view)
        length = self.length
        if length is not None and len(view) > length:
            view = view[:length]
        count = self._connection.readinto(view)
        if length is None:
            if not count:
                self._closed = True
            return count
        if not count:
            self._closed = True
            raise http.client.IncompleteRead(b"", length)
        self.length = length - count
        if not self.length:
            self._closed = True
        return count

    def read(self, amount: int | None = None) -> bytes:
        """``amount`` bytes of the body (fewer only at its end), or all the rest."""
        if self._closed:
            return b""
        if amount is None:
            if self.length is not None:
                amount = self.length
            else:
                parts = []
                while data := self.read(RECV_SIZE * 4):
                    parts.append(data)
                return b"".join(parts)
        elif self.length is not None:
            amount = min(amount, self.length)
        buffer = self._connection.buffer
        if not self.chunked and len(buffer) >= amount:  # all here already: one copy
            data = bytes(buffer[:amount])
            del buffer[:amount]
            if self.length is not None:
                self.length -= amount
                if not self.length:
                    self._closed = True
            return data
        into = bytearray(amount)
        view = memoryview(into)
        filled = 0
        while filled < amount:
            count = self.readinto(view[filled:])
            if not count:
                break
            filled += count
        view.release()
        if filled < amount:
            del into[filled:]
        return bytes(into)

    def _readinto_chunk(self, view: memoryview) -> int:
        connection = self._connection
        if not self._chunk_left:
            line = connection.readline()
            try:
                size = int(line.split(b";", 1)[0], 16)
            except ValueError:
                self._closed = True
                raise http.client.IncompleteRead(b"") from None
            if size == 0:
                while connection.readline() not in (b"\r\n", b"\n"):
                    pass  # trailers: nothing the drivers read
                self._closed = True
                return 0
            self._chunk_left = size
        count = connection.readinto(view[: self._chunk_left])
        if not count:
            self._closed = True
            raise http.client.IncompleteRead(b"", self._chunk_left)
        self._chunk_left -= count
        # the line end after the chunk's data
        if not self._chunk_left and connection.readline() not in (b"\r\n", b"\n"):
            self._closed = True
            raise http.client.IncompleteRead(b"", 0)
        return count


def _unfolded(lines: list[str]) -> list[str]:
    """Obsolete line folding undone: a line that starts with a blank
    continues the previous one's value (joined by a space)."""
    joined: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and joined:
            joined[-1] = f"{joined[-1]} {line.strip()}"
        else:
            joined.append(line)
    return joined


def _closes(version: int, get: Callable[[str, str | None], str | None]) -> bool:
    """Whether the server closes the connection after this response
    (RFC 9112 9.3; http.client's reading of it, Proxy-Connection included);
    ``get`` reads a header's first value."""
    connection = (get("connection", "") or "").lower()
    if version == 11:
        return "close" in connection
    if get("keep-alive", None) is not None or "keep-alive" in connection:
        return False
    return "keep-alive" not in (get("proxy-connection", "") or "").lower()
