"""The network backends tested through the fault proxy, and each provider's
wire: which requests do what, and how its server says "slow down".

Adding a backend of a known provider is one line in ``FAULT_BACKENDS`` (its
ServerBackend from tests/servers and its provider's :class:`Wire`). A new
provider (Swift) writes its Wire: a few request matchers, its
error reply for 500/503, and how its listing would show milliseconds.

The proxy is put in front of the server by rewriting the server's loopback
URL wherever the provider config names it (endpoint URLs, connection
strings); a provider whose server hands out further URLs (Swift's auth
answers a storage URL) needs a config that names the storage URL directly,
or a rule that rewrites it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.faults.proxy import Headers, Match, Reply, Request, StripHeader
from tests.servers import azurite, fake_gcs, moto, seaweedfs, swift
from tests.servers.backend import ServerBackend

ErrorReply = Callable[[int], Reply]
"""The provider's own error response for an HTTP status (500 or 503)."""
Matcher = Callable[[str, str], Match]
"""The requests of one kind on (bucket, key)."""
Configs = Callable[[], Sequence[Mapping[str, Any]]]
"""The provider configs handed out so far: where a re-signer finds a secret."""


@dataclass(frozen=True)
class Unsupported:
    """A fault the provider's wire cannot carry, and why: its test skips saying so."""

    reason: str


@dataclass(frozen=True)
class Wire:
    """What the fault tests need to know of a provider's HTTP protocol."""

    read: Matcher
    """a GET of the object's bytes (whole or ranged)"""
    put: Matcher
    """a single-request upload"""
    part: Matcher
    """the upload of one part of a multipart upload"""
    complete: Matcher
    """the completion of a multipart upload"""
    listing: Callable[[str], Match]
    """a listing of the bucket's objects"""
    create_only_header: str
    """the request header that makes a write create-only"""
    strip: Callable[[str, Configs], StripHeader]
    """removes a request header, signing the request again if it was signed"""
    listing_in_milliseconds: Callable[[bytes], bytes] | Unsupported
    """a listing body changed to give times with milliseconds (as Ceph RGW)"""
    error: ErrorReply
    known_defects: Mapping[str, str] = field(default_factory=dict)
    """test name -> the SDK defect that test shows with ``data_plane="sdk"``
    (marked strict xfail there; the lean data plane does not have it)"""
    start: Matcher | Unsupported = Unsupported("the provider's multipart start sends nothing")
    """the request that starts a multipart upload on the server"""


def s3_error(status: int) -> Reply:
    """S3's answer when it sheds load (503 SlowDown) or fails (500 InternalError)."""
    code, reason, message = (
        ("SlowDown", "Slow Down", "Please reduce your request rate.")
        if status == 503
        else ("InternalError", "Internal Server Error", "We encountered an internal error.")
    )
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>fault-proxy</HostId></Error>"
    ).encode()
    return Reply(
        status,
        reason,
        body,
        [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)],
    )


_SIGV4_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_SIGV4_SIGNED = re.compile(r"SignedHeaders=([^,\s]+)")
_SIGV4_OWN = frozenset({"authorization", "x-amz-date", "x-amz-security-token"})


def s3_resign(request: Request, headers: Headers, body: bytes, configs: Configs) -> Headers:
    """Sign a request again with SigV4 after the proxy removed a signed
    header: servers that check signatures (SeaweedFS) would refuse it."""
    authorization = request.header("authorization") or ""
    scope = _SIGV4_SCOPE.search(authorization)
    signed_list = _SIGV4_SIGNED.search(authorization)
    if scope is None or signed_list is None:
        return headers  # not SigV4-signed: nothing to redo
    key_id, region, service = scope.groups()
    owner = next(c for c in configs() if c.get("aws_access_key") == key_id)
    signed = set(signed_list.group(1).split(";")) - _SIGV4_OWN
    to_sign = AWSRequest(
        method=request.method,
        url=f"http://{request.header('host')}{request.target}",
        headers={k: v for k, v in headers if k.lower() in signed},
        data=body,
    )
    credentials = Credentials(key_id, owner["aws_secret_key"], owner.get("aws_session_token"))
    S3SigV4Auth(credentials, service, region).add_auth(to_sign)
    unsigned = [(k, v) for k, v in headers if k.lower() not in signed | _SIGV4_OWN]
    return unsigned + list(to_sign.headers.items())


def _s3_path(bucket: str, key: str) -> str:
    return re.escape(f"/{bucket}/{key}")  # path-style addressing on a custom endpoint


_S3_LAST_MODIFIED = re.compile(rb"(<LastModified>[^<.Z]+)(\.\d+)?Z(</LastModified>)")


def s3_listing_in_milliseconds(body: bytes) -> bytes:
    """ListObjectsV2 as Ceph RGW answers it: ``...27.407Z`` where its HEAD says 27."""
    return _S3_LAST_MODIFIED.sub(rb"\1.407Z\3", body)


S3_WIRE = Wire(
    read=lambda bucket, key: Match("GET", _s3_path(bucket, key)),
    put=lambda bucket, key: Match("PUT", _s3_path(bucket, key), no_query=("uploadId",)),
    part=lambda bucket, key: Match("PUT", _s3_path(bucket, key), query=("uploadId", "partNumber")),
    complete=lambda bucket, key: Match("POST", _s3_path(bucket, key), query=("uploadId",)),
    listing=lambda bucket: Match("GET", re.escape(f"/{bucket}") + "/?", query=("list-type",)),
    create_only_header="If-None-Match",
    strip=lambda name, configs: StripHeader(name, partial(s3_resign, configs=configs)),
    listing_in_milliseconds=s3_listing_in_milliseconds,
    error=s3_error,
    start=lambda bucket, key: Match("POST", _s3_path(bucket, key), query=("uploads",)),
)


# --- Azure Blob ------------------------------------------------------------------------


def azure_error(status: int) -> Reply:
    """Azure's answer when it throttles (503 ServerBusy, as Azurite's module
    spells it) or fails (500 InternalError)."""
    if status == 503:
        code, headers, body = azurite.server_busy_response()
        # the proxy frames the reply itself: its Content-Length only
        kept = [(k, v) for k, v in headers.items() if k.lower() != "content-length"]
        return Reply(code, "Server Busy", body, kept)
    return azure_error_reply(
        500,
        "Internal Server Error",
        "InternalError",
        "The server encountered an internal error. Please retry the request.",
    )


def azure_error_reply(status: int, reason: str, code: str, message: str) -> Reply:
    """An Azure error answer: the code in ``x-ms-error-code`` and the XML body."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    headers = [("Content-Type", "application/xml"), ("x-ms-error-code", code)]
    return Reply(status, reason, body, headers)


# The standard headers Shared Key signs, in order (Content-Length "0" as empty).
_SHARED_KEY_HEADERS = (
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


def azure_resign(request: Request, headers: Headers, body: bytes, configs: Configs) -> Headers:
    """Sign a request again with the account's Shared Key after the proxy
    removed a header (If-None-Match is part of the string to sign)."""
    authorization = request.header("authorization") or ""
    if not authorization.startswith("SharedKey "):
        return headers  # a SAS or a token: nothing this proxy can redo
    account = authorization.removeprefix("SharedKey ").split(":", 1)[0]
    owner = next(c for c in configs() if c.get("azure_storage_account") == account)
    lower = {name.lower(): value for name, value in headers if value}
    if lower.get("content-length") == "0":
        del lower["content-length"]
    url = urlsplit(request.target)
    to_sign = request.method + "\n"
    to_sign += "".join(lower.get(name, "") + "\n" for name in _SHARED_KEY_HEADERS)
    to_sign += "".join(f"{k}:{v}\n" for k, v in sorted(lower.items()) if k.startswith("x-ms-"))
    to_sign += f"/{account}{url.path}"
    query = sorted((name.lower(), value) for name, value in parse_qsl(url.query, True))
    to_sign += "".join(f"\n{name}:{value}" for name, value in query)
    key = base64.b64decode(owner["azure_account_key"])
    signature = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha256).digest())
    kept = [(k, v) for k, v in headers if k.lower() != "authorization"]
    return [*kept, ("Authorization", f"SharedKey {account}:{signature.decode()}")]


def _azure_path(bucket: str, key: str = "") -> str:
    # Azurite puts the account first in the path; Azure itself puts it in the host
    return r"(?:/[^/]+)?" + re.escape(f"/{bucket}" + (f"/{key}" if key else ""))


def _comp(value: str) -> Callable[[Request], bool]:
    return lambda request: request.query.get("comp") == [value]


AZURE_WIRE = Wire(
    read=lambda bucket, key: Match("GET", _azure_path(bucket, key), no_query=("comp",)),
    put=lambda bucket, key: Match("PUT", _azure_path(bucket, key), no_query=("comp",)),
    part=lambda bucket, key: Match(
        "PUT", _azure_path(bucket, key), query=("blockid",), where=_comp("block")
    ),
    complete=lambda bucket, key: Match("PUT", _azure_path(bucket, key), where=_comp("blocklist")),
    listing=lambda bucket: Match(
        "GET", _azure_path(bucket) + "/?", query=("restype",), where=_comp("list")
    ),
    create_only_header="If-None-Match",
    strip=lambda name, configs: StripHeader(name, partial(azure_resign, configs=configs)),
    listing_in_milliseconds=Unsupported(
        "Azure lists Last-Modified as an RFC 1123 date (whole seconds), as its HEAD"
        " answers it: there are no milliseconds to add"
    ),
    error=azure_error,
    start=Unsupported(
        "Azure's multipart start sends nothing: blocks are staged under the blob's own"
        " name, and the upload begins with the first Put Block"
    ),
    known_defects={
        "stalled-read-mid-body": (
            "azure-storage-blob retries a body that broke mid-read 3 times, whatever"
            " max_attempts says (_download.py: retry_total = 3, with 1 s sleeps)"
        ),
    },
)


# --- Google Cloud Storage (JSON API) ---------------------------------------------------


def gcs_error(status: int) -> Reply:
    """GCS's JSON error when it sheds load (503 backendError) or fails (500)."""
    reason, message = (
        ("backendError", "Service Unavailable")
        if status == 503
        else ("internalError", "Internal Error")
    )
    body = json.dumps(
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"domain": "global", "reason": reason, "message": message}],
            }
        }
    ).encode()
    phrase = "Service Unavailable" if status == 503 else "Internal Server Error"
    return Reply(status, phrase, body, [("Content-Type", "application/json; charset=UTF-8")])


def _gcs_object(bucket: str, key: str) -> str:
    return re.escape(f"/storage/v1/b/{bucket}/o/{key}")  # the proxy matches decoded paths


def _gcs_upload(bucket: str, named: Callable[[str], bool]) -> Match:
    """An upload request whose object name (the ``name`` query parameter the
    driver sends beside the resource) passes ``named``."""
    return Match(
        "POST",
        re.escape(f"/upload/storage/v1/b/{bucket}/o"),
        query=("name",),
        where=lambda request: named(request.query["name"][0]),
    )


def _gcs_marker(bucket: str) -> Match:
    """The start's write of the upload's empty marker object
    (``.bucketbridge/uploads/<id>/upload``, drivers/gcs/uploads.py): the SDK
    names it in a multipart body, not in the query, so it is told from the
    parts' uploads by its size, a few hundred bytes of metadata."""
    return Match(
        "POST",
        re.escape(f"/upload/storage/v1/b/{bucket}/o"),
        query=("uploadType",),
        no_query=("name",),
        where=lambda request: int(request.header("content-length") or 0) < 4096,
    )


GCS_WIRE = Wire(
    read=lambda bucket, key: Match(
        "GET", re.escape("/download") + _gcs_object(bucket, key), query=("alt",)
    ),
    put=lambda bucket, key: _gcs_upload(bucket, lambda name: name == key),
    # parts are objects under .bucketbridge/uploads/<id>/ (drivers/gcs/uploads.py)
    part=lambda bucket, key: _gcs_upload(
        bucket, lambda name: name.startswith(".bucketbridge/uploads/") and "/part-" in name
    ),
    complete=lambda bucket, key: Match("POST", _gcs_object(bucket, key) + "/compose"),
    listing=lambda bucket: Match("GET", re.escape(f"/storage/v1/b/{bucket}/o") + "/?"),
    # GCS's JSON API makes a write create-only with the ifGenerationMatch=0
    # query parameter, not a header; fake-gcs-server already ignores it on
    # compose (tests/servers/fake_gcs.py), so the server that test emulates is
    # this one as it is: stripping the XML API's header changes nothing
    create_only_header="x-goog-if-generation-match",
    strip=lambda name, configs: StripHeader(name),  # bearer tokens sign no header
    listing_in_milliseconds=Unsupported(
        "GCS lists and looks up an object as the same JSON resource: its listing"
        " and its metadata GET give `updated` with the same precision"
    ),
    error=gcs_error,
    start=lambda bucket, key: _gcs_marker(bucket),
)


# --- OpenStack Swift -----------------------------------------------------------------


def swift_error(status: int) -> Reply:
    """Swift's proxy answer when it fails (500) or has no node to serve (503)."""
    reason = "Service Unavailable" if status == 503 else "Internal Error"
    body = f"<html><h1>{reason}</h1><p>The server has an error.</p></html>".encode()
    return Reply(status, reason, body, [("Content-Type", "text/html; charset=UTF-8")])


def _swift_path(container: str, key: str = "") -> str:
    # the storage URL's /v1/AUTH_<account> first; keys are matched decoded
    return r"/v1/[^/]+" + re.escape(f"/{container}" + (f"/{key}" if key else ""))


SWIFT_WIRE = Wire(
    # the object, or one of its segments (a pinned read of an SLO GETs them)
    read=lambda bucket, key: Match(
        "GET",
        f"(?:{_swift_path(bucket, key)}|{_swift_path(f'{bucket}_segments', key)}/.+)",
        no_query=("multipart-manifest",),
    ),
    put=lambda bucket, key: Match(
        "PUT", _swift_path(bucket, key), no_query=("multipart-manifest",)
    ),
    # a segment: <bucket>_segments/<key>/<upload id>/<part number>
    part=lambda bucket, key: Match(
        "PUT", _swift_path(f"{bucket}_segments", key) + r"/[0-9a-f]+/\d{5}"
    ),
    complete=lambda bucket, key: Match(
        "PUT", _swift_path(bucket, key), query=("multipart-manifest",)
    ),
    listing=lambda bucket: Match("GET", _swift_path(bucket) + "/?", query=("format",)),
    create_only_header="If-None-Match",
    strip=lambda name, configs: StripHeader(name),  # a token signs no header
    listing_in_milliseconds=Unsupported(
        "Swift lists last_modified with microseconds already"
        " (2026-11-27T13:03:32.000610), as its X-Timestamp has them"
    ),
    error=swift_error,
    # the start makes the bucket's segments container (the first start of a provider)
    start=lambda bucket, key: Match("PUT", _swift_path(f"{bucket}_segments") + "/?"),
    known_defects={
        "stalled-read-mid-body": (
            "swiftclient's get_object wraps the body in _RetryBody, which re-requests a"
            " body broken mid-read up to `retries` times itself, beneath bucketbridge's"
            " own resumption: max_attempts squared GETs"
        ),
    },
)


@dataclass(frozen=True)
class FaultBackend:
    server: ServerBackend[Any]
    wire: Wire

    @property
    def name(self) -> str:
        return self.server.backend


FAULT_BACKENDS = {
    backend.name: backend
    for backend in (
        FaultBackend(seaweedfs.BACKEND, S3_WIRE),
        FaultBackend(moto.BACKEND, S3_WIRE),
        FaultBackend(azurite.BACKEND, AZURE_WIRE),
        FaultBackend(fake_gcs.BACKEND, GCS_WIRE),
        FaultBackend(swift.BACKEND, SWIFT_WIRE),
    )
}
