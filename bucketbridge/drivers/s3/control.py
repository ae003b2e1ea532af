"""The S3 calls around the hot ones, on the lean data plane: buckets
(HeadBucket, CreateBucket, DeleteBucket), DeleteObjects and the multipart
upload's own calls (Create, Complete, Abort, ListMultipartUploads).

Each is one request a command makes once (``mb``, ``rb``, a large ``cp``),
so its cost is not the request but the SDK it would otherwise need: importing
boto3 and loading its S3 model is ~0.3 s, the whole start-up of a command.
:class:`S3ControlWire` adds these calls to :class:`.wire.S3Wire` without
changing it; like it, each returns what the server said or raises
:class:`.errors.S3ResponseError` (or :class:`.wire.WrongRegion`), which the
driver maps as the SDK path's errors.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ElementTree
from base64 import b64encode
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote
from xml.sax.saxutils import escape

from ..records import PartInfo
from .errors import S3ResponseError
from .listing import whole_second
from .wire import METADATA_PREFIX, S3Wire, _code_and_message, _http_date

_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"


@dataclass(frozen=True)
class ListedUpload:
    key: str
    upload_id: str
    initiated: datetime | None
    initiator: str | None = None
    """the ID of the principal that started it, where the server says"""


@dataclass(frozen=True)
class Started:
    """A CreateMultipartUpload's answer: the upload's id, and how many times
    the request was sent (more than once: an earlier copy may have made an
    upload whose answer was lost)."""

    upload_id: str
    attempts: int


@dataclass(frozen=True)
class UploadsPage:
    uploads: list[ListedUpload]
    truncated: bool
    next_key_marker: str
    next_upload_id_marker: str
    date: datetime | None = None
    """when the server answered, by its own clock (its Date header)"""


@dataclass(frozen=True)
class FailedDelete:
    key: str
    code: str
    message: str


class S3ControlWire(S3Wire):
    # --- buckets --------------------------------------------------------

    def head_bucket(self, bucket: str) -> None:
        self._send(self._request("HEAD", bucket, None), bucket, None).discard()

    def create_bucket(self, bucket: str, location_constraint: str | None) -> None:
        body = b""
        if location_constraint is not None:
            body = (
                f'<CreateBucketConfiguration xmlns="{_XMLNS}"><LocationConstraint>'
                f"{escape(location_constraint)}</LocationConstraint></CreateBucketConfiguration>"
            ).encode()
        request = self._request("PUT", bucket, None, body=body or None)
        self._send(request, bucket, None).discard()

    def delete_bucket(self, bucket: str) -> None:
        self._send(self._request("DELETE", bucket, None), bucket, None).discard()

    def delete_objects(self, bucket: str, keys: Sequence[str]) -> list[FailedDelete]:
        """One DeleteObjects (Quiet): the keys the server failed to delete."""
        items = "".join(f"<Object><Key>{escape(key)}</Key></Object>" for key in keys)
        body = f'<Delete xmlns="{_XMLNS}"><Quiet>true</Quiet>{items}</Delete>'.encode()
        # S3 refuses a DeleteObjects without an integrity header
        headers = {
            "content-md5": b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode(),
            "content-type": "application/xml",
        }
        request = self._request("POST", bucket, None, [("delete", "")], headers, body)
        root = _xml(self._send(request, bucket, None).read())
        if root is None:
            return []
        ns = _namespace(root)
        return [
            FailedDelete(
                error.findtext(ns + "Key") or "",
                error.findtext(ns + "Code") or "",
                error.findtext(ns + "Message") or "",
            )
            for error in root.iter(ns + "Error")
        ]

    # --- multipart ------------------------------------------------------

    def create_multipart(
        self, bucket: str, key: str, *, content_type: str, metadata: Mapping[str, str]
    ) -> Started:
        headers = {"content-type": content_type}
        for name, value in metadata.items():
            headers[METADATA_PREFIX + name.lower()] = value
        request = self._request("POST", bucket, key, [("uploads", "")], headers)
        response = self._send(request, bucket, key)
        root = _xml(response.read())
        upload_id = root.findtext(_namespace(root) + "UploadId") if root is not None else None
        if not upload_id:
            raise S3ResponseError(200, "MalformedResponse", "no UploadId in the response", 1)
        return Started(upload_id, response.attempts)

    def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: Iterable[PartInfo], create_only: bool
    ) -> None:
        items = "".join(
            f"<Part><PartNumber>{part.part_number}</PartNumber>"
            f"<ETag>{escape(part.token)}</ETag></Part>"
            for part in parts
        )
        body = f'<CompleteMultipartUpload xmlns="{_XMLNS}">{items}</CompleteMultipartUpload>'
        headers = {"content-type": "application/xml"}
        if create_only:
            headers["if-none-match"] = "*"
        request = self._request(
            "POST", bucket, key, [("uploadId", upload_id)], headers, body.encode()
        )
        response = self._send(request, bucket, key)
        answer = response.read()
        # S3 may answer 200 and then an error in the body (it kept the
        # connection alive while assembling the parts): botocore reads it so
        code, message = _code_and_message(answer)
        if code:
            status = 500 if code == "InternalError" else 400
            raise S3ResponseError(status, code, message, response.attempts)

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        request = self._request("DELETE", bucket, key, [("uploadId", upload_id)])
        self._send(request, bucket, key).discard()

    def list_multipart(
        self, bucket: str, *, key_marker: str, upload_id_marker: str, prefix: str = ""
    ) -> UploadsPage:
        query = [("uploads", ""), ("encoding-type", "url")]
        if prefix:
            query.append(("prefix", prefix))
        if key_marker:
            query.append(("key-marker", key_marker))
        if upload_id_marker:
            query.append(("upload-id-marker", upload_id_marker))
        response = self._send(self._request("GET", bucket, None, query), bucket, None)
        root = _xml(response.read())
        answered = response.header("date")
        date = _http_date(answered) if answered else None
        if root is None:
            return UploadsPage([], False, "", "", date)
        ns = _namespace(root)
        encoded = root.findtext(ns + "EncodingType") == "url"
        uploads = []
        for upload in root.iter(ns + "Upload"):
            initiated = upload.findtext(ns + "Initiated")
            key = upload.findtext(ns + "Key") or ""
            uploads.append(
                ListedUpload(
                    unquote(key) if encoded else key,
                    upload.findtext(ns + "UploadId") or "",
                    whole_second(datetime.fromisoformat(initiated)) if initiated else None,
                    upload.findtext(f"{ns}Initiator/{ns}ID"),
                )
            )
        next_key = root.findtext(ns + "NextKeyMarker") or ""
        return UploadsPage(
            uploads,
            (root.findtext(ns + "IsTruncated") or "").strip().lower() == "true",
            unquote(next_key) if encoded else next_key,
            root.findtext(ns + "NextUploadIdMarker") or "",
            date,
        )

    # --- signed URLs ----------------------------------------------------

    def presigned_url(
        self,
        method: str,
        bucket: str,
        key: str,
        expires_in: int,
        response_params: Sequence[tuple[str, str]] = (),
    ) -> str:
        """A URL that does ``method`` on the object until ``expires_in``
        seconds from now, addressed as the requests of this plane are."""
        request = self._request(method, bucket, key, list(response_params))
        self._signer.presign(request, expires_in)
        return request.url()


def _xml(body: bytes) -> ElementTree.Element | None:
    if not body.strip():
        return None
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise S3ResponseError(200, "MalformedResponse", f"unreadable XML: {error}", 1) from None


def _namespace(root: ElementTree.Element) -> str:
    return root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
