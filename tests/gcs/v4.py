"""Google's V4 query signing, checked independently of the SDK that made
the URL: the canonical request and string-to-sign rebuilt from
https://cloud.google.com/storage/docs/authentication/canonical-requests and
/signatures, the signature checked against the service account's public key.
fake-gcs-server serves signed URLs without checking them; this is the check."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ALGORITHM = "GOOG4-RSA-SHA256"


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")  # RFC 3986 unreserved characters only


def string_to_sign(url: str, method: str) -> tuple[str, bytes]:
    """The string a V4 URL's signature is over, and the signature itself."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    signature = bytes.fromhex(dict(query)["X-Goog-Signature"])
    signed = sorted((k, v) for k, v in query if k != "X-Goog-Signature")
    canonical_query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in signed)
    fields = dict(signed)
    assert fields["X-Goog-SignedHeaders"] == "host", "only the host header is signed"
    canonical_request = "\n".join(
        [
            method,
            parts.path,
            canonical_query,
            f"host:{parts.netloc.lower()}\n",
            "host",
            "UNSIGNED-PAYLOAD",
        ]
    )
    scope = fields["X-Goog-Credential"].split("/", 1)[1]
    text = "\n".join(
        [
            ALGORITHM,
            fields["X-Goog-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    return text, signature


def signature_holds(url: str, method: str, public_key_pem: bytes) -> bool:
    """Whether the URL's signature is valid for ``method`` under the key."""
    text, signature = string_to_sign(url, method)
    key = serialization.load_pem_public_key(public_key_pem)
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(signature, text.encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def expiry(url: str) -> datetime:
    """When the URL stops being valid: X-Goog-Date plus X-Goog-Expires."""
    fields = dict(parse_qsl(urlsplit(url).query))
    signed_at = datetime.strptime(fields["X-Goog-Date"], "%Y%m%dT%H%M%SZ")
    return signed_at.replace(tzinfo=timezone.utc) + timedelta(seconds=int(fields["X-Goog-Expires"]))
