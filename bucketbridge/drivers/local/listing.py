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
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from datetime import datetime, timezone
from operator import attrgetter
from stat import S_ISREG
from typing import Any, Generic, TypeVar, overload

from ..records import ObjectInfo, guess_content_type
from . import inline
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
        datetime.fromtimestamp(stat.st_mtime_ns / 1e9, timezone.utc),
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
        datetime.fromtimestamp(stat.st_mtime_ns / 1e9, timezone.utc),
        packed.etag,
        packed.t or guess_content_type(key),
        packed.m or {},  # a dict of its own, fresh from the decoder
        f"{stat.st_ino}-{stat.st_size}-{stat.st_mtime_ns}",  # state.identity, inlined
    )


V = TypeVar("V")


class _Made(Generic[V]):
    """A field of a :class:`Listed` that is made, with the four others,
    when one of them is first read (``Listed._made``); from then on the
    instance's own value is found first (a non-data descriptor)."""

    def __init__(self) -> None:
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, info: None, owner: type | None = None) -> _Made[V]: ...

    @overload
    def __get__(self, info: Listed, owner: type | None = None) -> V: ...

    def __get__(self, info: Listed | None, owner: type | None = None) -> V | _Made[V]:
        if info is None:
            return self
        value: V = info._made()[self._name]
        return value


_compared = attrgetter(*(field.name for field in fields(ObjectInfo) if field.compare))


class Listed(ObjectInfo):
    """The :class:`ObjectInfo` a LOCAL listing makes of a file carrying its
    record: ``key``, ``size`` and the record's bytes as read (``_raw``,
    decoded and found written for the version the stat saw) are all it
    stores. ``last_modified``, ``etag``, ``content_type``, ``metadata`` and
    ``revision`` are made from that record when one of them is first read,
    all five at once (one dispatch, not five: a reader of every field pays
    what an eager record cost), each exactly what ``info_of`` makes of that
    stat and record, never of the file as it may be by then.

    A listing is mostly counted, filtered by key or read for sizes: a key's
    datetime, hex etag, guessed type and revision string, and its record's
    decoded fields kept, were ~1.5 of its ~3.5 CPU-us of Python, and more
    objects for the collector to scan (bytes are not scanned: the decoded
    record is dropped, and decoded again if a field is read).

    Equal to (and hashed as) the ObjectInfo of the same fields; made by
    ``ObjectInfo.__init__`` (``dataclasses.replace``) it is an eager one."""

    _raw: bytes
    """The record's attribute as the listing read it (or ``_packed``, its
    fields, where the listing decoded them from a second read)."""

    last_modified: _Made[datetime] = _Made()
    etag: _Made[str | None] = _Made()
    content_type: _Made[str | None] = _Made()
    metadata: _Made[Mapping[str, str] | None] = _Made()
    revision: _Made[str | None] = _Made()

    def _made(self) -> dict[str, Any]:
        """The instance's fields, the five made from its record added (two
        threads making them at once make equal values; either is kept)."""
        stored = self.__dict__
        record = stored.get("_packed")
        if record is None:  # bytes that decoded when listed decode again
            record = inline.decoder.decode(stored["_raw"])
        ino, size, mtime_ns = record.v
        etag = record.e
        stored.update(
            last_modified=datetime.fromtimestamp(mtime_ns / 1e9, timezone.utc),
            etag=etag.hex() if type(etag) is bytes else record.etag,
            content_type=record.t or guess_content_type(stored["key"]),
            metadata=record.m or {},  # a dict of its own, fresh from the decoder
            revision=f"{ino}-{size}-{mtime_ns}",  # state.identity of the stat it matched
        )
        return stored

    def __eq__(self, other: object) -> bool:
        # the dataclass's __eq__ takes only its own class; this one, being
        # a subclass's, is tried first from either side of an ==
        if not isinstance(other, ObjectInfo):
            return NotImplemented
        return bool(_compared(self) == _compared(other))

    __hash__ = ObjectInfo.__hash__


Missing = tuple[str, os.stat_result]
"""(key, stat) of a file a walk found without a record on it: its sidecar,
if any, describes it."""
Found = list["ObjectInfo | Missing"]
"""What a walk found, in key order: the record made from the one on the
file, or ``Missing``."""


def described(dir_fd: int, keys: list[str], names: list[str]) -> Iterator[ObjectInfo | Missing]:
    """``paths.Describe`` where objects carry their record (inline.py):
    each file's ``lstat`` and ``lgetxattr``, and its record made from them
    if the attribute was written for the version the stat saw; ``Missing``
    where there is none (a file put there by hand, a sidecar bucket's).

    One loop a run with all a key costs inlined (beside the two system
    calls this is a listing's whole per-key cost): ``inline.read_at`` (the
    name below the directory's /proc link, which is that very directory;
    the name itself not followed: a link has no user attributes) and
    ``inline.unpacked``; the record a :class:`Listed` of three fields, the
    rest made when first read. Nothing else is kept a key (no DirEntry, no
    tuple, no datetime): fewer objects for the collector to scan.
    """
    # /proc/<pid>, not /proc/self: the same directory of this process's
    # descriptors, without a symbolic link to resolve a key (~0.15 of the
    # lgetxattr's ~1.5 us); the walk runs within one listing call, in the
    # thread that made it, so a fork cannot leave it looking at another pid
    through = f"/proc/{os.getpid()}/fd/{dir_fd}/"
    lstat, getxattr, decode, attribute = os.lstat, os.getxattr, inline.decoder.decode, inline.NAME
    new = object.__new__
    for key, name in zip(keys, names, strict=True):
        try:
            stat = lstat(name, dir_fd=dir_fd)  # os.stat's, one keyword fewer to parse
        except FileNotFoundError:  # deleted while we listed
            continue
        if not S_ISREG(stat.st_mode):  # a link, a FIFO...: no object
            continue
        try:
            raw = getxattr(through + name, attribute, follow_symlinks=False)
        except OSError:  # ENODATA: no record on it
            yield key, stat
            continue
        try:
            packed: inline.Packed | None = decode(raw)
        except ValueError:  # not ours
            packed = None
        if packed is not None and packed.v == (stat.st_ino, stat.st_size, stat.st_mtime_ns):
            # a Listed of the three fields it stores (as ObjectInfo.__init__
            # stores its seven, with nothing to check: a file's size is a count)
            info = new(Listed)
            stored = info.__dict__
            stored["key"] = key
            stored["size"] = stat.st_size
            stored["_raw"] = raw
            yield info
            continue
        stat, packed = _look_again(dir_fd, name, stat)
        if packed is None:
            yield key, stat
            continue
        info = new(Listed)
        stored = info.__dict__
        stored["key"] = key
        stored["size"] = stat.st_size
        stored["_packed"] = packed
        yield info


def undescribed(dir_fd: int, keys: list[str], names: list[str]) -> Iterator[Missing]:
    """``paths.Describe`` where objects have no record on them (a
    filesystem without user xattrs): each regular file, for its sidecar."""
    for key, name in zip(keys, names, strict=True):
        try:
            stat = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:  # deleted while we listed
            continue
        if S_ISREG(stat.st_mode):
            yield key, stat


def _look_again(
    dir_fd: int, name: str, stat: os.stat_result
) -> tuple[os.stat_result, inline.Packed | None]:
    """The stat and record of ``name`` when its record named another version
    than ``stat`` (two lookups of one name: the file replaced between them,
    or edited in place by hand): both again, of one inode, through an
    O_PATH descriptor."""
    try:
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:  # deleted meanwhile: the stat stands, with no record
        return stat, None
    try:
        again = os.fstat(fd)
        if not S_ISREG(again.st_mode):
            return stat, None
        return again, inline.unpacked(inline.read_path_fd(fd), again)
    finally:
        os.close(fd)


def records(found: Found, sidecars: SidecarReader) -> list[ObjectInfo]:
    """The records of the files a walk found, in their order; a file
    without a record of its own is described by its sidecar, if any."""
    missing = [index for index, item in enumerate(found) if type(item) is tuple]
    if not missing:  # every record on its file: no sidecar to look for
        return found  # type: ignore[return-value]  # no Missing in it
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
        item
        if isinstance(item, ObjectInfo)
        else record_of(*item, identity(item[1]), sidecar_of[index])
        for index, item in enumerate(found)
    ]


def _in_turn(found: Found, indexes: Sequence[int], sidecars: SidecarReader) -> list[dict[str, Any]]:
    read = []
    for index in indexes:
        item = found[index]
        assert not isinstance(item, ObjectInfo)  # only Missing ones are looked up
        read.append(sidecars.read(item[0], identity(item[1])))
    return read
