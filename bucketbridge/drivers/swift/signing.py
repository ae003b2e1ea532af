"""The Swift request signer of the lean data plane: ``X-Auth-Token``.

Swift signs nothing: a request carries the token the auth gave, and goes to
the storage URL the auth named (``https://host/v1/AUTH_account``), which is
the :class:`~bucketbridge.dataplane.request.Endpoint` of every hot request.
Both come from the driver's own auth (:mod:`.client`), so the lean plane and
swiftclient agree on them:

- **pre-authenticated** (``os_storage_url`` + ``os_auth_token``): the token
  cannot be renewed; a 401 is the expired-token PermissionDeniedException;
- **v1** and **Keystone v3**: a 401 renews the token once (Keystone's session
  is invalidated first, so it asks for a new one rather than hand back its
  cached one) and the request is sent again; a second 401 is an error.

A token refused by many threads at once is renewed once: a thread renews
only if the token it was refused with is still the current one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ...dataplane.request import Endpoint, Request

Authenticate = Callable[[bool], tuple[str, str]]
"""``(storage_url, token)`` from the auth; True asks for a new token."""

TOKEN_HEADER = "x-auth-token"


class TokenSigner:
    def __init__(self, authenticate: Authenticate, *, renewable: bool) -> None:
        self._authenticate = authenticate
        self._renewable = renewable
        self._lock = threading.Lock()
        self._auth: tuple[str, str] | None = None

    def _current(self) -> tuple[str, str]:
        auth = self._auth
        if auth is None:
            with self._lock:
                if self._auth is None:
                    self._auth = self._authenticate(False)
                auth = self._auth
        return auth

    def storage_url(self) -> str:
        """The account's URL (authenticating first if need be)."""
        return self._current()[0]

    def endpoint(self) -> Endpoint:
        return Endpoint.parse(self.storage_url())

    def sign(self, request: Request) -> None:
        request.headers[TOKEN_HEADER] = self._current()[1]

    def renew(self, refused: Request) -> bool:
        """After a 401 to ``refused``: whether it is worth sending again,
        with a token renewed now (or by another thread since it was sent)."""
        if not self._renewable:
            return False
        token = refused.headers.get(TOKEN_HEADER)
        with self._lock:
            if self._auth is None or self._auth[1] == token:
                self._auth = self._authenticate(True)
        return True
