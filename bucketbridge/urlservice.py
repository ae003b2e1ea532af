"""A driver's signed URLs (LOCAL, MEMORY): signed here, served by
:mod:`.localserver`, which is imported only when a URL is first signed --
cheroot and werkzeug are most of a ``bucketbridge ls local://``'s start-up
otherwise."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .drivers.base import Driver
from .drivers.records import UrlRequest
from .urlsigning import UrlSigner

if TYPE_CHECKING:
    from .localserver import SignedUrlServer


class SignedUrlService:
    """A driver's signed URLs: signed with its key, and pointing at the
    configured server or, with none configured, at one this process starts
    on first use and stops on ``close``."""

    def __init__(self, key: bytes, server_url: str | None, driver: Driver) -> None:
        self.signer = UrlSigner(key)
        self._configured_url = server_url.rstrip("/") if server_url else None
        self._driver = driver
        self._server: SignedUrlServer | None = None
        self._server_url: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<SignedUrlService server={self._configured_url or self._server_url!r}>"

    def base_url(self) -> str:
        """The configured server, or one started in this process on first use."""
        if self._configured_url is not None:
            return self._configured_url
        with self._lock:
            if self._server_url is None:
                from .localserver import SignedUrlServer

                self._server = SignedUrlServer(self._driver, self.signer)
                self._server_url = self._server.start_in_thread()
            return self._server_url

    def sign(self, bucket: str, key: str, request: UrlRequest) -> str:
        return self.signer.sign(self.base_url(), bucket, key, request)

    def close(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None
                self._server_url = None
