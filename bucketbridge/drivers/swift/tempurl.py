"""Swift temp URLs: signed with the account's own key, for one method.

The key is the account's ``Temp-URL-Key`` (or ``Temp-URL-Key-2``), or
``os_temp_url_key`` from the config; a new one is set only when the account
has none, since URLs someone else made depend on an existing one. It is read
once per driver. The method is part of the signature, so a GET URL cannot
PUT nor a PUT URL GET.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from ...errors import InvalidValueException
from ..records import UrlRequest
from .errors import swift_errors

if TYPE_CHECKING:
    from .driver import SwiftDriver

TEMP_URL_KEYS = ("x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2")


class TempUrlSigner:
    def __init__(self, driver: SwiftDriver, configured_key: str | None) -> None:
        self._driver = driver
        self._key = configured_key
        self._lock = threading.Lock()

    def sign(self, bucket: str, key: str, request: UrlRequest) -> str:
        if request.response_content_type is not None:
            raise InvalidValueException(
                "content_type",
                request.response_content_type,
                "Swift temp URLs cannot override the response's Content-Type;"
                " store the object with that content type instead",
            )
        try:
            storage_url = self._driver.pool.storage_url()
        except swift_errors() as error:
            raise self._driver.error(error, None) from error
        parts = urlsplit(storage_url)
        # signed over the plain path, as the proxy sees it; sent percent-encoded
        path = f"{parts.path.rstrip('/')}/{bucket}/{key}"
        from swiftclient.utils import generate_temp_url

        # Swift refuses a URL once now > expires, an absolute whole second; swiftclient's
        # relative form truncates now + seconds, so a 1 s URL could live 0.01 s: round up
        # so it lives at least the seconds asked for
        expires = math.ceil(time.time() + request.expires_in)
        signed = generate_temp_url(
            path, expires, self._account_key(), request.method, absolute=True
        )
        query = signed.split("?", 1)[1] + disposition_query(request.response_content_disposition)
        return f"{parts.scheme}://{parts.netloc}{quote(path)}?{query}"

    def _account_key(self) -> str:
        with self._lock:
            if self._key is None:
                with self._driver.mapped() as conn:
                    headers = conn.head_account()
                existing = [headers[name] for name in TEMP_URL_KEYS if headers.get(name)]
                if existing:
                    self._key = str(existing[0])
                else:
                    new_key = secrets.token_hex(32)
                    with self._driver.mapped() as conn:
                        conn.post_account({"X-Account-Meta-Temp-URL-Key": new_key})
                    self._key = new_key
            return self._key


def disposition_query(disposition: str | None) -> str:
    """Swift's tempurl sets Content-Disposition from ``filename=`` (attachment)
    or ``inline`` (with an optional ``filename=``)."""
    if disposition is None:
        return ""
    kind, _, rest = disposition.partition(";")
    filename = ""
    for param in rest.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "filename":
            filename = value.strip().strip('"')
    query = "&inline" if kind.strip().lower() == "inline" else ""
    if filename:
        query += "&filename=" + quote(filename, safe="")
    return query
