"""Large objects as Swift Static Large Objects (SLO).

- **Where**: parts are segments in the container ``<bucket>_segments``
  (swiftclient's own convention), never in the bucket, so listings of the
  bucket never show them. A segment is named ``<key>/<upload id>/<part>``,
  so two uploads of one key never share segments.
- **Open uploads**: Swift has no upload object, and none is written: an
  upload is open while ``<bucket>_segments`` holds segments of its id that
  the manifest now at ``<key>`` does not name. ``incomplete_uploads()``
  lists the segments container, groups our segments (``<key>/<32 hex>/``
  then a part number or a sub-manifest name) by upload and asks each such
  key's manifest which uploads it holds (a HEAD, and a manifest GET for an
  SLO): that cost falls on the rare clean-up, not on every upload (an empty
  marker PUT at the start and its DELETE at the end, as this driver once
  did). An upload is as old as its oldest segment; one with no part yet
  has nothing to clean up and is not listed. Segments other tools wrote
  (names not of that shape) are left alone; the ``<key>/<id>/open`` markers
  of uploads started before are still found, with their segments.
- **Completion**: the manifest PUT (``?multipart-manifest=put``) carries the
  content type, the metadata and ``If-None-Match: *`` for a create-only
  upload; Swift checks each segment's etag and size against the manifest.
- **Deletion**: an SLO is deleted with ``?multipart-manifest=delete``, which
  removes its segments with it (a plain object refuses that query, so a HEAD
  says which the object is).
- **Overwriting**: a write over an SLO first reads the old manifest
  (:func:`replaced_segments`) and, once the new object is stored, deletes
  the old segments that were in ``<bucket>_segments``; segments elsewhere
  may be shared by other tools' manifests and are left alone.
- **Many parts**: a manifest holds at most the server's
  ``max_manifest_segments`` (1000 by default) where S3 allows 10,000 parts;
  above it, groups of segments become sub-manifests (nested SLOs) named
  ``<key>/<upload id>/manifest-<level>-<n>``, which a delete of the object
  removes with their segments.
- **Size**: an SLO may exceed the server's single-object ``max_file_size``
  (5 GiB by default); the test server lowers it to prove this.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ...errors import NotFoundException, PreconditionFailedException
from ..parts import check_part_sizes
from ..records import Body, ObjectInfo, PartInfo, UploadInfo, WriteOptions
from .replies import written_info

if TYPE_CHECKING:
    from .driver import SwiftDriver

SEGMENTS_SUFFIX = "_segments"
LEGACY_MARKER = "open"  # the empty object that once marked an open upload
SUB_MANIFEST = "manifest-"
LISTING_LIMIT = 10_000
_OURS = re.compile(r"^(.*)/([0-9a-f]{32})/(\d{5}|manifest-\d+-\d{5}|open)$", re.DOTALL)


def segment_container(bucket: str) -> str:
    return bucket + SEGMENTS_SUFFIX


class SloUpload:
    def __init__(self, driver: SwiftDriver, bucket: str, key: str, upload_id: str) -> None:
        self._driver = driver
        self._bucket = bucket
        self._key = key
        self.upload_id = upload_id
        self.segments = segment_container(bucket)
        self._prefix = f"{key}/{upload_id}/"

    @classmethod
    def start(cls, driver: SwiftDriver, bucket: str, key: str) -> SloUpload:
        if driver.head_bucket(bucket) is None:
            raise NotFoundException(f"bucket {bucket!r} does not exist")
        upload = cls(driver, bucket, key, uuid.uuid4().hex)
        with driver.mapped(bucket, key) as conn:
            conn.put_container(upload.segments)  # idempotent
        return upload

    def segment_name(self, part_number: int) -> str:
        """The name of part ``part_number``'s segment in ``segments``."""
        return f"{self._prefix}{part_number:05d}"

    def upload_part(self, part_number: int, body: Body) -> PartInfo:
        name = self.segment_name(part_number)
        wire = self._driver.wire()
        if wire is not None:
            reply = wire.put(self.segments, name, body, {})
            return PartInfo(part_number, reply.headers.get("etag", "").strip('"'), body.size)
        response: dict[str, object] = {}
        with self._driver.mapped(self._bucket, self._key) as conn:
            etag = conn.put_object(
                self.segments,
                name,
                contents=body,
                content_length=body.size,
                response_dict=response,
            )
        return PartInfo(part_number, str(etag).strip('"'), body.size)

    def complete(self, parts: Sequence[PartInfo], options: WriteOptions) -> ObjectInfo:
        check_part_sizes(parts)  # Swift accepts 1-byte segments; S3 does not
        return self.finish(parts, options)

    def finish(self, parts: Sequence[PartInfo], options: WriteOptions) -> ObjectInfo:
        """Write the manifest of ``parts`` (segments of any size, as a
        server-side copy of another tool's SLO has) and close the upload."""
        manifest: list[dict[str, object]] = [
            {
                "path": f"/{self.segments}/{self.segment_name(part.part_number)}",
                "etag": part.token,
                "size_bytes": part.size,
            }
            for part in parts
        ]
        manifest = self._nested(manifest, self._driver.max_manifest_segments())
        from .driver import write_headers

        replaced = (
            [] if options.create_only else replaced_segments(self._driver, self._bucket, self._key)
        )
        response: dict[str, Any] = {}
        try:
            with self._driver.mapped(self._bucket, self._key) as conn:
                conn.put_object(
                    self._bucket,
                    self._key,
                    # seekable, so swiftclient may send it again (bytes it will not)
                    contents=io.BytesIO(json.dumps(manifest).encode()),
                    content_type=options.content_type,
                    headers=write_headers(options),
                    query_string="multipart-manifest=put",
                    response_dict=response,
                )
        except PreconditionFailedException:
            # a create-only manifest sent again after its answer was lost
            # meets itself: the object is then this upload's own
            if not self._is_stored():
                raise
            response = {}  # what swiftclient kept is the refusal's answer
        self._delete(replaced)
        headers: Mapping[str, str] = response.get("headers") or {}
        if "etag" not in headers:  # only after that rare retry
            info = self._driver.head_object(self._bucket, self._key)
            if info is None:
                raise NotFoundException(
                    f"object {self._key!r} in bucket {self._bucket!r} vanished after upload"
                )
            return info
        # the manifest PUT's answer has the SLO's etag and time: no HEAD
        return written_info(self._key, sum(part.size for part in parts), headers, options)

    def _is_stored(self) -> bool:
        """Whether the object is the manifest of this upload's segments."""
        try:
            with self._driver.mapped(self._bucket, self._key) as conn:
                _, body = conn.get_object(
                    self._bucket, self._key, query_string="multipart-manifest=get"
                )
            entries = json.loads(body)
        except (NotFoundException, ValueError):
            return False
        mine = f"/{self.segments}/{self._prefix}"
        return isinstance(entries, list) and any(
            str(entry.get("name", "")).startswith(mine) for entry in entries
        )

    def _nested(self, entries: list[dict[str, object]], limit: int) -> list[dict[str, object]]:
        """Entries for a manifest of at most ``limit`` (the server's
        ``max_manifest_segments``, 1000 by default, where S3 allows 10,000
        parts): above it, groups of ``limit`` become sub-manifests beside the
        segments, as many levels as needed (Swift nests SLOs 10 deep)."""
        level = 0
        while len(entries) > limit:
            grouped: list[dict[str, object]] = []
            for start in range(0, len(entries), limit):
                name = f"{self._prefix}{SUB_MANIFEST}{level}-{start // limit:05d}"
                with self._driver.mapped(self._bucket, self._key) as conn:
                    conn.put_object(
                        self.segments,
                        name,
                        contents=io.BytesIO(json.dumps(entries[start : start + limit]).encode()),
                        query_string="multipart-manifest=put",
                    )
                # Swift checks a sub-manifest's etag and size itself when null
                grouped.append({"path": f"/{self.segments}/{name}", "etag": None})
            entries, level = grouped, level + 1
        return entries

    def abort(self) -> None:
        try:
            with self._driver.mapped(self._bucket, self._key) as conn:
                _, listing = conn.get_container(
                    self.segments, prefix=self._prefix, full_listing=True
                )
        except NotFoundException:
            return
        # an abort cut short leaves segments, so the upload stays listed
        self._delete([entry["name"] for entry in listing])

    def _delete(self, names: Sequence[str]) -> None:
        delete_segments(self._driver, self._bucket, names)


def replaced_segments(driver: SwiftDriver, bucket: str, key: str) -> list[str]:
    """The segments in ``<bucket>_segments`` of the SLO now at ``key``, to
    delete once a write has replaced it; none for a plain or absent object."""
    segments = segment_container(bucket)
    headers = driver.object_headers(bucket, key)
    if headers is None or headers.get("x-static-large-object", "").lower() != "true":
        return []
    with driver.mapped(bucket, key) as conn:
        _, body = conn.get_object(bucket, key, query_string="multipart-manifest=get")
    prefix = f"/{segments}/"
    # the manifest names segments by their plain path (not percent-encoded)
    names = [str(entry["name"]) for entry in json.loads(body)]
    return [name[len(prefix) :] for name in names if name.startswith(prefix)]


def delete_segments(driver: SwiftDriver, bucket: str, names: Sequence[str]) -> None:
    """Delete segments; a sub-manifest with the segments under it."""
    segments = segment_container(bucket)
    for name in names:
        nested = name.rpartition("/")[2].startswith(SUB_MANIFEST)
        query = "multipart-manifest=delete" if nested else None
        try:
            with driver.mapped(segments, name) as conn:
                conn.delete_object(segments, name, query_string=query)
        except NotFoundException:
            pass


def list_uploads(driver: SwiftDriver, bucket: str) -> Iterator[UploadInfo]:
    """The open uploads: our segments that no manifest at their key names."""
    started: dict[tuple[str, str], datetime] = {}
    for name, last_modified in _segment_entries(driver, bucket):
        match = _OURS.fullmatch(name)
        if match is None:
            continue  # another tool's segment
        upload = (match.group(1), match.group(2))
        when = datetime.fromisoformat(last_modified).replace(tzinfo=timezone.utc)
        started[upload] = min(when, started.get(upload, when))
    holds: dict[str, set[str]] = {}
    for key, upload_id in sorted(started):
        if key not in holds:
            holds[key] = manifest_uploads(driver, bucket, key)
        if upload_id not in holds[key]:
            yield UploadInfo(key, upload_id, started[(key, upload_id)])


def _segment_entries(driver: SwiftDriver, bucket: str) -> Iterator[tuple[str, str]]:
    """Name and time of every object in the bucket's segments container."""
    segments = segment_container(bucket)
    marker: str | None = None
    while True:
        try:
            with driver.mapped(bucket) as conn:
                _, listing = conn.get_container(segments, marker=marker, limit=LISTING_LIMIT)
        except NotFoundException:
            if driver.head_bucket(bucket) is None:
                raise
            return
        for entry in listing:
            yield str(entry["name"]), str(entry["last_modified"])
        if len(listing) < LISTING_LIMIT:
            return
        marker = listing[-1]["name"]


def manifest_uploads(driver: SwiftDriver, bucket: str, key: str) -> set[str]:
    """The upload ids whose segments the object now at ``key`` is made of:
    none for a plain or absent object (or a missing bucket)."""
    try:
        headers = driver.object_headers(bucket, key)
        if headers is None or headers.get("x-static-large-object", "").lower() != "true":
            return set()
        with driver.mapped(bucket, key) as conn:
            _, body = conn.get_object(bucket, key, query_string="multipart-manifest=get")
    except NotFoundException:
        return set()
    # a manifest names its segments (or sub-manifests) by plain path
    prefix = f"/{segment_container(bucket)}/{key}/"
    return {
        str(entry["name"])[len(prefix) :].partition("/")[0]
        for entry in json.loads(body)
        if str(entry.get("name", "")).startswith(prefix)
    }


def abort_open_uploads(driver: SwiftDriver, bucket: str) -> None:
    """Abort every open upload of a bucket just deleted (found without
    asking for the bucket); segments other tools wrote are left."""
    try:
        uploads = list(list_uploads(driver, bucket))
    except NotFoundException:
        return  # no segments container, nor bucket
    for upload in uploads:
        SloUpload(driver, bucket, upload.key, upload.upload_id).abort()
