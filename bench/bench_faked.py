"""The lean plane's exchange faked, for bench/gcs_read_cpu.py's ``faked`` form.

The driver's HttpClient sends nothing: it makes the request's head as the
client does (signed, its target encoded, its headers checked), then answers
the media GET with a canned 206 of the listed object's generation, CRC32C
and size. Only what every checkout's driver reads of a response is faked
(``status``, ``attempts``, ``header``, ``readinto``, ``chunks``, ``close``,
``discard``), so one script measures either checkout.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bucketbridge.dataplane.http11 import request_head


class CannedMedia:
    """A media GET's answer: headers as fake-gcs-server sends them, the body unread."""

    status = 206
    attempts = 1

    def __init__(self, info: Any) -> None:
        generation, _, crc32c = info.revision.partition("/")
        headers = [
            ("Content-Length", str(info.size)),
            ("X-Goog-Generation", generation),
            ("X-Goog-Hash", f"crc32c={crc32c},md5=IEOfeeTp3JW+NLIQKSIfgA=="),
        ]
        self.headers = _Headers((name.lower(), value) for name, value in headers)
        self._left = info.size

    def header(self, name: str) -> str | None:
        value: str | None = self.headers.get(name)
        return value

    def readinto(self, buffer: memoryview | bytearray) -> int:
        count = min(len(memoryview(buffer).cast("B")), self._left)
        self._left -= count
        return count

    def chunks(self, size: int) -> Iterator[bytes]:
        while self._left:
            count = min(size, self._left)
            self._left -= count
            yield bytes(count)

    def close(self) -> None:
        self._left = 0

    def discard(self) -> None:
        self._left = 0


class _Headers(dict[str, str]):
    """What a driver reads of a response's headers (``get`` by any case),
    made without either checkout's message class, whose constructor may
    differ between them."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


def fake(driver: Any, listed: dict[str, Any]) -> None:
    """``driver``'s lean client answers every media GET of a ``listed`` key."""
    by_segment = {key.replace("/", "%2F"): info for key, info in listed.items()}

    def send(request: Any, signer: Any, subject: Any, **_: Any) -> CannedMedia:
        signer.sign(request)
        request.headers["host"] = request.endpoint.netloc
        request.headers["content-length"] = str(request.content_length)
        request_head(request.method, request.target(), request.headers)
        return CannedMedia(by_segment[request.path.rsplit("/", 1)[1]])

    driver.wire._client.send = send
