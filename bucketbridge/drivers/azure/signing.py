"""Azure request signers for the lean data plane: Shared Key, SAS, bearer token.

Whichever credentials the driver was configured with (:mod:`.client`) sign
its lean requests too, so a request is authorised the same way on either
path. tests/azure/test_signing.py compares the Shared Key signature with the
one azure-storage-blob's own ``SharedKeyCredentialPolicy`` computes for the
same request, and has Azurite accept it (and refuse a wrong key).
"""

from __future__ import annotations

import base64
import re
import threading
import time
from email.utils import formatdate
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from ...dataplane.request import Request
from ...dataplane.signing import HmacSha256, Signer
from ...errors import InvalidConfigurationException
from .client import AzureSettings, token_credential

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

# Names of lowercase letters, digits and dashes (every name the drivers send
# but an odd metadata name) sort as the service sorts them without the SDK.
_PLAIN_NAME = re.compile(r"[a-z0-9-]+")

# The standard headers Shared Key signs, in the service's order. Azure signs
# ``Range`` here; the SDK never sends it (x-ms-range instead), nor do we.
STANDARD_HEADERS = (
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
)
STORAGE_SCOPE = "https://storage.azure.com/.default"
TOKEN_MARGIN = 300.0  # a cached token is renewed this many seconds before it expires


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """Now as an RFC 1123 date, formatted once a second (a HEAD is ~0.5 ms:
    formatdate alone was a tenth of its client time)."""
    global _date_cache
    now = int(time.time())
    second, text = _date_cache
    if second != now:
        text = formatdate(now, usegmt=True)
        _date_cache = (now, text)
    return text


@lru_cache(maxsize=256)
def _header_order(names: tuple[str, ...]) -> tuple[str, ...]:
    """The ``x-ms-*`` header names in the order the service sorts them.

    It is not code-point order (``x-ms-meta-a_b`` sorts before
    ``x-ms-meta-ab``, and ``-`` is all but ignored), so the SDK's own
    emulation of the service's comparison is used, once per set of names:
    a hot call sends the same names every time.

    For names of ``[a-z0-9-]`` alone the service's comparison is plain
    code-point order with the dashes dropped (a dash weighs nothing at the
    first level; digits sort before letters at it, as in ASCII), as long as
    no two names are equal without their dashes (the dash's position then
    decides, a later level). Those take that path and spare the signer
    importing azure-storage-blob; tests/azure check it against the SDK's."""
    if all(_PLAIN_NAME.fullmatch(name) for name in names):
        undashed = [name.replace("-", "") for name in names]
        if len(set(undashed)) == len(undashed):
            return tuple(name for _, name in sorted(zip(undashed, names, strict=True)))
    from azure.storage.blob._shared.authentication import _storage_header_sort

    return tuple(name for name, _ in _storage_header_sort([(name, "") for name in names]))


class SharedKeySigner:
    """``Authorization: SharedKey account:signature`` from the account key,
    with ``x-ms-date`` set afresh on every attempt."""

    def __init__(self, account: str, key: str) -> None:
        try:
            # the key's HMAC pads, hashed once (not the key itself)
            self._hmac = HmacSha256(base64.b64decode(key, validate=True))
        except ValueError as error:
            raise InvalidConfigurationException(
                f"the account key of Azure storage account {account!r} is not base64"
            ) from error
        self._account = account

    def __repr__(self) -> str:
        return f"SharedKeySigner(account={self._account!r}, key=***)"

    def string_to_sign(self, request: Request) -> str:
        headers = request.headers
        standard = [headers.get(name, "") for name in STANDARD_HEADERS]
        if standard[2] == "0":  # Content-Length 0 is signed as empty (version 2015-02-21 on)
            standard[2] = ""
        ms_names = tuple(name for name in headers if name.startswith("x-ms-"))
        canonical_headers = "".join(f"{name}:{headers[name]}\n" for name in _header_order(ms_names))
        resource = f"/{self._account}{request.path}"
        query = sorted((name.lower(), value) for name, value in request.query)
        canonical_query = "".join(f"\n{name}:{value}" for name, value in query)
        return (
            f"{request.method}\n"
            + "\n".join(standard)
            + "\n"
            + canonical_headers
            + resource
            + canonical_query
        )

    def sign(self, request: Request) -> None:
        request.headers["x-ms-date"] = http_date()
        digest = self._hmac.digest(self.string_to_sign(request).encode("utf-8"))
        request.headers["authorization"] = (
            f"SharedKey {self._account}:{base64.b64encode(digest).decode()}"
        )


class SasSigner:
    """The SAS token's query pairs appended to the request (once, however
    many attempts sign it)."""

    def __init__(self, token: str) -> None:
        self._pairs = parse_qsl(token.lstrip("?"), keep_blank_values=True)
        if not any(name == "sig" for name, _ in self._pairs):
            raise InvalidConfigurationException(
                "config key 'azure_sas_token': it has no 'sig' field; give the token as the"
                " portal or az CLI prints it (sv=...&sig=...)"
            )

    def __repr__(self) -> str:
        return "SasSigner(token=***)"

    def sign(self, request: Request) -> None:
        request.headers["x-ms-date"] = http_date()
        count = len(self._pairs)
        if request.query[-count:] != self._pairs:
            request.query.extend(self._pairs)


class BearerSigner:
    """``Authorization: Bearer`` with an Entra ID token for Azure Storage,
    from an azure-identity credential; cached until TOKEN_MARGIN seconds
    before it expires, then fetched again by the first thread to need it."""

    def __init__(self, credential: TokenCredential) -> None:
        self._credential = credential
        self._token = ""
        self._expires = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BearerSigner({type(self._credential).__name__})"

    def _current(self) -> str:
        if time.time() < self._expires - TOKEN_MARGIN:
            return self._token
        with self._lock:
            if time.time() >= self._expires - TOKEN_MARGIN:
                token: Any = self._credential.get_token(STORAGE_SCOPE)
                self._token, self._expires = token.token, float(token.expires_on)
            return self._token

    def sign(self, request: Request) -> None:
        request.headers["x-ms-date"] = http_date()
        request.headers["authorization"] = f"Bearer {self._current()}"


def signer_for(settings: AzureSettings, credential: Any = None) -> Signer:
    """The signer for the driver's credentials; ``credential`` is the
    TokenCredential its SDK client already holds (one token cache for both)."""
    if settings.auth == "key":
        assert settings.account_key is not None
        return SharedKeySigner(settings.account, settings.account_key)
    if settings.auth == "sas":
        assert settings.sas_token is not None
        return SasSigner(settings.sas_token)
    return BearerSigner(credential if credential is not None else token_credential(settings))
