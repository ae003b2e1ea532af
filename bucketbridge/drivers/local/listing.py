"""A LOCAL listing's records, each key's sidecar read beside the others'.

A listing reads one sidecar per key (drivers/local/state.py): an ``openat``,
``fstat``, ``read`` and ``close`` of a small file in one of 256 hashed
directories. With the inode and dentry caches warm that is a few
microseconds; cold (after the page cache was dropped or reclaimed, which
this VM does to idle memory) each is a random 4 KiB disk read, and 10,000
of them in turn took 3.2 s of a 3.4 s listing, against 0.2 s with no
sidecar read at all. The disk serves many at once: read by
:data:`READERS` threads (the system calls release the GIL), the same reads
took a fifth of the time. So a page's sidecars are read in chunks on a
pool that lives only as long as the page; a short page reads them in turn,
where starting threads would cost more than it saves.

That was the whole cost of a sidecar layout. Objects written since carry
their record on the data file (inline.py), which the walk reads by name
beside its ``stat`` (two system calls a key, no file opened); only keys
found without one -- a bucket written with sidecars, files put there by
hand -- still have their sidecars looked for, on the readers as before.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

from ..records import ObjectInfo, guess_content_type
from .inline import Packed
from .state import SidecarReader, identity

READERS = 8
"""Sidecar reads in flight at once on a long page."""
CHUNK = 128
"""Keys a reader takes at a time: few hand-offs, still many chunks a page."""
IN_TURN_BELOW = 2 * CHUNK
"""Pages shorter than this read their sidecars in the listing's thread."""


def record_of(key: str, stat: os.stat_result, version: str, sidecar: dict[str, Any]) -> ObjectInfo:
    """The record of the object file ``stat`` describes, version ``version``,
    with what its sidecar (``{}``: none) says: a listing's and a HEAD's."""
    return ObjectInfo(
        key,
        stat.st_size,
        datetime.fromtimestamp(stat.st_mtime_ns / 1e9, tz=timezone.utc),
        sidecar.get("etag"),
        sidecar.get("content_type") or guess_content_type(key),
        dict(sidecar.get("metadata") or {}),
        version,
    )


def info_of(key: str, stat: os.stat_result, packed: Packed) -> ObjectInfo:
    """``record_of`` for a record found on the file (inline.py), read from
    its fields as stored: a listing makes one a key."""
    return ObjectInfo(
        key,
        stat.st_size,
        datetime.fromtimestamp(stat.st_mtime_ns / 1e9, tz=timezone.utc),
        packed.etag,
        packed.t or guess_content_type(key),
        packed.m or {},  # a dict of its own, fresh from the decoder
        f"{stat.st_ino}-{stat.st_size}-{stat.st_mtime_ns}",  # state.identity, inlined
    )


Found = Sequence[tuple[str, os.stat_result, Packed | None]]
"""(key, stat, record found on the file, or None) of the object files a
walk found, in key order."""


def records(found: Found, sidecars: SidecarReader) -> list[ObjectInfo]:
    """The records of the files a walk found, in their order; a file
    without a record of its own is described by its sidecar, if any."""
    missing = [index for index, (_, _, record) in enumerate(found) if record is None]
    if not missing:  # every record on its file: no sidecar to look for
        return [info_of(key, stat, record) for key, stat, record in found if record is not None]
    sidecar_of: dict[int, dict[str, Any]] = {}
    if len(missing) < IN_TURN_BELOW:
        sidecar_of = dict(zip(missing, _in_turn(found, missing, sidecars), strict=True))
    else:
        chunks = [missing[start : start + CHUNK] for start in range(0, len(missing), CHUNK)]
        with ThreadPoolExecutor(READERS, thread_name_prefix="bucketbridge-sidecars") as pool:
            done = pool.map(lambda chunk: _in_turn(found, chunk, sidecars), chunks)
            for chunk, read in zip(chunks, done, strict=True):
                sidecar_of.update(zip(chunk, read, strict=True))
    return [
        record_of(key, stat, identity(stat), sidecar_of[index])
        if record is None
        else info_of(key, stat, record)
        for index, (key, stat, record) in enumerate(found)
    ]


def _in_turn(found: Found, indexes: Sequence[int], sidecars: SidecarReader) -> list[dict[str, Any]]:
    return [sidecars.read(found[i][0], identity(found[i][1])) for i in indexes]
