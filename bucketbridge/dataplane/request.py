"""A request as its signer sees it and as the client sends it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import quote, urlsplit

from ..drivers.records import Body
from ..errors import InvalidConfigurationException

UNRESERVED = "-_.~"
"""What RFC 3986 leaves unencoded, and so what every cloud's canonical form does."""


# what quote() returns unchanged: checked in C first, since most keys and
# query values are plain and quote() walks them in Python (4% of a small
# object's copy, twice a request: the path, then the signature)
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.~/-]*").fullmatch
# what is plain but for "/" (a key with folders, as a path segment or a query
# value) and ",()" (GCS's fields= lists): replaced in C, 10-30x cheaper than quote()
_NEARLY_PLAIN = re.compile(r"[A-Za-z0-9_.~/,()-]*").fullmatch


def encode(text: str, *, keep_slash: bool = False) -> str:
    """Percent-encode ``text`` as S3, Azure and GCS canonicalise it (UTF-8, RFC 3986)."""
    if (_PLAIN_PATH if keep_slash else _PLAIN)(text):
        return text
    if _NEARLY_PLAIN(text):
        if not keep_slash:
            text = text.replace("/", "%2F")
        return text.replace(",", "%2C").replace("(", "%28").replace(")", "%29")
    return quote(text, safe=UNRESERVED + ("/" if keep_slash else ""))


@dataclass(frozen=True)
class Endpoint:
    """Where requests go: scheme, host, port and a path prefix (Swift's
    ``/v1/AUTH_account``, Azurite's ``/devstoreaccount1``), encoded."""

    scheme: str
    host: str
    port: int
    base_path: str = ""

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidConfigurationException(f"endpoint {url!r} is not an http(s) URL")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as error:
            raise InvalidConfigurationException(f"endpoint {url!r}: {error}") from error
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @cached_property
    def netloc(self) -> str:
        """The Host header: the port only where it is not the scheme's own
        (made once: every request sets it)."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.base_path}"


@dataclass
class Request:
    """One HTTP request. ``path`` is already encoded and starts with ``/``
    (the endpoint's ``base_path`` included); ``query`` holds decoded pairs
    in the order they are sent; header names are lower-case. A signer adds
    headers (or query pairs) in place; ``body`` is None, bytes, or a
    :class:`Body` (a file window is sent with ``os.sendfile``)."""

    method: str
    endpoint: Endpoint
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Body | None = None

    @property
    def content_length(self) -> int:
        if self.body is None:
            return 0
        return self.body.size if isinstance(self.body, Body) else len(self.body)

    def encoded_query(self) -> str:
        return "&".join(f"{encode(name)}={encode(value)}" for name, value in self.query)

    def target(self) -> str:
        """The request line's target: path and query."""
        if not self.query:
            return self.path
        query = self.encoded_query()
        return f"{self.path}?{query}" if query else self.path

    def url(self) -> str:
        return f"{self.endpoint.scheme}://{self.endpoint.netloc}{self.target()}"
