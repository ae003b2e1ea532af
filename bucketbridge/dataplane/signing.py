"""What a driver supplies so the data plane can speak for its provider."""

from __future__ import annotations

import hashlib
from typing import Protocol

from .request import Request


class Signer(Protocol):
    """Authorises a request in place (headers or query), just before each
    attempt is sent: a retried request is signed again, with a fresh date
    and fresh credentials where they rotate."""

    def sign(self, request: Request) -> None: ...


class NoSigner:
    """For servers that take anonymous requests (an emulator, a signed URL)."""

    def sign(self, request: Request) -> None:
        return None


class HmacSha256:
    """HMAC-SHA256 under one key, its two padded keys hashed once: a
    signature is then two copies and updates of those hashes (RFC 2104, as
    hmac.py builds it). hmac.digest looks SHA-256 up in OpenSSL 3 at every
    call, which made it 3x dearer than the hashing itself; a signer whose
    key is fixed for many requests (S3's day key, Azure's account key)
    keeps one of these. The key itself is not kept."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:  # SHA-256's block: a longer key is hashed first
            key = hashlib.sha256(key).digest()
        block = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in block))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in block))

    def __repr__(self) -> str:
        return "HmacSha256(key=***)"

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def hexdigest(self, message: bytes) -> str:
        return self.digest(message).hex()
