"""Server-side copies: a PUT with ``X-Copy-From`` (Swift's copy middleware).

What the real Swift (2.38, tests/servers/swift.py) does with a copy, tried:

- The middleware sends *every* header of the copy request on to its GET of
  the source. ``If-Match: <etag>`` is checked against the source (412 when it
  holds other bytes) and not against the destination; but ``If-None-Match: *``
  is checked against the source too, which exists, so a create-only copy
  always answers 304. A create-only copy is therefore staged as a multipart
  upload is: the bytes are copied into an upload's segments in
  ``<bucket>_segments``, and the destination is written as an SLO manifest
  with ``If-None-Match: *``. (Its etag is then the SLO's, not the source's;
  ``sync`` records the source's etag beside it.)
- Pinning: the revision is the ``X-Timestamp``, which no copy header can be
  conditioned on, so ``If-Match`` carries the etag of that revision (as the
  core looked it up just before). A source replaced by other bytes is
  refused. What remains: a source up to ``PLAIN_COPY_MAX`` rewritten
  between that look and the copy with the very same bytes is copied -- the
  same bytes, and the copy's type and metadata are the options', so the
  result is the pinned revision's copy all the same.
- Metadata: ``X-Fresh-Metadata: true`` replaces the source's with the
  options' (else Swift merges them).
- Plain or SLO: the looked-up info does not say. Up to ``PLAIN_COPY_MAX``
  the copy is one request whatever it is (no HEAD); a larger source is
  looked at first, its X-Timestamp must be the revision, and an SLO is
  copied as below. (A copy ``?multipart-manifest=get`` that would tell an
  SLO by refusing it answers 500 "Unable to load SLO manifest" on 2.38.)
- SLO: a plain copy of a manifest concatenates its segments into one object
  (refused above ``max_file_size``), and copying the manifest itself
  (``multipart-manifest=get``) would share segments that a delete of the
  source removes. So each segment is copied (pinned by its own etag; a
  ranged entry with ``Range``) into an upload's segments, and a new manifest
  is written. The manifest read must be the pinned revision. A failure
  aborts the upload (its segments and marker go); a killed copy leaves its
  marker, so ``incomplete_uploads()`` finds what it wrote.
- DLO (``X-Object-Manifest``): a plain copy concatenates it too, refused
  above ``max_file_size``; so a large one is copied as an SLO is, its
  segments being the objects its prefix lists (and the copy an SLO).

A copy of a segment large as ``max_file_size`` (5 GiB) is one request,
which a plain copy answers only when the server has copied it. The lean
plane sends it with ``?heartbeat=on`` (:mod:`.heartbeat`): the proxy answers
at once and sends a space every 10 s until the outcome, so ``read_timeout``
bounds the silence, not the copy. The SDK plane (swiftclient drops the body
that outcome is in) copies plainly: its ``read_timeout`` must allow for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ...config import DEFAULT_MAX_CONCURRENCY
from ...errors import NotFoundException, PreconditionFailedException
from ..parts import MIN_PART_SIZE
from ..records import Body, ObjectInfo, PartInfo, WriteOptions
from . import metadata
from .large import SloUpload
from .replies import written_info
from .retire import replaced_segments, retire_segments

if TYPE_CHECKING:
    from .driver import SwiftDriver

# Up to this size a copy is one request pinned by the looked-up etag, with
# no HEAD: an upload's parts are 5 MiB at least, so only another tool's SLO
# is this small, and Swift copies it concatenated (the same bytes, a plain
# object). A larger source is looked at first (one round trip beside copying
# this much): an SLO is copied segment by segment, several at once, and one
# over max_file_size could not be copied whole.
PLAIN_COPY_MAX = MIN_PART_SIZE
# segments copied at once, as many as an upload sends parts (on the loaded test
# server 4 at once copied a 48 MiB SLO at 0.65-0.7x the streamed copy's speed, 8 at 0.6-0.97x)
SEGMENT_COPIES = DEFAULT_MAX_CONCURRENCY
# The etag of no bytes. An object of some bytes that states it is a DLO of
# more segments than a listing page: Swift cannot join their etags, and
# states the manifest's own (and refuses to COPY it: 413).
UNJOINED_ETAG = hashlib.md5(b"", usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Piece:
    """A stretch of the source to copy into one segment of the copy."""

    container: str
    name: str
    etag: str
    range: str | None  # "first-last" of the object at ``name``, None for all of it
    size: int


def copy_object(
    driver: SwiftDriver,
    source_bucket: str,
    source: ObjectInfo,
    bucket: str,
    key: str,
    options: WriteOptions,
) -> ObjectInfo:
    """``source`` as the core looked it up (revision None: whatever is there)."""
    if options.create_only and driver.object_headers(bucket, key) is not None:
        # refused before copying anything (the manifest's If-None-Match decides)
        raise PreconditionFailedException(f"object {key!r} already exists in bucket {bucket!r}")
    if (
        source.revision is None
        or source.etag is None
        or source.size > PLAIN_COPY_MAX
        or (source.size and source.etag == UNJOINED_ETAG)
    ):
        return _copy_looked_up(driver, source_bucket, source, bucket, key, options)
    return _copy_plain(
        driver, source_bucket, source.key, source.etag, source.size, bucket, key, options
    )


def _copy_looked_up(
    driver: SwiftDriver,
    source_bucket: str,
    source: ObjectInfo,
    bucket: str,
    key: str,
    options: WriteOptions,
) -> ObjectInfo:
    """The copy of a large source (or of whatever is there): a HEAD tells
    an SLO, copied segment by segment, from a plain object."""
    headers = driver.object_headers(source_bucket, source.key)
    if headers is None:
        raise NotFoundException(f"object {source.key!r} not found in bucket {source_bucket!r}")
    revision = source.revision or headers.get("x-timestamp")
    if headers.get("x-timestamp") != revision:
        raise _replaced(source_bucket, source.key)
    if _is_slo(headers):
        pieces = _slo_pieces(driver, source_bucket, source.key, revision)
        return _staged(driver, pieces, bucket, key, options)
    etag = (headers.get("etag") or "").strip('"')
    if headers.get("x-object-manifest"):
        # the etag looked up pins it: the manifest's timestamp does not
        # change when its segments do
        manifest = headers["x-object-manifest"]
        pinned = (source.etag or etag).strip('"')
        pieces = _dlo_pieces(driver, source_bucket, source.key, manifest, pinned)
        if not pieces:  # every segment empty, or none left
            return driver.put_object(bucket, key, Body.of_bytes(b""), options)
        return _staged(driver, pieces, bucket, key, options)
    size = int(headers["content-length"])
    return _copy_plain(driver, source_bucket, source.key, etag, size, bucket, key, options)


def _copy_plain(
    driver: SwiftDriver,
    source_bucket: str,
    source_key: str,
    etag: str,
    size: int,
    bucket: str,
    key: str,
    options: WriteOptions,
) -> ObjectInfo:
    """The source in one copy request, pinned by ``etag`` (a small SLO is
    concatenated by Swift: the same bytes, in a plain object)."""
    if not options.create_only:
        return _copy_whole(driver, (source_bucket, source_key), etag, size, bucket, key, options)
    if size == 0:  # nothing to copy, nor to stage
        return driver.put_object(bucket, key, Body.of_bytes(b""), options)
    return _staged(
        driver, [Piece(source_bucket, source_key, etag, None, size)], bucket, key, options
    )


def _copy_whole(
    driver: SwiftDriver,
    source: tuple[str, str],
    etag: str,
    size: int,
    bucket: str,
    key: str,
    options: WriteOptions,
) -> ObjectInfo:
    """One copy of a plain object, over whatever stands at ``key``."""
    replaced = replaced_segments(driver, bucket, key)  # an SLO there: its segments retire
    headers = {
        "x-fresh-metadata": "true",
        "content-type": options.content_type,
        **{name.lower(): value for name, value in metadata.to_headers(options.metadata).items()},
    }
    try:
        answer = _copy(driver, source, (bucket, key), etag, headers)
    except PreconditionFailedException as error:
        raise _replaced(*source) from error
    retire_segments(driver, bucket, replaced)
    return written_info(key, size, answer, options)


def _staged(
    driver: SwiftDriver, pieces: Sequence[Piece], bucket: str, key: str, options: WriteOptions
) -> ObjectInfo:
    """Copy ``pieces`` into an upload's segments, then write its manifest."""
    # looks first: a copy's 404 on a segment means its source changed
    upload = SloUpload.start(driver, bucket, key, look=True)
    try:
        parts = _copy_pieces(driver, upload, pieces)
        return upload.finish(parts, options)
    except BaseException:
        upload.abort()
        raise


def _copy_pieces(driver: SwiftDriver, upload: SloUpload, pieces: Sequence[Piece]) -> list[PartInfo]:
    def copy_one(number: int, piece: Piece) -> PartInfo:
        headers = {} if piece.range is None else {"range": f"bytes={piece.range}"}
        destination = (upload.segments, upload.segment_name(number))
        try:
            answer = _copy(driver, (piece.container, piece.name), destination, piece.etag, headers)
        except (PreconditionFailedException, NotFoundException) as error:
            # a segment replaced or removed: the source was overwritten or deleted
            raise _replaced(piece.container, piece.name) from error
        return PartInfo(number, (answer.get("etag") or "").strip('"'), piece.size)

    if len(pieces) == 1:
        return [copy_one(1, pieces[0])]
    workers = min(SEGMENT_COPIES, len(pieces))
    with ThreadPoolExecutor(workers, thread_name_prefix="bb-swift-copy") as pool:
        futures = [pool.submit(copy_one, n, piece) for n, piece in enumerate(pieces, start=1)]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:  # the running ones finish before the abort
                future.cancel()
            raise


def _copy(
    driver: SwiftDriver,
    source: tuple[str, str],
    destination: tuple[str, str],
    etag: str,
    headers: dict[str, str],
) -> Mapping[str, str]:
    """A PUT with ``X-Copy-From``, the source pinned to ``etag``; the answer's
    headers."""
    sent = {**headers, "x-copy-from": quote(f"/{source[0]}/{source[1]}"), "if-match": etag}
    wire = driver.wire()
    if wire is not None:
        return wire.copy(*destination, sent).headers
    # swiftclient's put_object drops the body a heartbeat's outcome is in:
    # the SDK plane copies plainly, its timeout bounding the copy
    response: dict[str, Any] = {}
    with driver.mapped(*destination) as conn:
        conn.put_object(
            *destination, contents=b"", content_length=0, headers=sent, response_dict=response
        )
    answer: Mapping[str, str] = response.get("headers") or {}
    return answer


def _slo_pieces(driver: SwiftDriver, bucket: str, key: str, revision: str | None) -> list[Piece]:
    """The segments of the SLO at ``key``, read from its manifest, which must
    be ``revision``."""
    headers, entries = _manifest(driver, bucket, key)
    if revision is not None and headers.get("x-timestamp") != revision:
        raise _replaced(bucket, key)
    return _flatten(driver, entries)


def dlo_segments(driver: SwiftDriver, bucket: str, key: str, manifest: str) -> list[dict[str, Any]]:
    """The listing of the DLO segments ``manifest`` (its
    ``X-Object-Manifest``, ``container/prefix``) names, in the order Swift
    joins them, every page of it."""
    container, _, prefix = manifest.partition("/")
    with driver.mapped(bucket, key) as conn:
        _, listing = conn.get_container(container, prefix=prefix, full_listing=True)
    return list(listing)


def dlo_size(driver: SwiftDriver, bucket: str, key: str, manifest: str) -> int:
    """The size of the DLO at ``key``: its segments' sum, as Swift counts it
    where it states one."""
    return sum(int(entry["bytes"]) for entry in dlo_segments(driver, bucket, key, manifest))


def _dlo_pieces(
    driver: SwiftDriver, bucket: str, key: str, manifest: str, etag: str
) -> list[Piece]:
    """The segments of the DLO at ``key``: the objects under the prefix its
    ``X-Object-Manifest`` names (``container/prefix``), in listing order, as
    Swift concatenates them. Pinned: Swift's DLO etag is the MD5 of the
    segments' etags, so the listing must make the one looked up, and each
    segment is copied with ``If-Match`` its listed etag."""
    container = manifest.partition("/")[0]
    listing = dlo_segments(driver, bucket, key, manifest)
    digest = hashlib.md5(usedforsecurity=False)
    for entry in listing:
        digest.update(str(entry["hash"]).strip('"').encode())
    # a DLO Swift states no etag of its own for is pinned only by each
    # segment's listed etag: the copy is of the segments as listed now
    unjoined = etag == UNJOINED_ETAG and listing
    if digest.hexdigest() != etag and not unjoined:
        raise _replaced(bucket, key)
    return [
        Piece(container, str(entry["name"]), str(entry["hash"]).strip('"'), None, entry["bytes"])
        for entry in listing
        if entry["bytes"]  # an SLO refuses an empty segment; it adds no bytes
    ]


def _manifest(
    driver: SwiftDriver, container: str, name: str
) -> tuple[Mapping[str, str], list[dict[str, Any]]]:
    try:
        with driver.mapped(container, name) as conn:
            headers, body = conn.get_object(container, name, query_string="multipart-manifest=get")
    except NotFoundException as error:
        raise _replaced(container, name) from error
    entries: list[dict[str, Any]] = json.loads(body)
    return headers, entries


def _flatten(driver: SwiftDriver, entries: list[dict[str, Any]]) -> list[Piece]:
    pieces: list[Piece] = []
    for entry in entries:
        container, _, name = str(entry["name"]).lstrip("/").partition("/")
        etag = str(entry["hash"]).strip('"')
        if entry.get("sub_slo"):
            _, children = _manifest(driver, container, name)
            # the sub-manifest read now must be the one its parent names
            if _slo_etag(children) != etag:
                raise _replaced(container, name)
            pieces += _flatten(driver, children)
            continue
        stretch = entry.get("range")
        size = int(entry["bytes"])
        if stretch:
            first, _, last = str(stretch).partition("-")
            size = int(last) - int(first) + 1  # Swift stores a range as "first-last"
        pieces.append(Piece(container, name, etag, str(stretch) if stretch else None, size))
    return pieces


def _slo_etag(entries: list[dict[str, Any]]) -> str:
    """An SLO's etag as Swift computes it from its manifest's entries."""
    digest = hashlib.md5(usedforsecurity=False)
    for entry in entries:
        etag = str(entry["hash"]).strip('"')
        stretch = entry.get("range")
        digest.update((f"{etag}:{stretch};" if stretch else etag).encode())
    return digest.hexdigest()


def _is_slo(headers: Mapping[str, str]) -> bool:
    return headers.get("x-static-large-object", "").lower() == "true"


def _replaced(bucket: str, key: str) -> PreconditionFailedException:
    return PreconditionFailedException(
        f"object {key!r} in bucket {bucket!r} was replaced since it was looked up"
    )
