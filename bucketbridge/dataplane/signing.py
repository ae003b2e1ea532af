"""What a driver supplies so the data plane can speak for its provider."""

from __future__ import annotations

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
