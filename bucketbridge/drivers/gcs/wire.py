"""The GCS driver's hot calls on the lean data plane (JSON API, as the SDK speaks it).

What goes here is what runs per object or per page: an object's metadata
(``head_object``, which ``find`` uses), its media (``alt=media``, ranged and
pinned to a generation), an upload of a :class:`Body` (a whole object or a
multipart part), and a listing page. Everything else stays on
google-cloud-storage (:mod:`.driver`).

Uploads are one ``uploadType=multipart`` request: a ``multipart/related``
envelope of the object's JSON resource and its bytes, the bytes a file
window sent with ``os.sendfile`` between the envelope's two halves
(:meth:`Body.framed`). The resource carries the body's CRC32C, which GCS
verifies (a mismatch is refused, nothing stored); fake-gcs-server does not
(it stores the bytes and reports its own CRC32C), so the CRC32C the server
answers is also compared here. Measured against a resumable session (POST,
then the window as the raw PUT) on fake-gcs-server: see the report in
docs/writing-a-driver.md. Not ``uploadType=media`` (no envelope) for the
objects without metadata: fake-gcs-server 0.1.1 stores a media upload over
an existing object whatever ``ifGenerationMatch=0`` says (a multipart one
it refuses, 412), and spends the same ~2 ms of CPU on either (4 KiB
objects, filesystem backend), so batch uploads there are the server's wall,
not the envelope's few µs. Not the XML API's PUT: fake-gcs-server refuses it
(400 invalid uploadType).

Responses ask only for the fields :func:`.driver.info_of` reads
(``fields=``); fake-gcs-server ignores that and answers everything.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import google_crc32c

from ...dataplane.client import HttpClient, Response
from ...dataplane.multiplex import Answer, Exchange
from ...dataplane.request import Endpoint, Request, encode
from ...dataplane.signing import Signer
from ...errors import ProviderInternalException
from ..http_errors import Subject
from ..records import Body, ObjectInfo
from .errors import parse_error_body, status_error
from .pages import (
    Listed,
    ListPage,
    decode_page,
    decode_resource,
    info_of_listed,
    next_token_of,
)

OBJECT_FIELDS = "name,size,updated,md5Hash,metadata,contentType,generation,crc32c,etag"
"""What :func:`.driver.info_of` reads of an object resource."""
LIST_FIELDS = f"items({OBJECT_FIELDS}),nextPageToken"
DIRECTORY_FIELDS = f"{LIST_FIELDS},prefixes"
REWRITE_FIELDS = f"done,rewriteToken,resource({OBJECT_FIELDS})"
_CRC_BLOCK = 256 * 1024  # a slice this large stays in the CPU cache while it is hashed
# An object's GET asks for these fields only: its query, encoded once
_OBJECT_QUERY = f"fields={encode(OBJECT_FIELDS)}"
# What a key as a path segment keeps as it is but for "/" (encoded): most
# keys. One pattern and one replace; encode() tries two patterns and four
# replaces on a key with folders (~2 µs of each read)
_SEGMENT_PLAIN = re.compile(r"[A-Za-z0-9_.~/-]*").fullmatch


class GcsWire:
    """One per driver: its :class:`HttpClient`, the endpoint and the signer."""

    def __init__(
        self, client: HttpClient, endpoint: Endpoint, signer: Signer, subject: Subject, who: str
    ) -> None:
        self._client = client
        self._endpoint = endpoint
        self._signer = signer
        self._subject = subject
        self._who = who
        base = endpoint.base_path
        self._json_base = f"{base}/storage/v1/b/"
        self._download_base = f"{base}/download/storage/v1/b/"
        self._upload_base = f"{base}/upload/storage/v1/b/"
        # multipart boundaries: a random prefix per driver and a counter (a
        # uuid4 per upload costs a getrandom call); the bytes of a body can
        # hold a boundary only by guessing its 128 random bits
        self._boundary = uuid.uuid4().hex
        self._uploads = itertools.count()

    def close(self) -> None:
        self._client.close()

    # --- requests -------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        bucket: str | None,
        key: str | None,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | Body | None = None,
        encoded_query: str | None = None,
        sent_before: int = 0,
    ) -> Response:
        """``encoded_query``: ``query`` as the request line sends it, made
        by the caller from constants encoded once (see :class:`_Targeted`);
        ``sent_before``: copies the multiplexer sent (:meth:`.HttpClient.send`)."""
        request = (
            Request(method, self._endpoint, path, query, headers or {}, body)
            if encoded_query is None
            else _Targeted(method, self._endpoint, path, query, headers or {}, encoded_query)
        )
        return self._client.send(
            request, self._signer, self._subject.on(bucket, key), sent_before=sent_before
        )

    def error(self, response: Response, bucket: str | None, key: str | None) -> Exception:
        """The exception for an error response (its body read and the
        connection reused), mapped as the SDK path maps the SDK's errors."""
        body = response.read() if _short(response) else b""
        if not body:
            response.close()
        return self._status_error(response.status, body, response.attempts, bucket, key)

    def _json(self, response: Response, bucket: str | None, key: str | None) -> Any:
        if response.status >= 300:
            raise self.error(response, bucket, key)
        data = response.read()
        try:
            return json.loads(data)
        except ValueError as failure:
            raise ProviderInternalException(
                f"GCS answered {self._subject.on(bucket, key).describe()} with a body"
                f" that is not JSON ({len(data)} bytes)"
            ) from failure

    # --- objects --------------------------------------------------------

    def get_object(self, bucket: str, key: str) -> dict[str, Any] | None:
        """The object's resource; None on 404 (no such object, or bucket)."""
        path = f"{self._json_base}{encode(bucket)}/o/{segment(key)}"
        response = self._send(
            "GET", path, [("fields", OBJECT_FIELDS)], bucket, key, encoded_query=_OBJECT_QUERY
        )
        if response.status == 404:
            response.discard()
            return None
        resource: dict[str, Any] = self._json(response, bucket, key)
        return resource

    def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object's record (what ``find`` returns); None on 404.

        Not the XML API's HEAD, which obstore sends: its ``Last-Modified``
        has whole seconds where ``updated`` has microseconds, and its
        ``x-goog-meta-*`` headers do not keep a metadata key's case, so the
        record would not be the one a listing or the SDK path makes."""
        listed = self.get_listed(bucket, key)
        return None if listed is None else info_of_listed(listed)

    def get_listed(self, bucket: str, key: str) -> Listed | None:
        """The object's resource as a listing's item; None on 404. Decoded
        by msgspec straight into that struct (:mod:`.pages`), not into a
        dict then a record: ~15 µs less client CPU a call."""
        path = f"{self._json_base}{encode(bucket)}/o/{segment(key)}"
        response = self._send(
            "GET", path, [("fields", OBJECT_FIELDS)], bucket, key, encoded_query=_OBJECT_QUERY
        )
        if response.status == 404:
            response.discard()
            return None
        return self._resource(response, bucket, key)

    def _resource(self, response: Response, bucket: str, key: str) -> Listed:
        if response.status >= 300:
            raise self.error(response, bucket, key)
        return decode_resource(response.read(), self._subject.on(bucket, key).describe())

    def get_media(
        self, bucket: str, key: str, generation: str, start: int, end: int, *, live: bool = False
    ) -> Response | None:
        """The bytes ``[start, end)`` of that generation, the body unread;
        None on 404 (that generation is gone). With ``live``, only if that
        generation is still the live object (``ifGenerationMatch``): None on
        412, so a stale generation a listing named is never read from a
        versioned bucket's history."""
        request = self.media_request(bucket, key, generation, start, end, live=live)
        response = self._client.send(request, self._signer, self._subject.on(bucket, key))
        if response.status == 404 or (live and response.status == 412):
            response.discard()
            return None
        if response.status >= 300:
            raise self.error(response, bucket, key)
        return response

    def media_request(
        self, bucket: str, key: str, generation: str, start: int, end: int, *, live: bool
    ) -> Request:
        """The GET of :meth:`get_media`, unsent (the multiplexer sends it too)."""
        path = f"{self._download_base}{encode(bucket)}/o/{segment(key)}"
        condition = "ifGenerationMatch" if live else "generation"
        query = [("alt", "media"), (condition, generation)]
        headers = {"range": f"bytes={start}-{end - 1}", "accept-encoding": "identity"}
        return _Targeted(
            "GET",
            self._endpoint,
            path,
            query,
            headers,
            f"alt=media&{condition}={encode(generation)}",
        )

    def small_read(self, bucket: str, key: str, listed: ObjectInfo) -> Exchange | None:
        """The whole-object GET of the revision a listing named, for the
        multiplexer (:mod:`bucketbridge.dataplane.multiplex`); None where
        the blocking read must go (no revision, an empty object)."""
        generation, _, _ = (listed.revision or "").partition("/")
        if not generation or listed.key != key or listed.size <= 0:
            return None
        request = self.media_request(bucket, key, generation, 0, listed.size, live=True)
        return Exchange(request, self._signer, self._subject.on(bucket, key))

    def answered_error(self, answer: Answer, bucket: str, key: str) -> Exception:
        """:meth:`error` for a whole answer the multiplexer read."""
        return self._status_error(answer.status, answer.body, answer.attempts, bucket, key)

    def _status_error(
        self, status: int, body: bytes, attempts: int, bucket: str | None, key: str | None
    ) -> Exception:
        reason, message = parse_error_body(body)
        return status_error(
            status,
            self._subject.on(bucket, key),
            reason=reason,
            message=message,
            attempts=attempts,
            who=self._who,
        )

    @property
    def client(self) -> HttpClient:
        return self._client

    def upload(
        self,
        bucket: str,
        key: str,
        body: Body,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None,
        if_generation_match: int | None,
        error_key: str | None = None,
        sent_before: int = 0,
    ) -> Listed:
        """Store ``body`` as ``key`` in one request; the stored object's
        resource (decoded as :meth:`get_listed` decodes it). ``error_key``
        names the object in errors (a part's user key); ``sent_before``:
        copies the multiplexer sent already (:class:`.driver.GcsSmallWrites`)."""
        crc32c = crc32c_of(body)
        upload = self._upload(bucket, key, crc32c, content_type, metadata, if_generation_match)
        reported = error_key if error_key is not None else key
        response = self._send(
            "POST",
            upload.path,
            upload.query,
            bucket,
            reported,
            headers=upload.headers,
            body=Body.framed(upload.head, body, upload.tail),
            sent_before=sent_before,
        )
        if response.status == 412 and response.attempts > 1 and if_generation_match == 0:
            # a create-only upload retried after its first attempt was stored
            # meets that object: it is ours if it holds exactly our bytes
            response.discard()
            existing = self.get_listed(bucket, key)
            if existing is not None and existing.crc32c == crc32c:
                return existing
            raise status_error(
                412,
                self._subject.on(bucket, reported),
                reason="conditionNotMet",
                message="",
                attempts=response.attempts,
                who=self._who,
            )
        stored = self._resource(response, bucket, reported)
        if stored.crc32c not in (None, crc32c):
            raise IntegrityError(bucket, reported, crc32c, str(stored.crc32c))
        return stored

    def _upload(
        self,
        bucket: str,
        key: str,
        crc32c: str,
        content_type: str,
        metadata: Mapping[str, str] | None,
        if_generation_match: int | None,
    ) -> _Upload:
        """The parts of :meth:`upload`'s request but the body's bytes."""
        resource: dict[str, Any] = {"name": key, "contentType": content_type, "crc32c": crc32c}
        if metadata:
            resource["metadata"] = dict(metadata)
        boundary = f"{self._boundary}{next(self._uploads)}"
        head = (
            f"--{boundary}\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n"
            f"{json.dumps(resource)}\r\n"
            f"--{boundary}\r\ncontent-type: {content_type}\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        # the name is in the resource; in the query too, so that a log or a
        # proxy sees which object a request writes
        query = [("uploadType", "multipart"), ("name", key), ("fields", OBJECT_FIELDS)]
        if if_generation_match is not None:
            query.append(("ifGenerationMatch", str(if_generation_match)))
        return _Upload(
            f"{self._upload_base}{encode(bucket)}/o",
            query,
            {"content-type": f"multipart/related; boundary={boundary}"},
            head,
            tail,
        )

    def small_upload(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None,
        if_generation_match: int | None,
    ) -> Exchange:
        """:meth:`upload`'s request of ``body``, unsent (for the multiplexer)."""
        crc32c = crc32c_of_bytes(body)
        upload = self._upload(bucket, key, crc32c, content_type, metadata, if_generation_match)
        request = Request(
            "POST",
            self._endpoint,
            upload.path,
            upload.query,
            upload.headers,
            upload.head + body + upload.tail,
        )
        return Exchange(request, self._signer, self._subject.on(bucket, key))

    def small_uploaded(self, answer: Answer, bucket: str, key: str, crc32c: str) -> Listed:
        """The stored object's resource from :meth:`small_upload`'s answer,
        checked as :meth:`upload` checks it; its error status raised as
        :meth:`upload` raises it (a first copy's 412: the object was there)."""
        if answer.status >= 300:
            raise self.answered_error(answer, bucket, key)
        stored = decode_resource(answer.body, self._subject.on(bucket, key).describe())
        if stored.crc32c not in (None, crc32c):
            raise IntegrityError(bucket, key, crc32c, str(stored.crc32c))
        return stored

    def rewrite(
        self,
        source_bucket: str,
        source_key: str,
        source_generation: str | None,
        bucket: str,
        key: str,
        resource: Mapping[str, Any],
        *,
        if_generation_match: int | None,
        token: str | None,
        source_crc32c: str | None,
    ) -> dict[str, Any] | None:
        """One ``objects.rewrite`` call: ``done`` with the new object's
        ``resource``, or a ``rewriteToken`` to call again with. None on 404
        (the source generation, or either bucket, is gone).

        ``sourceGeneration`` picks the bytes, ``ifSourceGenerationMatch``
        refuses them if the live object is another generation by now (on a
        versioned bucket the first alone would copy a noncurrent version)."""
        path = (
            f"{self._json_base}{encode(source_bucket)}/o/{encode(source_key)}"
            f"/rewriteTo/b/{encode(bucket)}/o/{encode(key)}"
        )
        query: list[tuple[str, str]] = []
        if source_generation:
            query += [
                ("sourceGeneration", source_generation),
                ("ifSourceGenerationMatch", source_generation),
            ]
        if if_generation_match is not None:
            query.append(("ifGenerationMatch", str(if_generation_match)))
        if token is not None:
            query.append(("rewriteToken", token))
        query.append(("fields", REWRITE_FIELDS))
        response = self._send(
            "POST",
            path,
            query,
            bucket,
            key,
            headers={"content-type": "application/json; charset=UTF-8"},
            body=json.dumps(resource).encode(),
        )
        if response.status == 404:
            response.discard()
            return None
        if response.status == 412 and response.attempts > 1 and if_generation_match == 0:
            # a create-only rewrite retried after its first attempt was
            # stored meets that object: it is ours if it holds the source's bytes
            response.discard()
            existing = self.get_object(bucket, key)
            if existing is not None and source_crc32c and existing.get("crc32c") == source_crc32c:
                return {"done": True, "resource": existing}
            raise status_error(
                412,
                self._subject.on(bucket, key),
                reason="conditionNotMet",
                message="",
                attempts=response.attempts,
                who=self._who,
            )
        result: dict[str, Any] = self._json(response, bucket, key)
        return result

    # --- listings -------------------------------------------------------

    def describe(self, bucket: str) -> str:
        """The bucket as errors name it."""
        return self._subject.on(bucket, None).describe()

    def list_raw(
        self, bucket: str, *, prefix: str | None, page_token: str | None, max_results: int
    ) -> tuple[bytes, str | None]:
        """A page of ``objects.list`` undecoded, and its next page token
        (for :func:`.paging.read_ahead`; :func:`.pages.decode_page` reads
        the page)."""
        data = self._list(bucket, prefix, None, page_token, max_results, None)
        return data, next_token_of(data, self.describe(bucket))

    def list_page(
        self,
        bucket: str,
        *,
        prefix: str | None,
        start_offset: str | None,
        page_token: str | None,
        max_results: int,
        delimiter: str | None = None,
    ) -> ListPage:
        """One page of ``objects.list``; with ``delimiter``, the
        ``prefixes`` of the keys folded at it too."""
        data = self._list(bucket, prefix, start_offset, page_token, max_results, delimiter)
        return decode_page(data, self._subject.on(bucket, None).describe())

    def _list(
        self,
        bucket: str,
        prefix: str | None,
        start_offset: str | None,
        page_token: str | None,
        max_results: int,
        delimiter: str | None,
    ) -> bytes:
        query = [("maxResults", str(max_results)), ("projection", "noAcl")]
        if prefix:
            query.append(("prefix", prefix))
        if delimiter is not None:
            query.append(("delimiter", delimiter))
        if start_offset is not None:
            query.append(("startOffset", start_offset))
        if page_token is not None:
            query.append(("pageToken", page_token))
        query.append(("fields", LIST_FIELDS if delimiter is None else DIRECTORY_FIELDS))
        response = self._send("GET", f"{self._json_base}{encode(bucket)}/o", query, bucket, None)
        if response.status >= 300:
            raise self.error(response, bucket, None)
        return response.read()


class _Targeted(Request):
    """A request whose query the wire encoded itself, from constants
    encoded once: :meth:`Request.target` encodes every name and value of
    ``query`` per request (~6 µs of a 4 KiB read's media GET, whose names
    and ``fields`` never change). ``query`` keeps the pairs, decoded, as
    every request holds them; a signer that added pairs to it (none does
    here: a bearer token is a header) gets the target encoded from them all."""

    def __init__(
        self,
        method: str,
        endpoint: Endpoint,
        path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        encoded_query: str,
    ) -> None:
        super().__init__(method, endpoint, path, query, headers)
        self._target = f"{path}?{encoded_query}"
        self._pairs = len(query)

    def target(self) -> str:
        if len(self.query) != self._pairs:
            return Request.target(self)
        return self._target


def segment(key: str) -> str:
    """``key`` as one segment of a path ("/" encoded too): what
    ``encode(key)`` returns, for less on the usual keys."""
    return key.replace("/", "%2F") if _SEGMENT_PLAIN(key) else encode(key)


class IntegrityError(ProviderInternalException):
    def __init__(self, bucket: str, key: str, sent: str, stored: str) -> None:
        super().__init__(
            f"GCS stored object {key!r} in bucket {bucket!r} with CRC32C {stored}, but the"
            f" bytes sent have CRC32C {sent}: they were changed on the way"
        )


def crc32c_of(body: Body) -> str:
    """The body's CRC32C as GCS writes it (base64 of 4 big-endian bytes).

    A file window is read in 256 KiB ``pread`` slices. google_crc32c's C
    entry point takes only ``bytes`` (``y#``: an mmap or memoryview is
    refused), and hashing an mmap of the window through ctypes measured no
    cheaper here: the CRC itself (~4.6 GB/s) costs ~4x the copy of a slice
    that stays in the CPU cache."""
    data = body.as_bytes()
    if data is not None:  # in memory: one pass, no read() nor seek()
        return crc32c_of_bytes(data)
    checksum = google_crc32c.Checksum()
    if body.window is not None:
        fd, offset = body.window
        for at in range(offset, offset + body.size, _CRC_BLOCK):
            checksum.update(os.pread(fd, min(_CRC_BLOCK, offset + body.size - at), at))
    else:
        body.seek(0)
        while data := body.read(_CRC_BLOCK):
            checksum.update(data)
    return base64.b64encode(checksum.digest()).decode()


def _short(response: Response) -> bool:
    length = response.header("content-length")
    return length is None or (length.isdigit() and int(length) <= 64 * 1024)


def crc32c_of_bytes(data: bytes) -> str:
    """The CRC32C of ``data`` as GCS writes it (base64 of 4 big-endian bytes)."""
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()


@dataclass(frozen=True, slots=True)
class _Upload:
    """A single-request upload's POST but the body's bytes: they go
    between ``head`` and ``tail`` (multipart/related: resource, media)."""

    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    head: bytes
    tail: bytes
