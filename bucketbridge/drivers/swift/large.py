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
  of uploads started before are still found, with their segments. The
  retired segments of an overwritten or deleted object (:mod:`.retire`) are
  no upload while in their grace (their group's first segment, HEADed,
  carries ``X-Delete-At``); past it, where no expirer removed them, they
  answer 404 and are listed, so that ``abort_incomplete_uploads()`` removes
  them.
- **Starting** looks for the bucket (a HEAD) and makes the segments
  container (an idempotent PUT) once per driver and bucket: later uploads
  start with no request. A segments container deleted since is made again
  at the first segment PUT's 404; a bucket deleted since is not-found then
  (or at the manifest PUT), and no segments container is made for it.
- **Completion**: the manifest PUT (``?multipart-manifest=put``) carries the
  content type, the metadata and ``If-None-Match: *`` for a create-only
  upload; Swift checks each segment's etag and size against the manifest.
- **Overwriting and deletion**: a write over an SLO, or its delete, first
  reads the old manifest (:func:`.retire.replaced_segments`) and, once the
  new object is stored (or the manifest deleted), retires the old segments
  that were in ``<bucket>_segments`` (:mod:`.retire`): Swift deletes them
  after ``swift_segment_grace`` seconds, so a reader that started before
  reads the old version whole if it finishes within that grace; segments
  elsewhere may be shared by other tools' manifests and are left alone.
- **Many parts**: a manifest holds at most the server's
  ``max_manifest_segments`` (1000 by default) where S3 allows 10,000 parts;
  above it, groups of segments become sub-manifests (nested SLOs) named
  ``<key>/<upload id>/manifest-<level>-<n>``, which retire with their
  segments when the object is deleted.
- **Size**: an SLO may exceed the server's single-object ``max_file_size``
  (5 GiB by default); the test server lowers it to prove this.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ...errors import NotFoundException, PreconditionFailedException
from ..parts import check_part_sizes
from ..records import Body, ObjectInfo, PartInfo, UploadInfo, WriteOptions
from .listing import utc_time
from .replies import written_info

if TYPE_CHECKING:
    from .driver import SwiftDriver

SEGMENTS_SUFFIX = "_segments"
SUB_MANIFEST = "manifest-"
LISTING_LIMIT = 10_000
# a name this driver gives a segment, a sub-manifest or a legacy marker:
# <key>/<upload id>/<part number | manifest-<level>-<n> | open>
_OURS = re.compile(r"(.*)/([0-9a-f]{32})/([0-9]{5,}|manifest-[0-9]+-[0-9]{5,}|open)", re.DOTALL)


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
    def start(cls, driver: SwiftDriver, bucket: str, key: str, *, look: bool = False) -> SloUpload:
        """No request once this driver has seen the bucket and made its
        segments container (unless ``look``): a bucket deleted since is
        found by the first segment PUT (no segments container:
        :meth:`_prepare` looks again) or by the manifest PUT (the bucket's
        404), and the engine aborts."""
        upload = cls(driver, bucket, key, uuid.uuid4().hex)
        if look or bucket not in driver.segments_ready:
            upload._prepare()
        return upload

    def _prepare(self) -> None:
        """Check the bucket exists, then make its segments container: never
        one for a missing bucket."""
        if self._driver.head_bucket(self._bucket) is None:
            self._driver.segments_ready.discard(self._bucket)
            raise NotFoundException(f"bucket {self._bucket!r} does not exist")
        with self._driver.mapped(self._bucket, self._key) as conn:
            conn.put_container(self.segments)  # idempotent
        self._driver.segments_ready.add(self._bucket)

    def segment_name(self, part_number: int) -> str:
        """The name of part ``part_number``'s segment in ``segments``."""
        return f"{self._prefix}{part_number:05d}"

    def upload_part(self, part_number: int, body: Body) -> PartInfo:
        try:
            return self._put_segment(part_number, body)
        except NotFoundException:
            # the segments container went since (or its bucket: then this
            # raises the bucket's not-found): made again, the part resent
            self._prepare()
            body.seek(0)
            return self._put_segment(part_number, body)

    def _put_segment(self, part_number: int, body: Body) -> PartInfo:
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
        manifest = self._nested(manifest, self._driver.limits.manifest_segments())
        from .driver import write_headers
        from .retire import replaced_segments, retire_segments

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
        retire_segments(self._driver, self._bucket, replaced)
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
        if listing and self.upload_id in manifest_uploads(self._driver, self._bucket, self._key):
            # completed: the segments are the object's. A caller interrupted
            # while the manifest PUT answered cannot tell, and aborts
            return
        # an abort cut short leaves segments, so the upload stays listed
        self._delete([entry["name"] for entry in listing])

    def _delete(self, names: Sequence[str]) -> None:
        """Plain deletes: a sub-manifest's segments are listed beside it
        (its ``multipart-manifest=delete`` would read it first, and one past
        its X-Delete-At answers 404 and stays listed)."""
        segments = self.segments
        for name in names:
            try:
                with self._driver.mapped(segments, name) as conn:
                    conn.delete_object(segments, name)
            except NotFoundException:
                pass


def list_uploads(driver: SwiftDriver, bucket: str) -> Iterator[UploadInfo]:
    """The open uploads: our segments that no manifest at their key names,
    grouped by upload id, but for the retired segments of an overwritten or
    deleted object (:mod:`.retire`) still in their grace, told by their
    group's first segment carrying ``X-Delete-At``. Retired segments past
    their grace that no expirer removed answer 404: listed, so that
    ``abort_incomplete_uploads()`` removes them."""
    groups: dict[tuple[str, str], tuple[str, datetime]] = {}  # first name, oldest time
    for name, last_modified in _segment_entries(driver, bucket):
        match = _OURS.fullmatch(name)
        if match is None:
            continue  # another tool's segment
        upload = (match.group(1), match.group(2))
        when = utc_time(last_modified)
        first, oldest = groups.get(upload, (name, when))  # listed in name order
        groups[upload] = (first, min(oldest, when))
    holds: dict[str, set[str]] = {}
    for (key, upload_id), (first, started) in sorted(groups.items()):
        if key not in holds:
            holds[key] = manifest_uploads(driver, bucket, key)
        if upload_id not in holds[key] and not _in_grace(driver, bucket, first):
            yield UploadInfo(key, upload_id, started)


def _in_grace(driver: SwiftDriver, bucket: str, name: str) -> bool:
    """Whether segment ``name`` is retired and its grace not over."""
    headers = driver.object_headers(segment_container(bucket), name)
    return headers is not None and "x-delete-at" in headers


def _segment_entries(driver: SwiftDriver, bucket: str) -> Iterator[tuple[str, str]]:
    """Name and time of every object in the bucket's segments container."""
    segments = segment_container(bucket)
    marker: str | None = None

    def fetch(asked: int) -> list[dict[str, Any]]:
        with driver.mapped(bucket) as conn:
            _, listing = conn.get_container(segments, marker=marker, limit=asked)
        return list(listing)

    while True:
        try:
            listing, asked = driver.limits.container_listing.page(LISTING_LIMIT, fetch)
        except NotFoundException:
            if driver.head_bucket(bucket) is None:
                raise
            return
        for entry in listing:
            yield str(entry["name"]), str(entry["last_modified"])
        if len(listing) < asked:
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


def remove_our_segments(driver: SwiftDriver, bucket: str) -> None:
    """Delete every segment of ours in the container of a bucket just
    deleted: open uploads' and killed uploads' parts, and retired segments
    whose grace is not over (no manifest of the bucket is left to read
    them). Segments other tools wrote are left."""
    segments = segment_container(bucket)
    try:
        with driver.mapped(segments) as conn:
            _, listing = conn.get_container(segments, full_listing=True)
    except NotFoundException:
        return
    names = [str(entry["name"]) for entry in listing]
    # markers last: a removal cut short still lists its uploads
    ours = sorted((n for n in names if _OURS.fullmatch(n)), key=lambda n: n.endswith("/open"))
    for name in ours:
        try:
            with driver.mapped(segments, name) as conn:
                conn.delete_object(segments, name)  # a sub-manifest's segments are listed too
        except NotFoundException:
            pass
