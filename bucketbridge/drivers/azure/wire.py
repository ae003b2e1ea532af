"""The Azure driver's hot calls on the lean data plane (:mod:`bucketbridge.dataplane`).

Get Blob Properties (``head_object``, and so ``find``), Get Blob
(``read_object``, read into the caller's buffer), Put Blob (``put_object``,
a file window sent with ``os.sendfile``), Put Block (a multipart part) and
List Blobs pages. azure-storage-blob spends most of a small call's time in
its pipeline, and its downloader buffers every 8 MiB request whole; these
requests are the ones the SDK would send, signed by :mod:`.signing` with the
driver's own credentials. Everything else stays on the SDK, and so do these
with ``data_plane="sdk"`` or behind an HTTP proxy (:func:`use_lean_plane`).

Error responses go through :func:`.errors.response_error`, as the SDK's do,
so either path raises the same exceptions.

Integrity, as measured on Azurite 3.35: it verifies ``Content-MD5`` on Put
Blob and Put Block (a wrong one is 400 InvalidOperation, "Provided
contentMD5 doesn't match"; Azure says Md5Mismatch) and refuses
``x-ms-content-crc64`` outright in its default strict mode (500
FeatureNotSupported, on any request; :func:`refuses_crc64` matches that
answer and the client does not retry it), ignoring it with ``--loose``;
azure-storage-blob's own CRC64 needs the azure-storage-extensions package
besides. So:

- Put Block sends the part's checksum, which is also its etag token (Azure
  answers Put Block with no MD5 unless it was sent one, API 2019-02-02 on):
  by default (``azure_checksum = auto``) its CRC-64, which Azure verifies,
  at a fraction of MD5's client CPU, or its MD5 where the server refuses the
  CRC-64 (strict Azurite); :mod:`.checksums` decides, with one probe per
  driver (:meth:`AzureWire.crc64_refusal`).
- Put Blob sends none: Azure hashes the body and answers its MD5, which
  becomes the object's etag, so what the server stored is reported without
  a second pass over the body here (~1 CPU-s per GiB of MD5).
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from email.message import Message
from typing import TYPE_CHECKING
from urllib.parse import unquote

from ...dataplane.client import HttpClient, Response, with_prefix
from ...dataplane.multiplex import Answer, Exchange
from ...dataplane.request import Endpoint, Request, encode
from ...dataplane.signing import Signer
from ...errors import (
    BucketBridgeException,
    PreconditionFailedException,
    ProviderInternalException,
)
from ..http_errors import Subject
from ..records import (
    Body,
    DirectoryPage,
    ObjectInfo,
    ObjectStream,
    Page,
    ReadOptions,
    WriteOptions,
)
from . import checksums, metadata
from .errors import response_error
from .listing import listed, scan_listing
from .properties import http_datetime, md5_hex, quoted, unquoted

if TYPE_CHECKING:
    from .client import AzureSettings

META = "x-ms-meta-"
ERROR_BODY_LIMIT = 64 * 1024


class AzureWire:
    """One per driver, thread-safe: the endpoint, a signer and the client."""

    def __init__(
        self,
        settings: AzureSettings,
        signer: Signer,
        api_version: str,
        subject: Subject,
    ) -> None:
        self.endpoint = Endpoint.parse(settings.endpoint_url)
        self._signer = signer
        self._version = api_version  # the SDK's, so both paths speak one dialect
        self._subject = subject
        self._auth = settings.auth
        self._client = HttpClient(settings.connection)

    def close(self) -> None:
        self._client.close()

    # --- requests and errors ---------------------------------------------

    def _request(
        self,
        method: str,
        bucket: str,
        key: str | None = None,
        *,
        query: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        body: Body | bytes | None = None,
    ) -> Request:
        path = f"{self.endpoint.base_path}/{encode(bucket)}"
        if key is not None:
            path += "/" + encode(key, keep_slash=True)
        all_headers = {"x-ms-version": self._version}
        if headers:
            all_headers.update(headers)
        return Request(method, self.endpoint, path, query or [], all_headers, body)

    def _send(
        self,
        request: Request,
        bucket: str,
        key: str | None,
        final: Callable[[int, Message], bool] | None = None,
        sent_before: int = 0,
    ) -> Response:
        """``sent_before``: copies the multiplexer sent (:meth:`.HttpClient.send`)."""
        return self._client.send(
            request,
            self._signer,
            self._subject.on(bucket, key),
            final=final,
            sent_before=sent_before,
        )

    def error(self, response: Response, bucket: str, key: str | None) -> BucketBridgeException:
        """The exception for an error response (whose body this reads)."""
        code, message = error_details(response)
        return response_error(
            response.status, code, message, self._subject.on(bucket, key), self._auth
        )

    # --- objects --------------------------------------------------------

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        response = self._send(self._request("HEAD", bucket, key), bucket, key)
        response.close()
        if response.status == 404:  # the core tells a missing bucket apart
            return None
        if response.status != 200:
            raise self.error(response, bucket, key)
        return info_of(key, response, total_size(response))

    def get(self, bucket: str, key: str, options: ReadOptions) -> ObjectStream | None:
        """The stream of ``[start, end)``; None when the range starts at or
        past the end (416), which the driver answers from a HEAD."""
        headers: dict[str, str] = {}
        if options.end is not None:
            headers["x-ms-range"] = f"bytes={options.start}-{options.end - 1}"
        elif options.start:
            headers["x-ms-range"] = f"bytes={options.start}-"
        if options.if_revision is not None:
            headers["if-match"] = options.if_revision
        response = self._send(self._request("GET", bucket, key, headers=headers), bucket, key)
        if response.status not in (200, 206):
            code, message = error_details(response)
            if response.status == 416 or code == "InvalidRange":
                return None
            if response.status == 412:
                raise PreconditionFailedException(
                    f"object {key!r} in bucket {bucket!r} was replaced while being read"
                )
            raise response_error(
                response.status, code, message, self._subject.on(bucket, key), self._auth
            )
        info = info_of(key, response, total_size(response))
        return ObjectStream(
            info,
            response.chunks(options.chunk_size),
            response.close,
            readinto=response.readinto,
        )

    # --- small reads (base.SmallReads: the core multiplexes them) ---------

    @property
    def client(self) -> HttpClient:
        return self._client

    def small_read(self, bucket: str, key: str, listed: ObjectInfo) -> Exchange | None:
        """:meth:`get`'s GET of a whole blob, unsent."""
        request = self._request("GET", bucket, key)
        return Exchange(request, self._signer, self._subject.on(bucket, key))

    def small_result(
        self, bucket: str, key: str, listed: ObjectInfo, answer: Answer
    ) -> ObjectInfo | None:
        """The record :meth:`get` makes of the whole answer; None where the
        blocking read must decide (416, 412, a body shorter than its size);
        the exception :meth:`get` raises for any other status."""
        if answer.status not in (200, 206):
            code, message = answer_error_details(answer)
            if answer.status in (412, 416) or code == "InvalidRange":
                return None
            raise response_error(
                answer.status, code, message, self._subject.on(bucket, key), self._auth
            )
        size = total_size(answer)
        if len(answer.body) != size:
            return None
        return info_of(key, answer, size)

    def put(
        self,
        bucket: str,
        key: str,
        body: Body,
        options: WriteOptions,
        md5: str | None = None,
        *,
        sent_before: int = 0,
    ) -> ObjectInfo:
        """Put Blob. A create-only write that was sent again and then met a
        blob raises :class:`RetriedCreate`: the blob may be its own.
        ``sent_before``: copies the multiplexer sent already (they count)."""
        request = self._put_request(bucket, key, body, options, md5)
        response = self._send(request, bucket, key, sent_before=sent_before)
        if response.status != 201:
            code, message = error_details(response)
            error = response_error(
                response.status, code, message, self._subject.on(bucket, key), self._auth
            )
            if code == "BlobAlreadyExists" and response.attempts > 1:
                raise RetriedCreate(*error.args) from error
            raise error
        response.close()
        return _put_record(key, body.size, response.headers, options)

    def _put_request(
        self, bucket: str, key: str, body: Body | bytes, options: WriteOptions, md5: str | None
    ) -> Request:
        headers = {"x-ms-blob-type": "BlockBlob", **meta_headers(metadata.encode(options.metadata))}
        if options.content_type:  # as the SDK: no header for no type (Azure's default then)
            headers["x-ms-blob-content-type"] = options.content_type
        if options.create_only:
            headers["if-none-match"] = "*"
        if md5 is not None:
            headers["content-md5"] = base64.b64encode(bytes.fromhex(md5)).decode()
        return self._request("PUT", bucket, key, headers=headers, body=body)

    # --- small writes (base.SmallWrites, with the driver's put_again) ------

    def small_put(self, bucket: str, key: str, body: bytes, options: WriteOptions) -> Exchange:
        """:meth:`put`'s Put Blob of ``body``, unsent (for the multiplexer)."""
        request = self._put_request(bucket, key, body, options, None)
        return Exchange(request, self._signer, self._subject.on(bucket, key))

    def small_put_result(
        self, bucket: str, key: str, body: bytes, options: WriteOptions, answer: Answer
    ) -> ObjectInfo:
        """The record :meth:`put` makes of :meth:`small_put`'s answer; the
        exception it raises for an error status (a first copy meeting a
        blob: it was there)."""
        if answer.status != 201:
            code, message = answer_error_details(answer)
            raise response_error(
                answer.status, code, message, self._subject.on(bucket, key), self._auth
            )
        return _put_record(key, len(body), answer.headers, options)

    def put_block(
        self,
        bucket: str,
        key: str,
        block_id: str,
        body: Body,
        md5: str | None = None,
        *,
        checksum: tuple[str, str] | None = None,
    ) -> str | None:
        """Put Block; the MD5 (hex) the server computed of the block, if it
        says. ``block_id`` is :func:`.blocks.block_id`'s, which the SDK
        base64-encodes once more on the wire (and decodes once in a block
        list): so does this, so both paths stage the same blocks."""
        wire_id = base64.b64encode(block_id.encode()).decode()
        query = [("comp", "block"), ("blockid", wire_id)]
        headers = dict([checksum]) if checksum is not None else {}  # .checksums.header's
        if md5 is not None:
            headers["content-md5"] = base64.b64encode(bytes.fromhex(md5)).decode()
        request = self._request("PUT", bucket, key, query=query, headers=headers, body=body)
        # a refused CRC-64 is answered at once, not retried: it would be refused again
        crc64 = checksums.CRC64_HEADER in headers
        response = self._send(request, bucket, key, refuses_crc64 if crc64 else None)
        if response.status != 201:
            if crc64 and refuses_crc64(response.status, response.headers):
                response.discard()
                raise self._crc64_refused(bucket, key)
            raise self.error(response, bucket, key)
        response.close()
        served = response.header("content-md5")
        return md5_hex(served) if served else None

    def crc64_refusal(self, bucket: str, key: str) -> checksums.Crc64Refused | None:
        """Get Blob Properties carrying ``x-ms-content-crc64`` (of no bytes):
        the server's refusal of that header, or None if it answered anything
        else (:class:`.checksums.Choice`'s probe; it changes nothing)."""
        headers = dict([checksums.header("crc64", f"{0:016x}")])
        request = self._request("HEAD", bucket, key, headers=headers)
        response = self._send(request, bucket, key, refuses_crc64)
        response.close()
        if not refuses_crc64(response.status, response.headers):
            return None
        return self._crc64_refused(bucket, key)

    def _crc64_refused(self, bucket: str, key: str) -> checksums.Crc64Refused:
        subject = self._subject.on(bucket, key)
        return checksums.Crc64Refused(subject.endpoint, subject.describe())

    def list_page(
        self, bucket: str, *, prefix: str | None, marker: str | None, limit: int
    ) -> Page[ObjectInfo]:
        listing = parse_listing(self._list(bucket, prefix, marker, limit, None))
        return Page(listing.objects, listing.next_marker)

    def list_raw(
        self, bucket: str, *, prefix: str | None, marker: str | None, limit: int
    ) -> tuple[bytes, str | None]:
        """A List Blobs page unparsed, and its next marker (read from the
        body's tail without parsing the rest, so the next page can be asked
        for before this one is parsed: :func:`parse_listing` reads it)."""
        xml = self._list(bucket, prefix, marker, limit, None)
        return xml, next_marker_of(xml)

    def list_directory(
        self, bucket: str, *, prefix: str, marker: str | None, limit: int
    ) -> DirectoryPage:
        """One level under ``prefix``: List Blobs with ``delimiter=/``, whose
        BlobPrefix entries are the directories (``maxresults`` counts them
        and the blobs together, as ``limit`` does)."""
        return parse_listing(self._list(bucket, prefix, marker, limit, "/"))

    def _list(
        self, bucket: str, prefix: str | None, marker: str | None, limit: int, delimiter: str | None
    ) -> bytes:
        query = [("restype", "container"), ("comp", "list")]
        if prefix:
            query.append(("prefix", prefix))
        if delimiter:
            query.append(("delimiter", delimiter))
        if marker:
            query.append(("marker", marker))
        query += [("maxresults", str(limit)), ("include", "metadata")]
        response = self._send(self._request("GET", bucket, query=query), bucket, None)
        if response.status != 200:
            raise self.error(response, bucket, None)
        return response.read()


def refuses_crc64(status: int, headers: Message) -> bool:
    """Whether an answer is the server's refusal of ``x-ms-content-crc64``
    (:data:`.checksums.REFUSAL`: strict Azurite's, status and error code)."""
    return (status, headers.get("x-ms-error-code")) == checksums.REFUSAL


class RetriedCreate(PreconditionFailedException):
    """A create-only Put Blob was sent more than once and the last attempt
    met a blob (409 BlobAlreadyExists): perhaps the one a lost attempt
    stored (see :mod:`.own_writes`)."""


# --- responses ----------------------------------------------------------------


def _put_record(key: str, size: int, headers: Message, options: WriteOptions) -> ObjectInfo:
    """The record of a Put Blob the server answered with ``headers``."""
    served = headers.get("content-md5")
    return ObjectInfo(
        key=key,
        size=size,
        last_modified=http_datetime(headers["last-modified"]),
        etag=md5_hex(served) if served else unquoted(headers["etag"]),
        content_type=options.content_type,
        metadata=dict(options.metadata),
        revision=quoted(headers["etag"]),
    )


def error_details(response: Response) -> tuple[str, str]:
    """An error response's code (``x-ms-error-code``, else the XML body's)
    and the first line of its message; reads the (short) body."""
    body: bytes | None = None
    length = response.header("content-length") or ""
    if length.isdigit() and 0 < int(length) <= ERROR_BODY_LIMIT:
        try:
            body = response.read()
        except BucketBridgeException:
            body = None
    response.close()
    return _details(response.header("x-ms-error-code") or "", body)


def answer_error_details(answer: Answer) -> tuple[str, str]:
    """:func:`error_details` of a whole answer the multiplexer read."""
    length = answer.header("content-length") or ""
    short = length.isdigit() and 0 < int(length) <= ERROR_BODY_LIMIT
    return _details(answer.header("x-ms-error-code") or "", answer.body if short else None)


def _details(code: str, body: bytes | None) -> tuple[str, str]:
    message = ""
    if body is not None:
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            root = None
        if root is not None:
            code = code or (root.findtext("Code") or "")
            message = (root.findtext("Message") or "").strip()
    return code, message.splitlines()[0] if message else ""


def meta_headers(stored: dict[str, str]) -> dict[str, str]:
    return {META + name: value for name, value in stored.items()}


def total_size(response: Response | Answer) -> int:
    """The whole blob's size: a ranged GET's Content-Range ends in it."""
    content_range = response.header("content-range")
    if content_range:
        total = content_range.rpartition("/")[2].strip()
        if total.isdigit():
            return int(total)
    return int(response.header("content-length") or 0)


def info_of(key: str, response: Response | Answer, size: int) -> ObjectInfo:
    """The record of a blob from a HEAD's or a GET's headers (what
    :func:`.properties.object_info` makes of the SDK's properties), read
    one by one rather than all of them indexed (FastMessage)."""
    header = response.header
    user_metadata, stored_etag = metadata.decode(with_prefix(response.headers, META))
    # a ranged answer's Content-MD5 would be the range's: the blob's is apart
    ranged = header("content-range") is not None
    md5 = header("x-ms-blob-content-md5" if ranged else "content-md5")
    etag, modified = header("etag"), header("last-modified")
    if etag is None or modified is None:  # every Blob service answer has both
        missing = "ETag" if etag is None else "Last-Modified"
        raise ProviderInternalException(f"blob {key!r}: the server's answer has no {missing}")
    return ObjectInfo(
        key=key,
        size=size,
        last_modified=http_datetime(modified),
        etag=stored_etag or (md5_hex(md5) if md5 else unquoted(etag)),
        content_type=header("content-type") or "application/octet-stream",
        metadata=user_metadata,
        revision=quoted(etag),
    )


def parse_listing(xml: bytes) -> DirectoryPage:
    """A List Blobs page (``include=metadata``): its blobs as records, the
    names of its BlobPrefix entries (with a delimiter), the next marker.
    Read by :func:`.listing.scan_listing` where the body has the layout it
    reads, else by ElementTree."""
    scanned = scan_listing(xml)
    if scanned is not None:
        return DirectoryPage(scanned[0], scanned[1], next_marker_of(xml))
    root = ElementTree.fromstring(xml)
    items: list[ObjectInfo] = []
    prefixes: list[str] = []
    blobs = root.find("Blobs")
    for entry in blobs if blobs is not None else ():
        name_element = entry.find("Name")
        name = (name_element.text or "") if name_element is not None else ""
        if name_element is not None and name_element.get("Encoded") == "true":
            name = unquote(name)
        if entry.tag == "Blob":
            properties = entry.find("Properties")
            fields = {e.tag: e.text or "" for e in properties} if properties is not None else {}
            meta = entry.find("Metadata")
            stored = {e.tag: e.text or "" for e in meta} if meta is not None else {}
            items.append(listed(name, fields, stored))
        elif entry.tag == "BlobPrefix":
            prefixes.append(name)
    return DirectoryPage(items, prefixes, root.findtext("NextMarker") or None)


def next_marker_of(xml: bytes) -> str | None:
    """The ``NextMarker`` of a List Blobs page, as :func:`parse_listing`
    reads it, from the bytes after the ``Blobs`` element (where Azure writes
    it; a blob's metadata may hold a ``NextMarker`` element of its own, but
    only inside ``Blobs``). Parsed as XML, so entities are decoded."""
    end = xml.rfind(b"</Blobs>")
    start = xml.find(b"<NextMarker", end if end >= 0 else 0)
    if start < 0:
        return None
    close = xml.find(b"</NextMarker>", start)
    if close < 0:  # <NextMarker /> : the last page
        return None
    element = ElementTree.fromstring(xml[start : close + len(b"</NextMarker>")])
    return element.text or None
