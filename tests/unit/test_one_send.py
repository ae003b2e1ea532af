"""The lean plane's connections send a small request body with its head, in one send."""

from __future__ import annotations

from bucketbridge.dataplane.pool import COALESCE_LIMIT, LeanHTTPConnection


class _Recorder:
    """Stands in for the socket: what each sendall call was given."""

    def __init__(self) -> None:
        self.sends: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.sends.append(bytes(data))


def _put(body: bytes) -> list[bytes]:
    connection = LeanHTTPConnection("example.invalid")
    recorder = _Recorder()
    connection.sock = recorder  # type: ignore[assignment]
    connection.putrequest("PUT", "/k", skip_host=True, skip_accept_encoding=True)
    connection.putheader("content-length", str(len(body)))
    connection.endheaders(body)
    return recorder.sends


def test_a_small_body_leaves_with_the_head() -> None:
    assert _put(b"hello") == [b"PUT /k HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello"]


def test_an_empty_body_is_the_head_alone() -> None:
    assert _put(b"") == [b"PUT /k HTTP/1.1\r\ncontent-length: 0\r\n\r\n"]


def test_a_large_body_is_sent_after_the_head() -> None:
    body = b"x" * (COALESCE_LIMIT + 1)
    sends = _put(body)
    assert sends[0].endswith(b"\r\n\r\n") and b"".join(sends[1:]) == body
