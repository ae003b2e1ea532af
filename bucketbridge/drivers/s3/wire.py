"""The S3 driver's hot calls on the lean data plane.

HeadObject, GetObject, PutObject, UploadPart, ListObjectsV2 (flat and
delimited) and DeleteObject are sent by
:class:`~bucketbridge.dataplane.client.HttpClient`, signed by
:class:`.sigv4.SigV4Signer`; every other call stays on boto3. These methods
return what the server said or raise :class:`.errors.S3ResponseError`, which
the driver maps with the SDK path's own mapping (:func:`.errors.translate`),
so both paths raise the same exceptions.

Bodies go out unsigned (``UNSIGNED-PAYLOAD``) with an
``x-amz-checksum-crc32c`` header instead: hashing 512 MiB with SHA-256 for
the signature costs ~0.35 CPU-s, its CRC32C ~0.09 CPU-s. SeaweedFS (4.48)
refuses a wrong CRC32C (400 BadDigest), as AWS does; moto (5.2) checks
neither it nor Content-MD5 (nor signatures). MD5 would cost ~0.8 CPU-s.

Where this module cannot be right it raises :class:`WrongRegion` and the
driver repeats the call on boto3 (see ``S3Driver._call``): a bucket in
another region than the client's on AWS (a 301/307 redirect, or a 400
AuthorizationHeaderMalformed naming another region) is followed by
botocore's region redirector, which re-signs for the bucket's region.
"""

from __future__ import annotations

import http.client
import os
import re
import xml.etree.ElementTree as ElementTree
from base64 import b64encode
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

import google_crc32c

from ...dataplane.client import HttpClient, Response, with_prefix
from ...dataplane.multiplex import Answer, Exchange
from ...dataplane.request import Endpoint, Request, encode
from ..http_errors import Subject
from ..records import Body, ObjectInfo
from .errors import S3ResponseError
from .listing import (
    START_AFTER,
    Listed,
    next_marker_of,
    parse_directory_body,
    parse_list_body,
    whole_second,
)
from .sigv4 import SigV4Signer

CHECKSUM_BLOCK = 256 * 1024  # fits the L2 cache: measured cheapest to read and hash
METADATA_PREFIX = "x-amz-meta-"
REDIRECTS = frozenset({301, 302, 307})
# A bucket name botocore would put in the host name (no dots: they would
# not match AWS's wildcard certificate)
_VIRTUAL_HOST_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


class WrongRegion(Exception):
    """The bucket answers from another region: botocore knows how to follow."""


@dataclass(frozen=True)
class Put:
    """What the server answered to a PUT."""

    etag: str | None
    date: datetime


class S3Wire:
    def __init__(
        self,
        client: HttpClient,
        signer: SigV4Signer,
        endpoint: Endpoint,
        *,
        virtual_hosted: bool,
        subject: Subject,
    ) -> None:
        self._client = client
        self._signer = signer
        self.endpoint = endpoint
        self._virtual_hosted = virtual_hosted
        self._subject = subject

    def close(self) -> None:
        self._client.close()

    # --- requests -------------------------------------------------------

    def _request(
        self,
        method: str,
        bucket: str,
        key: str | None,
        query: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | Body | None = None,
    ) -> Request:
        """Addressed as the SDK addresses it: in the host name where botocore
        would (AWS, a bucket name fit for a host name), else in the path."""
        endpoint = self.endpoint
        path = endpoint.base_path
        if self._virtual_hosted and _VIRTUAL_HOST_BUCKET.fullmatch(bucket):
            endpoint = Endpoint(
                endpoint.scheme, f"{bucket}.{endpoint.host}", endpoint.port, endpoint.base_path
            )
        else:
            path += "/" + bucket
        path += "/" + encode(key, keep_slash=True) if key is not None else "/"
        return Request(method, endpoint, path, query or [], headers or {}, body)

    def _send(
        self, request: Request, bucket: str, key: str | None, sent_before: int = 0
    ) -> Response:
        """The response if it succeeded (2xx); S3ResponseError otherwise."""
        response = self._client.send(
            request, self._signer, self._subject.on(bucket, key), sent_before=sent_before
        )
        if response.status < 300:
            return response
        raise _error(response, request.method)

    # --- the calls ------------------------------------------------------

    def head_object(self, bucket: str, key: str) -> ObjectInfo:
        response = self._send(self._request("HEAD", bucket, key), bucket, key)
        response.close()
        return object_info(key, response, _int(response.header("content-length")))

    def read_object(
        self, bucket: str, key: str, *, byte_range: str | None, if_match: str | None
    ) -> tuple[ObjectInfo, Response]:
        """The object's info and its open response (the body not yet read)."""
        headers: dict[str, str] = {}
        if byte_range is not None:
            headers["range"] = byte_range
        if if_match is not None:
            headers["if-match"] = if_match
        response = self._send(self._request("GET", bucket, key, headers=headers), bucket, key)
        return object_info(key, response, total_size(response)), response

    def small_read(self, bucket: str, key: str) -> Exchange:
        """:meth:`read_object`'s GET of a whole object, unsent (for the multiplexer)."""
        request = self._request("GET", bucket, key)
        return Exchange(request, self._signer, self._subject.on(bucket, key))

    @property
    def client(self) -> HttpClient:
        return self._client

    def put_object(
        self,
        bucket: str,
        key: str,
        body: Body,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        create_only: bool,
        sent_before: int = 0,
    ) -> Put:
        """``sent_before``: copies already sent by the multiplexer (see
        :meth:`.HttpClient.send`), which a 412 then counts."""
        headers = _put_headers(crc32c(body), content_type, metadata, create_only)
        request = self._request("PUT", bucket, key, headers=headers, body=body)
        response = self._send(request, bucket, key, sent_before)
        response.discard()
        return Put(response.header("etag"), date_of(response))

    def small_put(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        create_only: bool,
    ) -> Exchange:
        """:meth:`put_object`'s PUT of ``body``, unsent (for the multiplexer)."""
        headers = _put_headers(
            _crc32c_text(google_crc32c.value(body)), content_type, metadata, create_only
        )
        request = self._request("PUT", bucket, key, headers=headers, body=body)
        return Exchange(request, self._signer, self._subject.on(bucket, key))

    def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, body: Body
    ) -> str:
        """The part's ETag."""
        query = [("partNumber", str(part_number)), ("uploadId", upload_id)]
        headers = {"x-amz-checksum-crc32c": crc32c(body)}
        request = self._request("PUT", bucket, key, query, headers, body)
        response = self._send(request, bucket, key)
        response.discard()
        return response.header("etag") or ""

    def list_objects(
        self, bucket: str, *, prefix: str | None, start_after: str | None, max_keys: int
    ) -> tuple[list[ObjectInfo], bool]:
        """One ListObjectsV2 page: its objects, and whether more follow."""
        # URL-encoded keys, as botocore asks: XML 1.0 cannot carry every key
        query = [("list-type", "2"), ("encoding-type", "url"), ("max-keys", str(max_keys))]
        if prefix:
            query.append(("prefix", prefix))
        if start_after:
            query.append(("start-after", start_after))
        response = self._send(self._request("GET", bucket, None, query), bucket, None)
        return parse_list_body(response.read())

    def list_raw(
        self, bucket: str, *, prefix: str | None, marker: str | None, max_keys: int
    ) -> tuple[bytes, str | None]:
        """One ListObjectsV2 page unparsed, and the marker of the page after
        it (:func:`.listing.next_marker_of`), so the next page can be asked
        for while this one is parsed. ``marker`` is such a marker: a
        continuation token, or a key to start after behind a NUL."""
        query = [("list-type", "2"), ("encoding-type", "url"), ("max-keys", str(max_keys))]
        if prefix:
            query.append(("prefix", prefix))
        if marker and marker.startswith(START_AFTER):
            query.append(("start-after", marker[len(START_AFTER) :]))
        elif marker:
            query.append(("continuation-token", marker))
        response = self._send(self._request("GET", bucket, None, query), bucket, None)
        body = response.read()
        return body, next_marker_of(body)

    def list_directory(
        self, bucket: str, *, prefix: str, token: str | None, max_keys: int
    ) -> Listed:
        """One ListObjectsV2 page of one level: ``Delimiter=/``, resumed at
        the server's continuation token."""
        query = [
            ("list-type", "2"),
            ("delimiter", "/"),
            ("encoding-type", "url"),
            ("max-keys", str(max_keys)),
        ]
        if prefix:
            query.append(("prefix", prefix))
        if token:
            query.append(("continuation-token", token))
        response = self._send(self._request("GET", bucket, None, query), bucket, None)
        return parse_directory_body(response.read())

    def delete_object(self, bucket: str, key: str) -> None:
        self._send(self._request("DELETE", bucket, key), bucket, key).discard()


def virtual_hosted(addressing_style: str, custom_endpoint: bool) -> bool:
    """Whether botocore puts buckets in the host name: if told to, or by
    default ("auto") on AWS itself; path style on every custom endpoint."""
    return addressing_style == "virtual" or (addressing_style == "auto" and not custom_endpoint)


def crc32c(body: Body) -> str:
    """The body's CRC32C as S3's ``x-amz-checksum-crc32c`` header gives it.
    A file window is read in L2-sized slices: measured on 512 MiB, that is
    cheaper (0.09 CPU-s) than hashing an mmap of it (google_crc32c only
    takes bytes; zlib's CRC32 over an mmap cost 0.25 CPU-s)."""
    crc = 0
    if body.window is not None:
        fd, offset = body.window
        done = 0
        while done < body.size:
            chunk = os.pread(fd, min(CHECKSUM_BLOCK, body.size - done), offset + done)
            if not chunk:
                break  # the file shrank: the send will say so
            crc = google_crc32c.extend(crc, chunk)
            done += len(chunk)
    elif (data := body.as_bytes()) is not None:  # one pass, no read() nor seek()
        crc = google_crc32c.value(data)
    else:
        body.seek(0)
        while chunk := body.read(CHECKSUM_BLOCK):
            crc = google_crc32c.extend(crc, chunk)
        body.seek(0)
    return _crc32c_text(crc)


def _crc32c_text(crc: int) -> str:
    return b64encode(crc.to_bytes(4, "big")).decode()


def _put_headers(
    checksum: str, content_type: str, metadata: Mapping[str, str], create_only: bool
) -> dict[str, str]:
    """A PUT's headers: its type, checksum, metadata and create-only rule."""
    headers = {"content-type": content_type, "x-amz-checksum-crc32c": checksum}
    for name, value in metadata.items():
        headers[METADATA_PREFIX + name.lower()] = value
    if create_only:
        headers["if-none-match"] = "*"
    return headers


def object_info(key: str, response: Response | Answer, size: int) -> ObjectInfo:
    # the headers read one by one, not all of them indexed (FastMessage)
    header = response.header
    etag = header("etag")
    modified = header("last-modified")
    return ObjectInfo(
        key=key,
        size=size,
        last_modified=_http_date(modified) if modified else date_of(response),
        etag=etag.strip('"') if etag else None,
        content_type=header("content-type") or "application/octet-stream",
        metadata=with_prefix(response.headers, METADATA_PREFIX),
        revision=etag,
    )


def _error(response: Response, method: str) -> Exception:
    """The error a non-2xx response stands for. A HEAD's has no body: its
    code is its status, as botocore names it."""
    body = b"" if method == "HEAD" else response.read()
    response.close()
    return error_of(response.status, body, response.attempts)


def error_of(status: int, body: bytes, attempts: int) -> Exception:
    """The error a non-2xx answer (its whole body read) stands for:
    :class:`WrongRegion`, or S3ResponseError."""
    code, message = _code_and_message(body)
    if not code:
        code, message = str(status), http.client.responses.get(status, "")
    if status in REDIRECTS or (code == "AuthorizationHeaderMalformed" and "region" in message):
        return WrongRegion(f"HTTP {status} {code}")
    return S3ResponseError(status, code, message, attempts)


def _code_and_message(body: bytes) -> tuple[str, str]:
    if b"<Error" not in body[:512]:
        return "", ""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return "", ""
    return (root.findtext("Code") or "").strip(), (root.findtext("Message") or "").strip()


def total_size(response: Response | Answer) -> int:
    """The whole object's size: a ranged GET's Content-Range ends in it."""
    content_range = response.header("content-range")
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return _int(response.header("content-length"))


def _int(text: str | None) -> int:
    return int(text) if text and text.isdigit() else 0


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


@lru_cache(maxsize=1024)
def _http_date(text: str) -> datetime:
    """An HTTP date; the IMF-fixdate every S3 server sends ("Fri, 27 Nov 2026
    13:00:00 GMT") read directly, 10x cheaper than the email package, and
    remembered: an object's Last-Modified and the server's Date of one
    second recur (a datetime is immutable, so sharing one is safe)."""
    parts = text.split()
    if len(parts) == 6 and parts[5] == "GMT" and parts[2] in _MONTHS:
        clock = parts[4].split(":")
        if len(clock) == 3 and parts[1].isdigit() and parts[3].isdigit():
            try:
                return datetime(
                    int(parts[3]),
                    _MONTHS[parts[2]],
                    int(parts[1]),
                    int(clock[0]),
                    int(clock[1]),
                    int(clock[2]),
                    tzinfo=timezone.utc,
                )
            except ValueError:
                pass
    import email.utils  # rare (not an IMF-fixdate): not on every command's start

    try:
        return whole_second(email.utils.parsedate_to_datetime(text))
    except (TypeError, ValueError):
        return datetime.fromtimestamp(0, timezone.utc)


def date_of(response: Response | Answer) -> datetime:
    """When the server answered: its Date header, which S3's second-precision
    Last-Modified of a write equals; saves a HEAD per upload."""
    header = response.header("date")
    if header:
        parsed = _http_date(header)
        if parsed.timestamp():  # 0: not a date
            return parsed
    return datetime.now(timezone.utc).replace(microsecond=0)
