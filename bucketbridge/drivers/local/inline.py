"""An object's record kept on its own file, in one extended attribute.

Why not a sidecar file (state.py) any more: a sidecar is a second inode an
object, and the kernel allocating and freeing two inodes per object was
40-54% of the CPU of 2,000 small uploads (perf; 0.16x obstore); a listing
read it with four system calls a key (``openat``, ``fstat``, ``read``,
``close``: 0.11x obstore on 10,000 keys). Kept as the ``user.bucketbridge``
attribute of the data file itself instead:

- **one inode an object**: the attribute is set on the unnamed file before
  ``linkat``/``rename`` publishes it, so no version is ever visible without
  its record, nor a record without its version; a crash leaves nothing
  (the unnamed file goes with its record), a delete is one ``unlink``, and
  no record can outlive its version (the stale sidecars of issue-13's race
  cannot happen: there is nothing left to remove);
- **a listing reads it by name** with one ``lgetxattr`` beside the ``stat``
  it already made (two calls a key, no file opened); reads and HEADs read
  it from the descriptor they hold (``fgetxattr``), the very inode whose
  bytes they serve;
- **small**: msgpack with one-letter fields, the etag as 16 raw bytes and
  the content type left out when it is the one guessed from the key. ext4
  keeps a value of up to ~60 bytes with this name inside the inode (256-byte
  inodes, measured here: 72 bytes spilled with a two-letter name), so the
  common record costs no block at all; tmpfs (Linux >= 6.6) and overlayfs
  over them take it too.

The record carries the identity (inode, size, mtime) of the version it was
written for. A listing's ``stat`` and ``lgetxattr`` are two lookups of one
name, which a replacement may fall between; a file edited in place by hand
keeps its inode and attribute. Either way the identities differ and the
record is not used for that stat (the caller looks again, or treats the
file as one put there by hand), as a sidecar of another version never was.

Where the attribute is refused -- a filesystem without user xattrs
(:func:`probe` says so once, when the driver starts), or one record too
large for it (ext4: ENOSPC above a block) -- the object gets a sidecar as
before; readers look for the attribute first and then for a sidecar, so
buckets written with sidecars read, list and overwrite as they did.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Mapping
from typing import Any

import msgspec

from ..records import guess_content_type
from . import beneath

NAME = "user.bucketbridge"
_REFUSED = (errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSPC, errno.E2BIG, errno.EPERM, errno.EACCES)
_encoder = msgspec.msgpack.Encoder()


class Packed(msgspec.Struct, gc=False):
    """The attribute's fields, decoded straight into slots: a listing
    decodes one a key, and a typed decode with no dict in between was a
    third of what a plain one cost (the fields are ``encode``'s).

    ``gc=False``: its fields (ints, bytes, strings, a dict of strings) can
    hold no cycle, so the collector need not track it, nor count the one a
    listing decodes a key toward its next collection."""

    v: tuple[int, int, int]
    """The identity (inode, size, mtime in ns) of the version it describes."""
    e: Any = None
    """The etag: 16 raw bytes for an MD5's hex, else as it was, None: not
    computed (msgspec takes no union of bytes and str: checked on use)."""
    t: str | None = None
    """The content type, left out when it is the one guessed from the key."""
    m: dict[str, str] | None = None
    p: int | None = None
    """The part size the etag is computed with (put_file), None: one part."""

    @property
    def etag(self) -> str | None:
        etag = self.e
        if isinstance(etag, bytes):
            return etag.hex()
        return etag if isinstance(etag, str) else None


decoder = msgspec.msgpack.Decoder(Packed)


def identity_of(stat: os.stat_result) -> tuple[int, int, int]:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def encode(key: str, stat: os.stat_result, record: Mapping[str, Any]) -> bytes:
    """The attribute's bytes for ``record`` (a sidecar's fields) of the
    version ``stat`` describes. The etag is always there (None: not yet
    computed), so a record is never an empty map."""
    return encode_fields(
        key,
        stat,
        stored_etag(record.get("etag")),
        record.get("content_type"),
        record.get("metadata"),
        record.get("etag_part_size"),
    )


def stored_etag(etag: str | None) -> bytes | str | None:
    """An etag as ``encode_fields`` takes it: an MD5's hex as its 16 bytes."""
    if isinstance(etag, str) and len(etag) == 32:
        try:
            return bytes.fromhex(etag)
        except ValueError:
            pass
    return etag


def encode_fields(
    key: str,
    stat: os.stat_result,
    etag: bytes | str | None,
    content_type: str | None,
    metadata: Mapping[str, str] | None,
    etag_part_size: int | None,
) -> bytes:
    """``encode`` from the fields themselves (a write's: no record dict made
    to be taken apart again), ``etag`` as stored: an MD5's 16 raw bytes, or
    any other etag as text, None: not computed."""
    packed: dict[str, Any] = {"v": identity_of(stat), "e": etag}
    if content_type and content_type != guess_content_type(key):
        packed["t"] = content_type
    if metadata:
        packed["m"] = dict(metadata)
    if etag_part_size is not None:
        packed["p"] = etag_part_size
    return _encoder.encode(packed)


def decode(raw: bytes | None, stat: os.stat_result) -> dict[str, Any] | None:
    """The record (a sidecar's fields) in ``raw`` if it was written for the
    version ``stat`` describes, else None: none, another version's, a file
    edited in place since, or bytes that are not ours."""
    packed = unpacked(raw, stat)
    if packed is None:
        return None
    return {
        "etag": packed.etag,
        "content_type": packed.t,
        "metadata": packed.m or {},
        "etag_part_size": packed.p,
    }


def unpacked(raw: bytes | None, stat: os.stat_result) -> Packed | None:
    """``decode``'s fields as they are stored (a listing's: no dict)."""
    if raw is None:
        return None
    try:
        packed = decoder.decode(raw)
    except ValueError:  # msgspec.DecodeError (and ValidationError) is a ValueError
        return None
    if packed.v != (stat.st_ino, stat.st_size, stat.st_mtime_ns):
        return None
    return packed


def version_of(raw: bytes | None) -> str | None:
    """The version (``state.identity``'s form) a record was written for, or None."""
    if raw is None:
        return None
    try:
        ino, size, mtime_ns = decoder.decode(raw).v
    except ValueError:
        return None
    return f"{ino}-{size}-{mtime_ns}"


def read_fd(fd: int) -> bytes | None:
    """The attribute of the open file ``fd`` (not an O_PATH one), or None."""
    try:
        return os.getxattr(fd, NAME)
    except OSError:  # ENODATA: none; ENOTSUP: none here
        return None


def read_path_fd(fd: int) -> bytes | None:
    """The attribute of the file an ``O_PATH`` descriptor holds (which
    ``fgetxattr`` refuses): through its /proc link, which names that very
    inode, never a path looked up again."""
    try:
        return os.getxattr(f"/proc/self/fd/{fd}", NAME)
    except OSError:
        return None


def read_at(dir_fd: int, name: str) -> bytes | None:
    """The attribute of the entry ``name`` in the directory ``dir_fd``, one
    ``lgetxattr``: the directory is reached through its /proc link (that
    very directory), and ``name`` itself is not followed (a link has no
    user attributes: ENODATA)."""
    try:
        return os.getxattr(f"/proc/self/fd/{dir_fd}/{name}", NAME, follow_symlinks=False)
    except OSError:
        return None


def store(fd: int, data: bytes, *, held: bool = False) -> bool:
    """Set the attribute of the open file ``fd``; False where it is refused
    (the caller writes a sidecar instead). ``held``: the GIL kept through
    the call (beneath.holds_gil)."""
    try:
        beneath.set_attribute(fd, NAME, data, held=held)
    except OSError as error:
        if error.errno in _REFUSED:
            return False
        raise
    return True


def probe(dir_fd: int) -> bool:
    """Whether files made in ``dir_fd`` (the state dir's tmp, on the root's
    filesystem) take the attribute, and it reads back through /proc."""
    if not hasattr(os, "setxattr") or not os.path.isdir("/proc/self/fd"):
        return False
    name = f"xattr-probe-{secrets.token_hex(8)}.part"  # swept with the tmp dir's leftovers
    try:
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        return store(fd, b"probe") and read_at(dir_fd, name) == b"probe"
    except OSError:
        return False
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dir_fd)
