"""The segments of a large object that was overwritten or deleted: retired,
not deleted at once.

**Why.** Whoever streams an SLO (the proxy's SLO middleware, or
:mod:`.segments` for a pinned ranged read) GETs each segment only when the
stream reaches it. Deleting an old version's segments the moment the new
manifest is written cuts off a reader that started before: its stream ends
short or fails mid-way, which no other provider does (S3, Azure and GCS
serve a GET that started to its end).

**How.** After the new manifest is written (or the old one deleted), each
old segment in ``<bucket>_segments`` gets ``X-Delete-After: grace`` (a POST:
one request a segment, as the DELETE it replaces), ``grace`` being the
``swift_segment_grace`` setting. Swift keeps the schedule, not this
process, so a program that exits right after an overwrite (a command line
copy) leaves nothing behind for good:

- on a cluster that runs the object expirer (every production deployment
  guide runs it), the segments are removed at its first pass after the
  grace (its ``interval`` is 300 s by default);
- after the grace every read of them is 404, expirer or not; where none
  runs they still take space and stay listed in ``<bucket>_segments``:
  ``abort_incomplete_uploads()`` removes them (segments no manifest
  references), and deleting the bucket removes every segment of ours.

**The guarantee.** A reader that started before an overwrite or a delete
of a large object reads the old version whole if it finishes within
``swift_segment_grace`` seconds of that overwrite or delete.

**The default, 3600 s.** A reader must finish within it, and the old bytes
are stored that long: one hour covers 5 GiB (Swift's largest single
object) read at 1.5 MiB/s and 100 GiB at 30 MiB/s, while a key
overwritten every minute keeps at most an hour's versions. ``0`` deletes
the old segments at once (swiftclient's own behaviour), for who prefers
space to readers.

Only segments in ``<bucket>_segments`` are retired: a manifest another tool
wrote may name segments elsewhere, which other manifests may share.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from ...errors import NotFoundException
from .large import segment_container

if TYPE_CHECKING:
    from .driver import SwiftDriver

MAX_DEPTH = 10  # Swift nests SLOs at most this deep
AT_ONCE = 8  # segments retired at once (a 1000-part SLO: 1000 requests)


def replaced_segments(driver: SwiftDriver, bucket: str, key: str) -> list[str]:
    """The segments in ``<bucket>_segments`` of the SLO now at ``key``, its
    sub-manifests and their segments included, to retire once a write or a
    delete has replaced it; none for a plain or absent object."""
    headers = driver.object_headers(bucket, key)
    if headers is None or headers.get("x-static-large-object", "").lower() != "true":
        return []
    return _named_by(driver, bucket, bucket, key, 0)


def _named_by(driver: SwiftDriver, bucket: str, container: str, name: str, depth: int) -> list[str]:
    try:
        with driver.mapped(container, name) as conn:
            _, body = conn.get_object(container, name, query_string="multipart-manifest=get")
    except NotFoundException:
        return []  # a sub-manifest already gone
    segments = segment_container(bucket)
    prefix = f"/{segments}/"
    names: list[str] = []
    # the manifest names segments by their plain path (not percent-encoded)
    for entry in json.loads(body):
        path = str(entry["name"])
        if not path.startswith(prefix):
            continue
        names.append(path[len(prefix) :])
        if entry.get("sub_slo") and depth < MAX_DEPTH:
            names.extend(_named_by(driver, bucket, segments, names[-1], depth + 1))
    return names


def retire_segments(driver: SwiftDriver, bucket: str, names: Sequence[str]) -> None:
    """Have Swift delete ``names`` (segments of ``<bucket>_segments``) once
    the grace is over; at once with a grace of 0."""
    if not names:
        return
    grace = driver.segment_grace
    container = segment_container(bucket)

    def retire(name: str) -> None:
        try:
            with driver.mapped(container, name) as conn:
                if grace:
                    conn.post_object(container, name, headers={"X-Delete-After": str(grace)})
                else:
                    conn.delete_object(container, name)
        except NotFoundException:
            pass  # gone already

    # the first segment first: a retirement cut short is then told from a
    # killed upload by it (large.list_uploads looks at a group's first)
    first, *rest = sorted(names)
    retire(first)
    if rest:
        with ThreadPoolExecutor(min(len(rest), AT_ONCE)) as pool:
            for _ in pool.map(retire, rest):
                pass
