"""Multipart uploads on GCS: parts as temporary objects joined with ``compose``.

Why compose: it is the one parallel upload path every GCS server has. The
XML multipart API (what ``transfer_manager.upload_chunks_concurrently``
uses) is refused by fake-gcs-server (400) and gcp-storage-emulator (501),
and a resumable upload takes its chunks in order only. Compose joins up to
32 objects per request, so more parts are joined in a tree.

Where the pieces live: ``.bucketbridge/uploads/<upload id>/`` in the
bucket itself (GCS has no other place), a name no user can create
(``names.py`` reserves the ``.bucketbridge`` segment) and that
``list_objects`` never lists:

- ``upload``: the upload's marker, made at start; its creation time is
  ``UploadInfo.initiated`` and its metadata the object's key;
- ``part-NNNNN``: the parts; ``join-L-NNNNN``: intermediate composites.

``complete`` composes into the object with the content type, the metadata
and, for ``create_only``, ``ifGenerationMatch=0``, then deletes the whole
folder; ``abort`` deletes it. ``list_multipart`` reports every upload id that
has any object there, marker or not (a part stored while another thread
aborted), so ``abort_incomplete_uploads`` removes everything left behind.
A composed object has no MD5: the S3-style etag ``md5(part md5s)-N`` is
computed from the parts' MD5s and kept in a metadata key hidden from users.
"""

from __future__ import annotations

import base64
import contextlib
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ...errors import (
    BucketBridgeException,
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
    ProviderConnectionException,
)
from ..parts import check_part_sizes, multipart_etag
from ..records import Body, ObjectInfo, PartInfo, UploadInfo, WriteOptions

if TYPE_CHECKING:
    from google.cloud.storage import Blob

    from .driver import GcsDriver

RESERVED_PREFIX = ".bucketbridge/"
UPLOADS_PREFIX = RESERVED_PREFIX + "uploads/"
ETAG_METADATA_KEY = "bucketbridge-etag"
KEY_METADATA_KEY = "bucketbridge-key"
MAX_COMPOSE_SOURCES = 32  # GCS's limit per compose request


def check_metadata(options: WriteOptions) -> None:
    """The etag's metadata key is the driver's: a user's value there would
    pass for the object's etag."""
    if ETAG_METADATA_KEY in options.metadata:
        raise InvalidValueException("metadata", ETAG_METADATA_KEY, "this key is reserved on GCP")


def new_upload(driver: GcsDriver, bucket: str, key: str) -> GcsUpload:
    upload = GcsUpload(driver, bucket, key, uuid.uuid4().hex)
    marker = driver.client.bucket(bucket).blob(upload.folder + "upload")
    marker.metadata = {KEY_METADATA_KEY: key}
    # The marker's name is this upload's own (a fresh uuid), so writing it
    # again is harmless: retried as every call is, max_attempts tries (the
    # SDK's own policy would go on for two minutes). If no copy was answered,
    # any of them may have stored it: it is deleted, being no one else's,
    # so that no upload is listed that its caller never received.
    try:
        with driver.mapped(bucket, key):
            marker.upload_from_string(
                b"",
                content_type="application/octet-stream",
                timeout=driver.timeout,
                retry=driver.retry(),
            )
    except ProviderConnectionException:
        with contextlib.suppress(BucketBridgeException):  # the start's error is the one to tell
            upload.abort()
        raise
    return upload


def list_uploads(driver: GcsDriver, bucket: str) -> Iterator[UploadInfo]:
    found: dict[str, tuple[str, datetime | None]] = {}
    with driver.mapped(bucket):
        for blob in driver.client.list_blobs(
            bucket, prefix=UPLOADS_PREFIX, timeout=driver.timeout, retry=driver.retry()
        ):
            upload_id = blob.name[len(UPLOADS_PREFIX) :].split("/", 1)[0]
            key = (blob.metadata or {}).get(KEY_METADATA_KEY, "")
            created = blob.time_created
            known_key, known_time = found.get(upload_id, ("", None))
            if known_time is not None and created is not None:
                created = min(created, known_time)
            found[upload_id] = (known_key or key, created or known_time)
    for upload_id, (key, initiated) in found.items():
        yield UploadInfo(key, upload_id, initiated)


class GcsUpload:
    def __init__(self, driver: GcsDriver, bucket: str, key: str, upload_id: str) -> None:
        self._driver = driver
        self._bucket = bucket
        self._key = key
        self.upload_id = upload_id
        self.folder = f"{UPLOADS_PREFIX}{upload_id}/"

    def _blob(self, name: str) -> Blob:
        return self._driver.client.bucket(self._bucket).blob(
            self.folder + name, chunk_size=self._driver.chunk_size
        )

    def _check_open(self) -> None:
        """As S3's NoSuchUpload: the marker is gone once the upload was
        aborted or completed, or its bucket deleted."""
        driver = self._driver
        with driver.mapped(self._bucket, self._key):
            if driver.wire is not None:
                marker = driver.wire.get_object(self._bucket, self.folder + "upload") is not None
            else:
                marker = self._blob("upload").exists(timeout=driver.timeout, retry=driver.retry())
        if not marker:
            raise NotFoundException(
                f"the multipart upload of object {self._key!r} in bucket {self._bucket!r}"
                " was aborted or completed"
            )

    def upload_part(self, part_number: int, body: Body) -> PartInfo:
        driver = self._driver
        self._check_open()
        if driver.wire is not None:
            with driver.mapped(self._bucket, self._key):
                resource = driver.wire.upload(
                    self._bucket,
                    f"{self.folder}part-{part_number:05d}",
                    body,
                    content_type="application/octet-stream",
                    metadata={KEY_METADATA_KEY: self._key},
                    if_generation_match=None,
                    error_key=self._key,
                )
            return PartInfo(part_number, (resource.md5Hash or b"").hex(), body.size)
        part = self._blob(f"part-{part_number:05d}")
        part.metadata = {KEY_METADATA_KEY: self._key}
        with driver.mapped(self._bucket, self._key):
            part.upload_from_file(
                body,
                size=body.size,
                content_type="application/octet-stream",
                timeout=driver.timeout,
                retry=driver.retry(),
            )
        md5 = base64.b64decode(part.md5_hash or "").hex()
        return PartInfo(part_number, md5, body.size)

    def complete(self, parts: Sequence[PartInfo], options: WriteOptions) -> ObjectInfo:
        check_part_sizes(parts)  # GCS composes parts of any size; S3 would refuse
        driver = self._driver
        # composing parts that are gone is a 500 on fake-gcs-server, not a 404
        self._check_open()
        sources = [self._blob(f"part-{part.part_number:05d}") for part in parts]
        level = 0
        while len(sources) > MAX_COMPOSE_SOURCES:
            joined = []
            for index in range(0, len(sources), MAX_COMPOSE_SOURCES):
                target = self._blob(f"join-{level}-{index // MAX_COMPOSE_SOURCES:05d}")
                self._compose(target, sources[index : index + MAX_COMPOSE_SOURCES], None)
                joined.append(target)
            sources, level = joined, level + 1
        target = driver.client.bucket(self._bucket).blob(self._key)
        target.content_type = options.content_type
        target.metadata = {
            **options.metadata,
            ETAG_METADATA_KEY: multipart_etag([part.token for part in parts]),
        }
        if options.create_only and driver.head_object(self._bucket, self._key) is not None:
            # also sent as ifGenerationMatch=0 below; this look first makes
            # the refusal hold on emulators that ignore it on compose
            raise PreconditionFailedException(
                f"object {self._key!r} already exists in bucket {self._bucket!r}"
            )
        self._compose(target, sources, 0 if options.create_only else None)
        info = _info(target)
        self.abort()
        return info

    def _compose(self, target: Blob, sources: Sequence[Blob], if_generation: int | None) -> None:
        driver = self._driver
        try:
            with driver.mapped(self._bucket, self._key):
                target.compose(
                    list(sources),
                    if_generation_match=if_generation,
                    timeout=driver.timeout,
                    retry=driver.retry(),
                )
        except NotFoundException as error:
            raise InvalidValueException(
                "parts", self.upload_id, "a part listed was never uploaded, or the upload is gone"
            ) from error

    def abort(self) -> None:
        driver = self._driver
        try:
            with driver.mapped(self._bucket, self._key):
                names = [
                    blob.name
                    for blob in driver.client.list_blobs(
                        self._bucket, prefix=self.folder, timeout=driver.timeout
                    )
                ]
        except NotFoundException:
            return  # the bucket is gone, and the parts with it
        for name in names:
            driver.delete_object(self._bucket, name)


def _info(blob: Blob) -> ObjectInfo:
    from .driver import info_of

    return info_of(blob._properties)
