"""The lean plane's HTTP/1.1 connection (bucketbridge/dataplane/http11.py)
reads a response as http.client does -- the same status, headers, body,
chunking, connection reuse and errors -- and writes a request head as
http.client's putrequest/putheader would; a small body leaves with its head."""

from __future__ import annotations

import http.client
import io
import socket

import pytest

from bucketbridge.dataplane import client as lean_client
from bucketbridge.dataplane.http11 import Connection, request_head
from bucketbridge.dataplane.pool import COALESCE_LIMIT
from bucketbridge.dataplane.request import Endpoint, Request
from bucketbridge.dataplane.response import FastMessage

HEADS = {
    "head-of-object": (
        "HEAD",
        b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\nETag: "abc"\r\n'
        b"Last-Modified: Fri, 27 Nov 2026 13:00:00 GMT\r\nX-Amz-Meta-Run-Id: 7\r\n"
        b"x-amz-meta-spaces:   a  b  \r\n\r\n",
    ),
    "ranged-get": (
        "GET",
        b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-3/10\r\n"
        b"Content-Length: 4\r\n\r\nbody",
    ),
    "chunked": (
        "GET",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nbody\r\n6;ext=1\r\n-more-\r\n0\r\nX-Trailer: t\r\n\r\n",
    ),
    "closes": ("GET", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"),
    "no-length": ("GET", b"HTTP/1.1 200 OK\r\n\r\nuntil the end"),
    "http-1.0": ("GET", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    "http-1.0-keep-alive": (
        "GET",
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
    ),
    "bare-line-feeds": ("GET", b"HTTP/1.1 200 OK\nContent-Length: 2\nX-A: 1\n\nok"),
    "bare-line-feeds-then-a-body-with-crlf": (
        "GET",
        b"HTTP/1.1 200 OK\nContent-Length: 6\n\nab\r\n\r\n",
    ),
    "bare-line-feeds-then-a-crlf-blank-line": (
        "GET",
        b"HTTP/1.1 200 OK\nContent-Length: 6\n\r\nab\r\n\r\n",
    ),
    "crlf-head-with-a-bare-line-feed-inside": (
        "GET",
        b"HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 2\r\n\r\nok",
    ),
    "folded-and-repeated": (
        "GET",
        b"HTTP/1.1 404 Not Found\r\nX-Long: first\r\n second\r\nX-Twice: 1\r\nX-Twice: 2\r\n"
        b"Content-Length: 0\r\n\r\n",
    ),
    "continue-first": (
        "PUT",
        b"HTTP/1.1 100 Continue\r\nX-Skipped: yes\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    ),
    "early-hints-first": (
        "GET",
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ),
    "no-content": ("DELETE", b"HTTP/1.1 204 No Content\r\n\r\n"),
    "not-modified-with-length": (
        "GET",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
    ),
    "no-reason": ("GET", b"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx"),
}
BROKEN = {
    "nothing": ("GET", b""),
    "cut-in-the-head": ("GET", b"HTTP/1.1 200 OK\r\nContent-Le"),
    "not-http": ("GET", b"SSH-2.0-OpenSSH\r\n\r\n"),
    "bad-status": ("GET", b"HTTP/1.1 2x0 OK\r\n\r\n"),
    "short-body": ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nonly5"),
    "short-chunk": ("GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc"),
    "bad-chunk-size": ("GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
}


class _Socket:
    """Delivers ``data`` at most ``step`` bytes per receive (a head split
    across several), then end-of-stream."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._step = step
        self.sent: list[bytes] = []

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(bytes(self._data)))

    def recv(self, size: int) -> bytes:
        count = min(size, self._step, len(self._data))
        data, self._data = bytes(self._data[:count]), self._data[count:]
        return data

    def recv_into(self, view: memoryview, size: int = 0) -> int:
        data = self.recv(min(size or len(view), len(view)))
        view[: len(data)] = data
        return len(data)

    def sendall(self, data: bytes) -> None:
        self.sent.append(bytes(data))


def _ours(method: str, data: bytes, step: int, how: str) -> dict[str, object]:
    connection = Connection(_Socket(data, step))  # type: ignore[arg-type]
    response = connection.response(method)
    if how == "read":
        body = response.read()
    elif how == "read3":
        parts = []
        while part := response.read(3):
            parts.append(part)
        body = b"".join(parts)
    else:
        buffer = bytearray(5)
        parts = []
        while count := response.readinto(memoryview(buffer)):
            parts.append(bytes(buffer[:count]))
        body = b"".join(parts)
    return _seen(response, body) | {"done": response.isclosed()}


def _theirs(method: str, data: bytes) -> dict[str, object]:
    if data.startswith(b"HTTP/1.1 103"):  # http.client hands out 103 as the answer
        data = data[data.index(b"\r\n\r\n") + 4 :]
    response = http.client.HTTPResponse(_Socket(data, 1), method=method)  # type: ignore[arg-type]
    response.begin()
    body = response.read()
    return _seen(response, body) | {"done": response.isclosed()}


def _seen(response: object, body: bytes) -> dict[str, object]:
    msg = response.msg  # type: ignore[attr-defined]
    return {
        "status": response.status,  # type: ignore[attr-defined]
        "reason": response.reason,  # type: ignore[attr-defined]
        "version": response.version,  # type: ignore[attr-defined]
        # a folded value is joined by a space here, by its raw line break there
        "headers": [(name, value.replace("\r\n", "")) for name, value in msg.items()],
        "twice": msg.get_all("x-twice"),
        "got": [
            (value or "").replace("\r\n", "")
            for value in map(msg.get, ("content-length", "ETAG", "X-Twice", "x-none"))
        ],
        # the rest of email.message.Message's reading of it
        "content_type": msg.get_content_type(),
        "charset": msg.get_content_charset(),
        "text": msg.as_string().replace("\r\n", "").replace("\n", ""),
        "defects": msg.defects,
        "will_close": response.will_close,  # type: ignore[attr-defined]
        "body": body,
    }


@pytest.mark.parametrize("how", ["read", "read3", "readinto"])
@pytest.mark.parametrize("step", [1, 7, 65536])
@pytest.mark.parametrize("case", sorted(HEADS))
def test_a_response_reads_as_http_client_reads_it(case: str, step: int, how: str) -> None:
    method, data = HEADS[case]
    assert _ours(method, data, step, how) == _theirs(method, data)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_response_fails_as_http_client_fails(case: str) -> None:
    """The same exception class (so the same retry and error mapping)."""
    method, data = BROKEN[case]
    errors = []
    for read in (lambda: _ours(method, data, 3, "readinto"), lambda: _theirs(method, data)):
        try:
            read()
        except http.client.HTTPException as error:
            errors.append(type(error))
        else:
            errors.append(None)
    if case == "cut-in-the-head":
        # http.client takes a head cut before its blank line for a whole
        # one, with no body; here it is a failed exchange (so retried)
        assert errors == [http.client.IncompleteRead, None]
        return
    assert errors[0] is errors[1] is not None


def test_each_response_has_its_own_headers_to_change() -> None:
    """Message's defaults are shared by every FastMessage; what is changed
    is the one response's (as Message.__init__'s instance attributes were)."""
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    first, second = (Connection(_Socket(data, 65536)).response("GET").msg for _ in range(2))  # type: ignore[arg-type]
    first["X-Added"] = "1"
    first.set_default_type("message/rfc822")
    first.defects.append(ValueError("one"))
    assert first.get("x-added") == "1" and second.get("x-added") is None
    assert first.get_content_type() == "message/rfc822"
    assert second.get_content_type() == "text/plain" and second.defects == []


# header blocks as a server sends them (CRLF lines, none folded): what the
# lazy message (FastMessage.of_block) answers must be what splitting them
# all at once answers
BLOCKS = {
    "s3-head": 'Content-Length: 1\r\nETag: "abc"\r\nX-Amz-Meta-Run-Id: 7\r\n'
    "x-amz-meta-spaces:   a  b  \r\nX-AMZ-META-Run-Id: second\r\nLast-Modified: x",
    "prefixes-of-each-other": "X-A: 1\r\nX-Ab: 2\r\nX-A-B: 3\r\nx-a: 4",
    "values-with-colons": "Location: http://h:1/p\r\nX-Empty:\r\nX-Blank:   \r\nNoColon",
    "metadata-names-alike": "X-Amz-Meta-: bare\r\nX-Amz-Meta-A:1\r\nX-Amz-Meta-A: 2\r\n"
    "Y-X-Amz-Meta-B: not\r\nX-Amz-Meta-NoColon",
    "latin-1": "X-Name: caf\xe9 \xc0\r\nX-\xc9t\xe9: value",
    "none": "",
    # not from a socket (those decode as ISO-8859-1), but never misread:
    # U+0130 lowers to two characters, so the block is split instead
    "lowers-longer": "X-\u0130: dotted\r\nX-A: 1\r\nX-Amz-Meta-A: m",
}
NAMES = [
    "x-a",
    "X-AB",
    "x-a-b",
    "location",
    "x-empty",
    "x-blank",
    "nocolon",
    "etag",
    "ETag",
    "x-amz-meta-run-id",
    "x-amz-meta-",
    "x-amz-meta-a",
    "x-name",
    "x-\xe9t\xe9",
    "absent",
    "x-amz-meta-nocolon",
    "last-modified",
    "content-length",
]


def _split_at_once(block: str) -> FastMessage:
    lines = block.split("\r\n") if block else []
    parts = (line.partition(":") for line in lines)
    headers = [(name, value.lstrip(" \t")) for name, colon, value in parts if colon]
    message = FastMessage(headers)
    # the index it makes: the first value of each name, as Message.get answers
    assert message.index() == {name.lower(): value for name, value in reversed(headers)}
    return message


def _read(message: FastMessage) -> dict[str, object]:
    return {
        "got": [message.get(name) for name in NAMES],
        "metadata": message.with_prefix("x-amz-meta-"),
        "x-": message.with_prefix("x-"),
        "items": message.items(),
        "index": dict(lean_client.header_index(message)),
        "all": message.get_all("x-a"),
    }


@pytest.mark.parametrize("case", sorted(BLOCKS))
def test_a_head_read_lazily_answers_as_one_split_at_once(case: str) -> None:
    block = BLOCKS[case]
    lazy, split = FastMessage.of_block(block), _split_at_once(block)
    # one header asked first, then everything, then each again
    assert [lazy.get(name) for name in NAMES] == [split.get(name) for name in NAMES]
    assert lazy.with_prefix("x-amz-meta-") == split.with_prefix("x-amz-meta-")
    assert _read(lazy) == _read(split)
    fresh = FastMessage.of_block(block)  # everything first
    assert fresh.items() == split.items() and _read(fresh) == _read(split)


def test_a_lazy_head_changed_reads_as_a_split_one_changed() -> None:
    block = BLOCKS["s3-head"]
    lazy, split = FastMessage.of_block(block), _split_at_once(block)
    assert lazy.get("etag") == '"abc"'
    for message in (lazy, split):
        message["X-Amz-Meta-Added"] = "new"
        del message["ETag"]
        message.replace_header("Content-Length", "2")
    assert _read(lazy) == _read(split)
    assert lazy.get("etag") is None and lazy.get("content-length") == "2"
    assert lazy.with_prefix("x-amz-meta-")["added"] == "new"


def test_a_usual_head_is_not_split_until_asked() -> None:
    data = b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nETag: "e"\r\nX-Amz-Meta-K: v\r\n\r\nok'
    message = Connection(_Socket(data, 65536)).response("GET").msg  # type: ignore[arg-type]
    assert message.get("etag") == '"e"' and message.with_prefix("x-amz-meta-") == {"k": "v"}
    assert message._split is None and message._index is None  # read without a split
    assert message.items() == [("Content-Length", "2"), ("ETag", '"e"'), ("X-Amz-Meta-K", "v")]


def test_more_than_a_hundred_headers_are_refused_either_way() -> None:
    many = "".join(f"X-{n}: {n}\r\n" for n in range(101)).encode()
    for data in (
        b"HTTP/1.1 200 OK\r\n" + many + b"\r\n",
        b"HTTP/1.1 200 OK\n" + many.replace(b"\r", b"") + b"\n",
    ):
        with pytest.raises(http.client.HTTPException, match="more than 100 headers"):
            Connection(_Socket(data, 65536)).response("GET")  # type: ignore[arg-type]
    hundred = "".join(f"X-{n}: {n}\r\n" for n in range(100)).encode()
    response = Connection(_Socket(b"HTTP/1.1 200 OK\r\n" + hundred + b"\r\n", 65536)).response(
        "HEAD"
    )  # type: ignore[arg-type]
    assert response.msg.get("x-99") == "99"


def test_bytes_past_the_body_stay_for_the_next_response() -> None:
    first = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
    second = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo"
    connection = Connection(_Socket(first + second, 65536))  # type: ignore[arg-type]
    assert connection.response("GET").read() == b"one"
    assert connection.buffer == bytearray(second)
    assert connection.response("GET").read() == b"two"
    assert not connection.buffer


def _http_client_head(method: str, target: str, headers: dict[str, str]) -> bytes:
    connection = http.client.HTTPConnection("example.invalid")
    connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    for name, value in headers.items():
        connection.putheader(name, value)
    return b"\r\n".join([*connection._buffer, b"", b""])  # type: ignore[attr-defined]


def test_request_heads_are_written_as_http_client_writes_them() -> None:
    headers = {
        "host": "h:1",
        "x-amz-meta-note": "caf\xe9  two spaces",
        "content-length": "0",
        "x-folded": "a\r\n b",
    }
    target = "/b/k%20x?uploadId=1&partNumber=2"
    assert request_head("PUT", target, headers) == _http_client_head("PUT", target, headers)


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-meta-a": "1\r\nx-injected: 2"},
        {"x-amz-meta-a": "line\nbreak"},
        {" x-leading-blank": "1"},
        {"x-colon:": "1"},
        {"x-a\nx-injected": "1"},
        {"x-a": "1", "x-b\r": "2"},
        {"": "1"},
    ],
)
def test_a_header_that_would_split_the_request_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="Invalid header"):
        request_head("PUT", "/k", headers)
    with pytest.raises(ValueError, match="Invalid header"):
        _http_client_head("PUT", "/k", headers)  # as http.client refuses it


@pytest.mark.parametrize(
    "target, headers",
    [("/k", {"x-amz-meta-a": "\u20ac"}), ("/k", {"x-\xe9": "1"}), ("/\xe9", {})],
)
def test_what_latin_1_or_ascii_cannot_carry_is_refused(
    target: str, headers: dict[str, str]
) -> None:
    with pytest.raises(UnicodeEncodeError):
        request_head("PUT", target, headers)
    with pytest.raises(UnicodeEncodeError):
        _http_client_head("PUT", target, headers)


@pytest.mark.parametrize("target", ["/a b", "/a\r\nx: y", "/a\x00"])
def test_a_target_with_a_control_character_is_refused(target: str) -> None:
    with pytest.raises(http.client.InvalidURL):
        request_head("GET", target, {})
    with pytest.raises(http.client.InvalidURL):
        _http_client_head("GET", target, {})


def _sent(body: bytes) -> list[bytes]:
    sock = _Socket(b"", 1)
    request = Request("PUT", Endpoint("http", "h", 80), "/k", body=body)
    request.headers["content-length"] = str(len(body))
    lean_client._write(Connection(sock), request, 1.0)  # type: ignore[arg-type]
    return sock.sent


def test_a_small_body_leaves_with_the_head() -> None:
    assert _sent(b"hello") == [b"PUT /k HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello"]


def test_an_empty_body_is_the_head_alone() -> None:
    assert _sent(b"") == [b"PUT /k HTTP/1.1\r\ncontent-length: 0\r\n\r\n"]


def test_a_large_body_is_sent_after_the_head() -> None:
    body = b"x" * (COALESCE_LIMIT + 1)
    sends = _sent(body)
    assert sends[0].endswith(b"\r\n\r\n") and b"".join(sends[1:]) == body


def test_a_connection_opens_with_nagle_off() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        connection = Connection.open("127.0.0.1", server.getsockname()[1], 5.0, None)
        try:
            assert connection.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            connection.close()
