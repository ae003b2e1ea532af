"""The GCS signer of the lean data plane: an OAuth 2 bearer token.

The token comes from the google-auth credentials the driver already built
(:mod:`.client`), so every credential chain google-auth knows keeps working.
It is refreshed when it has expired or is about to: google-auth calls a
token ``STALE`` from a few minutes before its expiry (``REFRESH_THRESHOLD``),
so a request signed now still carries a live token when it reaches the server.
One refresh at a time: the transfer engine's threads all sign with one
signer, and a token endpoint should not see eight refreshes for one expiry.

Anonymous credentials (an emulator, a public bucket) add no header, as the
SDK sends none for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...dataplane.request import Request
from ...dataplane.signing import NoSigner, Signer

if TYPE_CHECKING:
    from google.auth.credentials import Credentials


def google_request() -> Any:
    """google-auth's transport for token refreshes (requests, as the SDK's)."""
    from google.auth.transport.requests import Request as AuthRequest

    return AuthRequest()


class BearerSigner:
    """``Authorization: Bearer <token>`` (and the quota project, where the
    credentials name one) on every request. Thread-safe."""

    def __init__(
        self, credentials: Credentials, transport: Callable[[], Any] = google_request
    ) -> None:
        self._credentials = credentials
        self._transport = transport
        self._lock = threading.Lock()
        quota_project = getattr(credentials, "quota_project_id", None)
        self._quota_project = str(quota_project) if quota_project else None

    def __repr__(self) -> str:  # the token is a secret: never shown
        return f"<BearerSigner {type(self._credentials).__name__}>"

    def token(self) -> str:
        """A live access token, refreshed first if it is expired or near expiry.
        A RefreshError (no token to be had) propagates: the driver maps it."""
        from google.auth.credentials import TokenState  # loaded with the credentials

        credentials = self._credentials
        if credentials.token_state != TokenState.FRESH:
            with self._lock:
                # another thread may have refreshed it while this one waited
                if credentials.token_state != TokenState.FRESH:
                    credentials.refresh(self._transport())
        return str(credentials.token)

    def sign(self, request: Request) -> None:
        request.headers["authorization"] = f"Bearer {self.token()}"
        if self._quota_project:
            request.headers["x-goog-user-project"] = self._quota_project


def signer_for(credentials: Credentials | None) -> Signer:
    """None is anonymous access (an emulator's): no token, and no google-auth."""
    if credentials is None:
        return NoSigner()
    from google.auth.credentials import AnonymousCredentials  # loaded with the credentials

    if isinstance(credentials, AnonymousCredentials):
        return NoSigner()
    return BearerSigner(credentials)
