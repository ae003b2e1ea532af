"""AWS Signature Version 4 for the lean data plane's S3 requests.

botocore's ``S3SigV4Auth`` costs 0.1-0.15 ms a request, most of it deriving
the signing key (four HMACs) and walking its generic request object; the key
only changes with the day, the region or the secret, so it is cached here.
Credentials are read from the boto3 session's provider at every signature:
refreshable ones (STS, SSO, IMDS) refresh themselves there, as they do for
the SDK's own requests. Bodies are never hashed for the signature
(``UNSIGNED-PAYLOAD``); the wire module sends a checksum the server checks
instead (see :mod:`.wire`). tests/s3/test_sigv4.py compares every
signature with botocore's for the same request and moment.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import NoCredentialsError

from ...dataplane.request import Request, encode
from ...dataplane.signing import HmacSha256

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# What botocore leaves out of a signature (hop-by-hop headers, the user agent)
UNSIGNED_HEADERS = frozenset(
    {
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
        "authorization",
    }
)


class SigV4Signer:
    """Signs S3 requests in their headers (``Authorization``, ``x-amz-date``,
    ``x-amz-content-sha256``, ``x-amz-security-token``)."""

    def __init__(
        self,
        credentials: Callable[[], Any],
        region: str,
        *,
        service: str = "s3",
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``credentials`` is the boto3 session's ``get_credentials``: it
        returns botocore credentials (or None when there are none)."""
        self._resolve = credentials
        self._credentials: Any = None
        self._region = region
        self._service = service
        self._clock = clock
        # (date, secret, the signing key's HMAC pads)
        self._key: tuple[str, str, HmacSha256] | None = None
        # the x-amz-date of the current second: formatted once a second,
        # not once a request (strftime and gmtime were a tenth of a signature)
        self._stamp: tuple[int, str] = (-1, "")
        # (date, access key, scope, the Authorization header's start)
        self._scopes: tuple[str, str, str, str] = ("", "", "", "")

    def __repr__(self) -> str:
        return f"<SigV4Signer region={self._region} service={self._service}>"

    def _frozen(self) -> Any:
        if self._credentials is None:
            self._credentials = self._resolve()
            if self._credentials is None:
                raise NoCredentialsError()
        return self._credentials.get_frozen_credentials()

    def _signing_key(self, date: str, secret: str) -> HmacSha256:
        cached = self._key
        if cached is not None and cached[0] == date and cached[1] == secret:
            return cached[2]
        key = _hmac(("AWS4" + secret).encode(), date)
        for part in (self._region, self._service, "aws4_request"):
            key = _hmac(key, part)
        pads = HmacSha256(key)
        self._key = (date, secret, pads)
        return pads

    def _scope(self, date: str, access_key: str) -> tuple[str, str]:
        """The day's credential scope, and the Authorization header's start
        (made once a day and key, not at every signature)."""
        cached = self._scopes
        if cached[0] == date and cached[1] == access_key:
            return cached[2], cached[3]
        scope = f"{date}/{self._region}/{self._service}/aws4_request"
        start = f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders="
        self._scopes = (date, access_key, scope, start)
        return scope, start

    def sign(self, request: Request) -> None:
        credentials = self._frozen()
        second = int(self._clock())
        cached = self._stamp
        if cached[0] == second:
            stamp = cached[1]
        else:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
            self._stamp = (second, stamp)
        headers = request.headers
        headers.pop("authorization", None)
        headers["x-amz-date"] = stamp
        if credentials.token:
            headers["x-amz-security-token"] = credentials.token
        else:
            headers.pop("x-amz-security-token", None)
        payload = headers.get("x-amz-content-sha256")
        if payload is None:
            payload = headers["x-amz-content-sha256"] = (
                UNSIGNED_PAYLOAD if request.content_length else EMPTY_SHA256
            )
        names = sorted(headers.keys() - UNSIGNED_HEADERS)
        signed_headers = ";".join(names)
        # values trimmed and their inner runs of blanks made one, as botocore does
        canonical_headers = "".join(
            [f"{name}:{' '.join(headers[name].split())}\n" for name in names]
        )
        query = (
            "&".join(
                f"{name}={value}"
                for name, value in sorted(
                    (encode(name), encode(value)) for name, value in request.query
                )
            )
            if request.query
            else ""
        )
        canonical = (
            f"{request.method}\n{request.path}\n{query}\n{canonical_headers}\n"
            f"{signed_headers}\n{payload}"
        )
        scope, start = self._scope(stamp[:8], credentials.access_key)
        to_sign = (
            f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        signature = self._signing_key(stamp[:8], credentials.secret_key).hexdigest(to_sign.encode())
        headers["authorization"] = f"{start}{signed_headers}, Signature={signature}"

    def presign(self, request: Request, expires_in: int) -> None:
        """Sign ``request`` in its query (a presigned URL, as botocore's
        ``generate_presigned_url`` makes one): only ``host`` is signed, the
        payload is ``UNSIGNED-PAYLOAD``, and the query pairs it already
        holds (``response-content-type``...) are signed with it."""
        credentials = self._frozen()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self._clock()))
        date = stamp[:8]
        scope = f"{date}/{self._region}/{self._service}/aws4_request"
        query = request.query
        query += [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", f"{credentials.access_key}/{scope}"),
            ("X-Amz-Date", stamp),
            ("X-Amz-Expires", str(expires_in)),
            ("X-Amz-SignedHeaders", "host"),
        ]
        if credentials.token:
            query.append(("X-Amz-Security-Token", credentials.token))
        canonical_query = "&".join(
            f"{name}={value}"
            for name, value in sorted((encode(name), encode(value)) for name, value in query)
        )
        canonical = (
            f"{request.method}\n{request.path}\n{canonical_query}\n"
            f"host:{request.endpoint.netloc}\n\nhost\n{UNSIGNED_PAYLOAD}"
        )
        to_sign = (
            f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        signature = self._signing_key(date, credentials.secret_key).hexdigest(to_sign.encode())
        query.append(("X-Amz-Signature", signature))


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.digest(key, message.encode(), "sha256")  # one-shot, in C
