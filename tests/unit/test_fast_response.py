"""The lean plane's response (bucketbridge/dataplane/response.py) reads a
response head as http.client does: the same headers, body length, chunking
and connection reuse, for the heads servers send."""

from __future__ import annotations

import http.client
import io

import pytest

from bucketbridge.dataplane.client import _put_headers
from bucketbridge.dataplane.response import FastResponse

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
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n",
    ),
    "closes": ("GET", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"),
    "http-1.0": ("GET", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
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
    "no-content": ("DELETE", b"HTTP/1.1 204 No Content\r\n\r\n"),
}


class _Socket:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self._data))


def _read(cls: type[http.client.HTTPResponse], method: str, data: bytes) -> dict[str, object]:
    response = cls(_Socket(data), method=method)  # type: ignore[arg-type]
    response.begin()
    return {
        "status": response.status,
        "reason": response.reason,
        "version": response.version,
        # a folded value is joined by a space here, by its raw line break there
        "headers": [(name, value.replace("\r\n", "")) for name, value in response.msg.items()],
        "twice": response.msg.get_all("x-twice"),
        "got": [
            (value or "").replace("\r\n", "")
            for value in map(response.msg.get, ("content-length", "ETAG", "X-Twice", "x-none"))
        ],
        "values": [value.replace("\r\n", "") for value in response.msg.values()],
        "length": response.length,
        "chunked": response.chunked,
        "will_close": response.will_close,
        "body": response.read(),
    }


@pytest.mark.parametrize("case", sorted(HEADS))
def test_a_head_reads_as_http_client_reads_it(case: str) -> None:
    method, data = HEADS[case]
    assert _read(FastResponse, method, data) == _read(http.client.HTTPResponse, method, data)


def _request_head(put: object, headers: dict[str, str]) -> bytes:
    connection = http.client.HTTPConnection("example.invalid")
    connection.putrequest("PUT", "/b/k", skip_host=True, skip_accept_encoding=True)
    if put is None:
        for name, value in headers.items():
            connection.putheader(name, value)
    else:
        _put_headers(connection, headers)
    return b"\r\n".join(connection._buffer)  # type: ignore[attr-defined]


def test_request_headers_are_written_as_putheader_writes_them() -> None:
    headers = {
        "host": "h:1",
        "x-amz-meta-note": "caf\xe9  two spaces",
        "content-length": "0",
        "x-folded": "a\r\n b",
    }
    assert _request_head(_put_headers, headers) == _request_head(None, headers)


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-meta-a": "1\r\nx-injected: 2"},
        {"x-amz-meta-a": "line\nbreak"},
        {" x-leading-blank": "1"},
        {"x-colon:": "1"},
    ],
)
def test_a_header_that_would_split_the_request_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="Invalid header"):
        _request_head(_put_headers, headers)
    with pytest.raises(ValueError, match="Invalid header"):
        _request_head(None, headers)  # as http.client refuses it


def test_headers_changed_after_the_read_are_seen_by_get() -> None:
    """get() answers from an index made at begin(); a change drops it."""
    method, data = HEADS["head-of-object"]
    seen = []
    for cls in (FastResponse, http.client.HTTPResponse):
        response = cls(_Socket(data), method=method)  # type: ignore[arg-type]
        response.begin()
        message = response.msg
        del message["etag"]
        message["ETag"] = '"new"'
        message.add_header("X-Added", "yes")
        message.replace_header("content-length", "12")
        names = ("etag", "x-added", "Content-Length")
        seen.append([message.get(name) for name in names])
    assert seen[0] == seen[1] == ['"new"', "yes", "12"]
