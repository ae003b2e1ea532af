"""Signed URLs of the embedded providers (local, memory): signing and checking
only; ``localserver`` serves them and starts and stops the server.

A URL allows one method on one object until it expires. The HMAC-SHA256
signature covers the method, bucket, key, expiry and any response-header
overrides, so changing any of them, or using a GET URL to PUT, is refused.
The method is not in the URL at all: the server signs the method it was sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

if TYPE_CHECKING:
    from .drivers.records import UrlRequest

EXPIRES = "X-BB-Expires"
SIGNATURE = "X-BB-Signature"
OVERRIDES = {
    "Content-Disposition": "response-content-disposition",
    "Content-Type": "response-content-type",
}


class SignatureError(Exception):
    """A request's signature is missing, wrong or expired (HTTP 403)."""


@dataclass(frozen=True)
class VerifiedRequest:
    response_headers: Mapping[str, str]


def load_or_create_key(path: str, *, dir_fd: int | None = None) -> bytes:
    """The root's signing key, made on first use readable by its owner only,
    so a ``bucketbridge serve`` on the same root checks the same signatures.
    ``path`` may be relative to ``dir_fd``; a symbolic link there is refused,
    so the key is never read from, nor written to, another file."""
    no_link = os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | no_link, 0o600, dir_fd=dir_fd)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    for _ in range(50):  # another process may be between creating and writing it
        with open(os.open(path, os.O_RDONLY | no_link, dir_fd=dir_fd), encoding="ascii") as handle:
            text = handle.read().strip()
        if text:
            return bytes.fromhex(text)
        time.sleep(0.01)
    raise RuntimeError(f"signing key file {path} is empty")


class UrlSigner:
    """Signs and verifies URLs with one key. Where the URLs point, and the
    server that honours them, are ``localserver``'s business."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "<UrlSigner>"  # never the key

    def sign(self, base_url: str, bucket: str, key: str, request: UrlRequest) -> str:
        expires = str(int(time.time()) + request.expires_in)
        params = {EXPIRES: expires}
        if request.response_content_disposition is not None:
            params[OVERRIDES["Content-Disposition"]] = request.response_content_disposition
        if request.response_content_type is not None:
            params[OVERRIDES["Content-Type"]] = request.response_content_type
        params[SIGNATURE] = self._signature(request.method, bucket, key, params)
        path = f"/{quote(bucket, safe='')}/{_quote_key(key)}"
        return f"{base_url.rstrip('/')}{path}?{urlencode(params)}"

    def verify(
        self, method: str, bucket: str, key: str, query: Mapping[str, str]
    ) -> VerifiedRequest:
        signature = query.get(SIGNATURE, "")
        expires = query.get(EXPIRES, "")
        if not signature or not expires.isdigit():
            raise SignatureError("the URL is not signed")
        params = {name: value for name, value in query.items() if name != SIGNATURE}
        if set(params) - {EXPIRES, *OVERRIDES.values()}:
            raise SignatureError("the URL has parameters that were not signed")
        expected = self._signature(method, bucket, key, params)
        if not hmac.compare_digest(expected, signature):
            raise SignatureError("the signature does not match this request")
        if int(expires) < time.time():
            raise SignatureError("the URL has expired")
        overrides = {header: params[name] for header, name in OVERRIDES.items() if name in params}
        return VerifiedRequest(overrides)

    def _signature(self, method: str, bucket: str, key: str, params: Mapping[str, str]) -> str:
        # JSON, not joined text: no choice of key or override value can make
        # two different requests share one signed string.
        canonical = json.dumps([method, bucket, key, sorted(params.items())])
        return hmac.new(self._key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def _quote_key(key: str) -> str:
    """Percent-encode a key for a URL path, including '.' and '..' segments,
    which HTTP clients would otherwise resolve away before sending."""
    return "/".join(
        segment.replace(".", "%2E") if segment in (".", "..") else quote(segment, safe="")
        for segment in key.split("/")
    )
