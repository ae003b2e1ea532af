"""http.client's response, with its head read without the email parser.

``http.client`` hands a response's header block to ``email.parser``, which
was the largest single cost of a small request on the lean plane
(GCS metadata GET on fake-gcs-server, py-spy: ~15% of the client's time
per call). HTTP/1.1 header fields need none of it: ``name: value`` lines,
folded lines (obsolete, still accepted) continuing the previous value.
Everything else -- status line, 100-continue, chunked and length framing,
keep-alive -- is http.client's own code, unchanged.
"""

from __future__ import annotations

import http.client
from typing import Any

_MAXLINE = 65536
_MAXHEADERS = 100


class LeanHTTPResponse(http.client.HTTPResponse):
    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            _read_fields(self.fp)  # a 100 Continue's fields: dropped
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        message = http.client.HTTPMessage()
        fields: Any = message._headers
        fields.extend(_read_fields(self.fp))
        self.headers = self.msg = message
        self._frame(status)

    def _frame(self, status: int) -> None:
        """http.client's framing rules, as its ``begin`` applies them."""
        encoding = self.headers.get("transfer-encoding")
        self.chunked = bool(encoding and encoding.lower() == "chunked")
        self.chunk_left = None
        self.will_close = self._check_close()  # type: ignore[attr-defined]
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if status in (204, 304) or 100 <= status < 200 or self._method == "HEAD":  # type: ignore[attr-defined]
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


def _read_fields(fp: Any) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    while True:
        line = fp.readline(_MAXLINE + 1)
        if len(line) > _MAXLINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return fields
        if len(fields) >= _MAXHEADERS:
            raise http.client.HTTPException(f"got more than {_MAXHEADERS} headers")
        text = line.decode("iso-8859-1").rstrip("\r\n")
        if text[:1] in (" ", "\t") and fields:  # obs-fold: continues the previous value
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {text.strip()}")
            continue
        name, _, value = text.partition(":")
        fields.append((name.strip(), value.strip()))
