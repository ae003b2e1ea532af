"""http.client's response, with its header block parsed without the email package.

``http.client.parse_headers`` runs every response's headers through
``email.parser``: measured, that is the largest single cost of a HEAD on
the lean plane (~3x the SigV4 signature). Header lines are plain
``name: value`` here (obsolete line folding is joined, as the email parser
does), so they are split directly into the same ``HTTPMessage``; the rest
of ``begin`` keeps http.client's rules (chunked, Content-Length, HEAD and
bodiless statuses, whether the connection closes).
"""

from __future__ import annotations

import http.client
from typing import Any, BinaryIO

_MAX_LINE = 65536
_MAX_HEADERS = 100


class FastMessage(http.client.HTTPMessage):
    """http.client's header message, read without the policy's call per value.

    Under the compat32 policy, every ``get`` and ``items`` passes each value
    through ``_sanitize_header``, which only changes a str holding surrogate
    escapes. Values decoded from ISO-8859-1 never hold one, so the values
    stored are returned as they are (the drivers read every response's
    headers this way: a few calls per request)."""

    _index: dict[str, str] | None = None
    """The first value of each header by lower-case name, made by
    :meth:`FastResponse.begin` (a request's handling asks a few headers:
    each scan lowered every name); dropped by any change to the headers."""

    def get(self, name: str, failobj: Any = None) -> Any:
        index = self._index
        if index is not None:
            return index.get(name.lower(), failobj)
        name = name.lower()
        for key, value in self._headers:  # type: ignore[attr-defined]
            if key.lower() == name:
                return value
        return failobj

    def __setitem__(self, name: str, value: Any) -> None:
        self._index = None
        super().__setitem__(name, value)

    def __delitem__(self, name: str) -> None:
        self._index = None
        super().__delitem__(name)

    def replace_header(self, name: str, value: Any) -> None:
        self._index = None
        super().replace_header(name, value)

    def set_raw(self, name: str, value: Any) -> None:
        self._index = None
        super().set_raw(name, value)

    def add_header(self, _name: str, _value: str, **params: Any) -> None:
        self._index = None
        super().add_header(_name, _value, **params)

    def items(self) -> list[tuple[str, Any]]:
        return list(self._headers)  # type: ignore[attr-defined]

    def values(self) -> list[Any]:
        return [value for _, value in self._headers]  # type: ignore[attr-defined]


class FastResponse(http.client.HTTPResponse):
    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            _read_header_lines(self.fp)  # a 100 Continue's headers: nothing to keep
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        message = FastMessage()
        # what Message.__setitem__ stores under its compat32 policy (no
        # count limit, the pair as given), without its per-header calls
        lines = _read_header_lines(self.fp)
        message._headers = lines
        index: dict[str, str] = {}
        for name, value in lines:
            index.setdefault(name.lower(), value)
        message._index = index
        self.headers = self.msg = message
        encoding = message.get("transfer-encoding")
        self.chunked = bool(encoding and encoding.lower() == "chunked")
        self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = message.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            if self.length is not None and self.length < 0:
                self.length = None
        if status in (204, 304) or 100 <= status < 200 or self._method == "HEAD":
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


def _read_header_lines(fp: BinaryIO) -> list[tuple[str, str]]:
    readline = fp.readline
    headers: list[tuple[str, str]] = []
    while True:
        line = readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return headers
        if len(headers) >= _MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")
        text = line.decode("iso-8859-1")
        if text[0] in " \t" and headers:  # obsolete folding: continues the previous value
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {text.strip()}")  # (email keeps the line break)
            continue
        name, _, value = text.partition(":")
        # as the email package keeps them: the name as sent, the value
        # without its leading blanks and line end (trailing blanks stay)
        headers.append((name, value.lstrip(" \t").rstrip("\r\n")))
