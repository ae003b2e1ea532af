"""The LOCAL provider: buckets are directories, objects are files.

Layout under the root::

    <bucket>/<key>                      the object's bytes, at the path its key names, and
                                        its record (etag, content type, metadata) in the
                                        file's ``user.bucketbridge`` xattr (inline.py)
    .bucketbridge/meta/<bucket>/...     sidecars: the records of objects written where
                                        xattrs are refused, or before they were used (state.py)
    .bucketbridge/tmp/                  files being written, on the same filesystem
    .bucketbridge/uploads/<id>/         parts of multipart uploads in progress
    .bucketbridge/locks/<bucket>.lock   serialises replacing and deleting, across processes
    .bucketbridge/signing.key           the HMAC key of this root's signed URLs

Bucket names cannot start with a dot, so ``.bucketbridge`` never shows as a
bucket. Every write goes to a temporary file whose record is set on it (or,
where xattrs are refused, written as its sidecar) before the file is
published: a reader sees the old object or the whole new one, never an
object without its record. On Linux (beneath.py) the file is an unnamed
``O_TMPFILE`` one -- a crashed writer leaves nothing -- and a new key is
published with one ``linkat``, without the lock (it replaces nothing; an
existing key fails it). An object with its record on its file is replaced
without the lock too: one swap (``renameat2``), with no sidecar to remove
after it unless one slipped in (``_replace_lock_free``). Replacing an
object with a sidecar, a create-only write that finds one, and systems
without ``O_TMPFILE``/``openat2`` name the file in the tmp dir and
``os.replace`` (or ``os.link``) it into place under the bucket's lock,
which then removes the replaced version's sidecar; a crashed writer
leaves only that temporary file, swept a day later. Readers take no lock
for an object with a record (``_open_described_fast``); the layout on disk
is the same either way.

Symbolic links are never followed below the root: nothing outside it is
ever read, written, listed or deleted through one. (The root itself may be
a link: that is the user's own configuration.) The root is opened once, and
every path below it is resolved one directory at a time with
``openat(O_NOFOLLOW | O_DIRECTORY)`` from the directory before it; files are
opened with ``O_NOFOLLOW``, published with ``renameat``/``linkat`` into the
directory so opened, and parents made with ``mkdirat``. Checking a resolved
path and then using it would leave a window in which a link could be swapped
in; a descriptor cannot be redirected once it is open. A link anywhere in a
bucket is treated as absent:

- reads (``head``, ``get``, downloads, signed GETs) find no object: NotFound;
- listings skip it, and do not descend into a link to a directory;
- ``delete`` of a key that is, or lies under, a link deletes nothing, and
  leaves the link: it is not an object;
- a write whose key is a link, or lies under one, is refused with
  InvalidNameException naming the key and the link, and changes nothing.
  Replacing the link instead would silently destroy something that someone
  put there on purpose (or reveal an attack only by its absence), and could
  not be done in one atomic step for a directory anyway. (Should a link
  appear at the key itself between the check and the rename, the locked
  rename replaces the link, never what it points at; the lock-free swap
  puts it back and refuses.)
- a bucket whose directory is a link does not exist, and cannot be created;
  a bucket that holds only links is empty, and deleting it removes the links
  themselves, never what they point at.

The state directory (``.bucketbridge`` and its subdirectories) is opened
once, when the driver starts; if any of it is a link the root is refused
(InvalidConfigurationException), and a link swapped in later is not seen.

POSIX only (``fcntl``, ``os.pread``, ``copy_file_range``, ``*at`` calls).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import json
import os
import re
import stat as stat_module
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, BinaryIO

import platformdirs

from ...config import Setting, Settings
from ...errors import (
    BucketNotEmptyException,
    DuplicateResourceException,
    InvalidConfigurationException,
    InvalidNameException,
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
)
from ...urlservice import SignedUrlService
from ...urlsigning import load_or_create_key
from ..base import Driver
from ..paging import page_of_names
from ..parts import check_part_sizes, multipart_etag
from ..records import (
    Body,
    BucketInfo,
    DirectoryPage,
    ObjectInfo,
    ObjectStream,
    Page,
    PartInfo,
    ProgressCallback,
    ReadOptions,
    UploadInfo,
    UrlRequest,
    WriteOptions,
    guess_content_type,
)
from . import beneath, inline
from .listing import Missing, described, info_of, record_of, records, undescribed
from .paths import (
    ABSENT,
    DIR_FLAGS,
    MAX_SEGMENT_BYTES,
    STATE_DIR,
    Describe,
    DirChain,
    SymlinkInTree,
    check_bucket_dir_name,
    holds_a_file,
    is_file,
    is_link_at,
    key_segments,
    level_sorted,
    lstat_at,
    make_dir,
    open_dir,
    open_file,
    remove_links_and_empty_dirs,
    remove_tree,
    reopen_dir,
    walk_sorted,
)
from .state import SidecarStore, TempFile, exclusive_lock, identity, sweep, write_all

# ELOOP, ENOENT, ENOTDIR from openat2 on a key's path: no object there (a
# link is none either), if the bucket itself is a directory
_NO_OBJECT = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)

COPY_CHUNK = 64 * 1024 * 1024
READ_CHUNK = 1024 * 1024
STALE_TEMP_SECONDS = 24 * 3600
STALE_UPLOAD_SECONDS = 7 * 24 * 3600
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_PART_TOKEN = re.compile(r"[0-9a-f]{32}")
UPLOAD_RECORD = "upload.json"


SETTINGS = (Setting("local_root", str), Setting("local_server_url", str))


def create_driver(settings: Settings) -> LocalDriver:
    root = settings["local_root"] or platformdirs.user_data_dir("bucketbridge")
    root = os.path.abspath(os.path.expanduser(str(root)))
    try:
        return LocalDriver(root, server_url=settings["local_server_url"])
    except (OSError, ValueError) as error:
        raise InvalidConfigurationException(
            f"local_root {root!r} cannot hold a bucketbridge store: {error}"
        ) from error


# The factory loads drivers by name; this line has mypy compare the driver
# with the Driver protocol.
_checked: Callable[[Settings], Driver] = create_driver


def _not_found(bucket: str, key: str) -> NotFoundException:
    return NotFoundException(f"object {key!r} not found in bucket {bucket!r}")


def _link_refused(bucket: str, key: str, link: str) -> InvalidNameException:
    return InvalidNameException(
        f"object name {key!r}: {link!r} in bucket {bucket!r} is a symbolic link; the local"
        " provider never writes through links"
    )


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


class LocalDriver:
    provider_id = "local"
    refuses_non_empty_bucket_delete = True
    # Each page walks the bucket's directories again up to its marker: ten
    # pages of 1000 scanned a 10,000-file directory ten times (PagesWidely).
    list_page_size = 10_000

    def __init__(self, root: str, *, server_url: str | None = None) -> None:
        self.root = root
        os.makedirs(root, exist_ok=True)
        # Descriptors held for the driver's life (closed when it is collected,
        # not by close(): a closed number could be reused by another open).
        fds: list[int] = []
        weakref.finalize(self, _close_all, fds)
        fds.append(os.open(root, DIR_FLAGS & ~os.O_NOFOLLOW))  # the root may be a link
        fds.append(make_dir(fds[0], STATE_DIR))
        for name in ("tmp", "uploads", "locks", "meta"):
            fds.append(make_dir(fds[1], name))
        self._root_fd, state, self._tmp_fd, self._uploads_fd, self._locks_fd, meta_fd = fds
        sweep(self._tmp_fd, STALE_TEMP_SECONDS)
        sweep(self._uploads_fd, STALE_UPLOAD_SECONDS)
        # openat2 and O_TMPFILE, where the kernel allows them (beneath.py):
        # the common reads and writes in a few system calls instead of ~30
        self._fast = beneath.probe(self._tmp_fd)
        # a small put's calls keep the GIL on a filesystem in memory, where
        # none waits (beneath.holds_gil): on a thread pool, each call let go
        # hands the GIL to another thread and waits for it back
        self._held = self._fast and beneath.holds_gil(self._tmp_fd)
        self._sidecars = SidecarStore(meta_fd, self._tmp_fd, fast=self._fast)
        # records on the data files themselves (inline.py), where the
        # filesystem takes user xattrs; sidecars where it does not
        self._inline = inline.probe(self._tmp_fd)
        self.signer = SignedUrlService(
            load_or_create_key("signing.key", dir_fd=state), server_url, self
        )

    def __repr__(self) -> str:
        return f"<LocalDriver root={self.root!r}>"

    def close(self) -> None:
        self.signer.close()

    # -- paths -------------------------------------------------------------

    @contextlib.contextmanager
    def _opened_bucket(self, bucket: str) -> Iterator[int]:
        """A new descriptor of the bucket's directory; NotFound if it is
        missing or a link."""
        check_bucket_dir_name(bucket)
        try:
            fd = open_dir(self._root_fd, bucket)
        except ABSENT as error:
            raise NotFoundException(f"bucket {bucket!r} does not exist") from error
        try:
            yield fd
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _key_dir(self, bucket: str, key: str) -> Iterator[tuple[int, str]]:
        """The directory that holds ``key``'s file, and the file's name in it.
        Raises NotFound for the bucket, one of ABSENT for the key's path."""
        *directories, name = key_segments(key)
        with self._opened_bucket(bucket) as bucket_fd, DirChain(bucket_fd, directories) as chain:
            yield chain.fd, name

    def _check_object(self, bucket: str, key: str) -> None:
        """Refuse a bad key or a missing bucket now, not after reading a body."""
        key_segments(key)
        # One lstat, not an open and a close: the publish opens the bucket
        # itself (never through a link), this only refuses early.
        check_bucket_dir_name(bucket)
        stat = lstat_at(self._root_fd, bucket)
        if stat is None or not stat_module.S_ISDIR(stat.st_mode):
            raise NotFoundException(f"bucket {bucket!r} does not exist")

    def _bucket_lock(self, bucket: str, *, shared: bool = False) -> Any:
        check_bucket_dir_name(bucket)
        return exclusive_lock(self._locks_fd, f"{bucket}.lock", shared=shared)

    # -- buckets -----------------------------------------------------------

    def create_bucket(self, name: str, location: str | None) -> BucketInfo:
        check_bucket_dir_name(name)
        try:
            os.mkdir(name, dir_fd=self._root_fd)
        except FileExistsError as error:
            if is_link_at(self._root_fd, name):
                raise InvalidNameException(
                    f"bucket name {name!r}: {os.path.join(self.root, name)!r} is a symbolic link,"
                    " which the local provider never follows"
                ) from error
            raise DuplicateResourceException(f"bucket {name!r} already exists") from error
        return BucketInfo(name)

    def delete_bucket(self, name: str) -> None:
        # Under the lock no object can be published meanwhile.
        with self._opened_bucket(name) as bucket_fd, self._bucket_lock(name):
            try:
                remove_links_and_empty_dirs(bucket_fd)
                # fails, rather than deletes, if a file appeared
                os.rmdir(name, dir_fd=self._root_fd)
            except OSError as error:
                if error.errno == errno.ENOTEMPTY:
                    raise BucketNotEmptyException(f"bucket {name!r} is not empty") from error
                if error.errno == errno.ENOTDIR:  # swapped for a link meanwhile
                    raise NotFoundException(f"bucket {name!r} does not exist") from error
                raise
            self._sidecars.drop_bucket(name)
            # Its open uploads go with it, as on S3: kept, they would turn up
            # in a new bucket of the same name, and complete into it.
            for upload_id, _, _ in self._uploads_of(name):
                remove_tree(self._uploads_fd, upload_id)

    def head_bucket(self, name: str) -> BucketInfo | None:
        check_bucket_dir_name(name)
        stat = lstat_at(self._root_fd, name)
        return BucketInfo(name) if stat and stat_module.S_ISDIR(stat.st_mode) else None

    def list_buckets(self, *, marker: str | None, limit: int) -> Page[BucketInfo]:
        root = reopen_dir(self._root_fd)
        try:
            names = sorted(
                entry.name
                for entry in os.scandir(root)
                if entry.is_dir(follow_symlinks=False) and not entry.name.startswith(".")
            )
        finally:
            os.close(root)
        return page_of_names(names, marker, limit)

    # -- reading -----------------------------------------------------------

    def head_object(self, bucket: str, key: str) -> ObjectInfo | None:
        if self._fast:
            try:
                return self._head(bucket, key, lambda: self._look_beneath(bucket, key))
            except OSError as error:
                if error.errno in _NO_OBJECT and self._is_bucket_dir(bucket):
                    return None
                # else the bucket is missing or a link: the slow path says so
        try:
            with self._key_dir(bucket, key) as (parent, name):

                def look() -> tuple[os.stat_result, bytes | None]:
                    stat = os.stat(name, dir_fd=parent, follow_symlinks=False)
                    return stat, inline.read_at(parent, name) if self._inline else None

                return self._head(bucket, key, look)
        except ABSENT:
            return None

    def _head(
        self,
        bucket: str,
        key: str,
        look: Callable[[], tuple[os.stat_result, bytes | None]],
    ) -> ObjectInfo | None:
        for _ in range(3):
            stat, raw = look()
            if not is_file(stat):  # a directory, or a link: no object
                return None
            info, had_record, _ = self._info(bucket, key, stat, raw)
            if had_record:
                return info
            # No record for this version: either the file was put here by
            # hand, or it was replaced after our stat and its sidecar swept.
            if identity(look()[0]) == info.revision:
                return info
        return info

    def _look_beneath(self, bucket: str, key: str) -> tuple[os.stat_result, bytes | None]:
        """The entry at ``key`` itself (a link is not followed, nor is one on
        the way: ELOOP) and its record's bytes (inline.py), both of the one
        inode an openat2 of an O_PATH descriptor holds."""
        fd = self._open_path_beneath(bucket, key)
        try:
            return os.fstat(fd), inline.read_path_fd(fd) if self._inline else None
        finally:
            os.close(fd)

    def _stat_beneath(self, bucket: str, key: str) -> os.stat_result:
        fd = self._open_path_beneath(bucket, key)
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)

    def _open_path_beneath(self, bucket: str, key: str) -> int:
        key_segments(key)
        check_bucket_dir_name(bucket)
        return beneath.open_beneath(
            self._root_fd, f"{bucket}/{key}", os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
        )

    @property
    def _describe(self) -> Describe[ObjectInfo | Missing]:
        return described if self._inline else undescribed

    def _is_bucket_dir(self, bucket: str) -> bool:
        stat = lstat_at(self._root_fd, bucket)
        return stat is not None and stat_module.S_ISDIR(stat.st_mode)

    def _info(
        self, bucket: str, key: str, stat: os.stat_result, raw: bytes | None
    ) -> tuple[ObjectInfo, bool, int | None]:
        """The object as the version ``stat`` describes it, whether a record
        of that version was found, and the part size its etag is computed
        with (None: one part). The record is the one on its file (``raw``,
        its attribute's bytes, read as stored: no dict between) if written
        for that version, else its sidecar (a bucket written before, or where
        xattrs are refused), else none."""
        packed = inline.unpacked(raw, stat)
        if packed is not None:
            return info_of(key, stat, packed), True, packed.p
        version = identity(stat)
        record = self._sidecars.read(bucket, key, version)
        return record_of(key, stat, version, record), bool(record), record.get("etag_part_size")

    def list_objects(
        self, bucket: str, *, prefix: str | None, marker: str | None, limit: int
    ) -> Page[ObjectInfo]:
        with self._opened_bucket(bucket) as bucket_fd, self._sidecars.reader(bucket) as sidecars:
            # the walk first (one more key than the page: are there more?),
            # then the page's sidecars, read beside each other (listing.py)
            found = list(
                itertools.islice(
                    walk_sorted(bucket_fd, "", prefix or "", marker, self._describe), limit + 1
                )
            )
            more = len(found) > limit
            items = records(found[:limit], sidecars)
        return Page(items, items[-1].key if more else None)

    def list_directory(
        self, bucket: str, *, prefix: str, marker: str | None, limit: int
    ) -> DirectoryPage:
        """One ``os.scandir`` of the prefix's directory: what folding
        ``list_objects`` would give -- files are objects, links are not and
        are never descended, and a directory is listed only if a file lies
        somewhere below it (``holds_a_file``)."""
        # their records made at the end
        objects: list[ObjectInfo | Missing] = []
        directories: list[str] = []
        with self._opened_bucket(bucket) as bucket_fd, self._sidecars.reader(bucket) as sidecars:
            names = _prefix_directories(prefix)
            if names is None:
                return DirectoryPage([], [], None)
            try:
                chain = DirChain(bucket_fd, names)
            except ABSENT:  # no such directory, a file, or a link
                return DirectoryPage([], [], None)
            with chain:
                last = _level_page(
                    chain.fd, prefix, marker, limit, objects, directories, self._describe
                )
            return DirectoryPage(records(objects, sidecars), directories, last)

    def _open(self, bucket: str, key: str, if_revision: str | None) -> BinaryIO:
        return os.fdopen(self._open_fd(bucket, key, if_revision), "rb")

    def _open_fd(self, bucket: str, key: str, if_revision: str | None) -> int:
        try:
            with self._key_dir(bucket, key) as (parent, name):
                fd = open_file(parent, name)
        except ABSENT as error:
            raise _not_found(bucket, key) from error
        if if_revision is not None and identity(os.fstat(fd)) != if_revision:
            os.close(fd)
            raise _replaced(bucket, key)
        return fd

    def read_object(self, bucket: str, key: str, options: ReadOptions) -> ObjectStream:
        fd, info, _ = self._open_described(bucket, key, options.if_revision)
        read = _FileRange(fd, options.start, info.size if options.end is None else options.end)
        return ObjectStream(
            info, read.chunks(options.chunk_size), read.close, readinto=read.readinto
        )

    def _open_described(
        self, bucket: str, key: str, if_revision: str | None
    ) -> tuple[int, ObjectInfo, int | None]:
        """Open the object (a descriptor the caller closes) and read the
        record of the version opened, and the part size its etag is
        computed with (None: one part): never another version's, nor none
        because a writer removed it meanwhile (which left the read's etag to
        compute later from a version no longer there, and its metadata empty).

        The common case takes no lock (``_open_described_fast``). Otherwise
        the bucket's lock, held shared, keeps writers from replacing a
        version and removing its sidecar between the open and the read."""
        if self._fast:
            found = self._open_described_fast(bucket, key, if_revision)
            if found is not None:
                return found
        with self._bucket_lock(bucket, shared=True):
            fd = self._open_fd(bucket, key, if_revision)
            try:
                info, _, etag_part_size = self._info(bucket, key, os.fstat(fd), self._raw_of(fd))
            except BaseException:
                os.close(fd)
                raise
        return fd, info, etag_part_size

    def _raw_of(self, fd: int) -> bytes | None:
        return inline.read_fd(fd) if self._inline else None

    def _open_described_fast(
        self, bucket: str, key: str, if_revision: str | None
    ) -> tuple[int, ObjectInfo, int | None] | None:
        """``_open_described`` without the lock, or None where only the
        slow path can tell (no such object, a link, a missing bucket, a
        replacement racing this read).

        The file is held open, so its inode -- and with it the version
        identity naming its sidecar -- belongs to no other file meanwhile;
        a sidecar found for it is that version's, written whole before the
        version was published. A version with no sidecar is served as one
        only while the key still names that very file: else it was
        replaced and its sidecar removed after the open, and the slow path
        reads the version that replaced it, with its own sidecar."""
        key_segments(key)
        check_bucket_dir_name(bucket)
        path = f"{bucket}/{key}"
        try:
            # O_NONBLOCK: a FIFO planted at the key must not hang the open
            fd = beneath.open_beneath(self._root_fd, path, beneath.READ_FLAGS | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            stat = os.fstat(fd)
            if is_file(stat):
                version = identity(stat)
                if if_revision is not None and version != if_revision:
                    raise _replaced(bucket, key)
                info, had_record, etag_part_size = self._info(bucket, key, stat, self._raw_of(fd))
                if had_record or identity(self._stat_beneath(bucket, key)) == version:
                    return fd, info, etag_part_size
        except OSError:
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        return None

    def compute_etag(self, bucket: str, key: str, revision: str | None) -> str:
        """MD5 of the content, computed on first demand and kept in the sidecar
        of the version it was computed from."""
        with self._open(bucket, key, revision) as handle:
            stat = os.fstat(handle.fileno())
            computed_for = identity(stat)
            raw = self._raw_of(handle.fileno())
            on_file = inline.decode(raw, stat)
            sidecar = on_file or self._sidecars.read(bucket, key, computed_for)
            etag = _md5_etag(handle, sidecar.get("etag_part_size"))
            record = sidecar or {"content_type": guess_content_type(key), "metadata": {}}
            # Kept on the file itself unless the version has a sidecar: that
            # inode is the version's, so the etag can never land on another
            # version, nor outlive this one.
            # (Refused on a file that has a record of its own, the etag is
            # computed again next time: a sidecar beside it would be ignored.)
            if on_file is not None or (self._inline and not sidecar):
                kept = inline.store(
                    handle.fileno(), inline.encode(key, stat, {**record, "etag": etag})
                )
                if kept or on_file is not None:
                    return etag
        # Kept only while the key still names the version computed from (the
        # lock holds off replacing and deleting): a sidecar written for a
        # version replaced or deleted meanwhile would be left for ever.
        gone = (*ABSENT, NotFoundException)
        with self._bucket_lock(bucket, shared=True), contextlib.suppress(*gone):
            with self._key_dir(bucket, key) as (parent, name):
                current = lstat_at(parent, name)
            if current is not None and identity(current) == computed_for:
                self._sidecars.write(bucket, key, computed_for, {**record, "etag": etag})
        return etag

    # -- writing -----------------------------------------------------------

    def put_object(self, bucket: str, key: str, body: Body, options: WriteOptions) -> ObjectInfo:
        # No context managers but the temporary file's: a small put is
        # mostly Python around eight system calls (bench/local_syscalls.py,
        # bench/local_small_write.py)
        parent = self._parent_fd(bucket, key)
        try:
            with self._temp_file() as temp:
                size = body.size
                if size <= READ_CHUNK:
                    # copy()'s and put_bytes' small bodies, bytes already:
                    # one read, one MD5 call, one write, no chunk loop
                    data = body.read(size)
                    if len(data) != size:  # a stream's short read
                        data = _read_rest(body, data, size)
                    digest = hashlib.md5(data, usedforsecurity=False)
                    write_all(temp.fd, data, held=self._held)
                else:
                    digest = _write_chunks(body, size, temp.fd)
                raw = digest.digest()
                return self._publish(bucket, key, temp, options, raw.hex(), parent, raw_etag=raw)
        finally:
            if parent >= 0:
                beneath.close(parent, held=self._held)

    @contextlib.contextmanager
    def _key_parent(self, bucket: str, key: str) -> Iterator[int]:
        """``_parent_fd``, closed on leaving."""
        parent = self._parent_fd(bucket, key)
        try:
            yield parent
        finally:
            if parent >= 0:
                os.close(parent)

    def _parent_fd(self, bucket: str, key: str) -> int:
        """A descriptor of the directory ``key``'s file goes in, if it
        exists and the fast path is on (one openat2, no link on the way),
        for ``_publish``; else -1. Either way the key is checked, and the
        bucket found to exist, before a body is read. The caller closes it."""
        if self._fast:
            key_segments(key)
            check_bucket_dir_name(bucket)
            directory = key.rpartition("/")[0]  # the segments were checked just now
            try:
                return beneath.open_beneath(
                    self._root_fd,
                    f"{bucket}/{directory}" if directory else bucket,
                    DIR_FLAGS,
                    held=self._held,
                )
            except OSError:  # missing, or a link: the slow path
                pass
        self._check_object(bucket, key)
        return -1

    def _temp_file(self) -> TempFile:
        return TempFile(self._tmp_fd, unnamed=self._fast, held=self._held)

    def put_file(
        self,
        bucket: str,
        key: str,
        path: str,
        options: WriteOptions,
        *,
        progress: ProgressCallback | None,
        etag_part_size: int | None,
    ) -> ObjectInfo:
        """Copy inside the kernel; the etag is computed later, on demand,
        from parts of ``etag_part_size`` as a multipart upload's would be."""
        with (
            self._key_parent(bucket, key) as parent,
            open(path, "rb") as source,
            self._temp_file() as temp,
        ):
            _copy_fd(source.fileno(), temp.fd, progress)
            return self._publish(
                bucket, key, temp, options, None, parent, etag_part_size=etag_part_size
            )

    def get_file(
        self,
        bucket: str,
        key: str,
        fd: int,
        *,
        progress: ProgressCallback | None,
    ) -> ObjectInfo:
        source, info, _ = self._open_described(bucket, key, None)
        try:
            _copy_fd(source, fd, progress)
        finally:
            os.close(source)
        return info

    def copy_object(
        self,
        source_bucket: str,
        source: ObjectInfo,
        bucket: str,
        key: str,
        options: WriteOptions,
    ) -> ObjectInfo:
        """Copy inside the kernel (a reflink where the filesystem shares
        blocks); the copy keeps the source's etag, or how to compute it.
        The file opened is the one pinned, so ``source`` says nothing more."""
        with self._key_parent(bucket, key) as parent:
            opened, info, etag_part_size = self._open_described(
                source_bucket, source.key, source.revision
            )
            try:
                with self._temp_file() as temp:
                    _copy_fd(opened, temp.fd, None)
                    return self._publish(
                        bucket, key, temp, options, info.etag, parent, etag_part_size=etag_part_size
                    )
            finally:
                os.close(opened)

    def delete_object(self, bucket: str, key: str) -> None:
        *directories, name = key_segments(key)
        with (
            self._opened_bucket(bucket) as bucket_fd,
            self._bucket_lock(bucket),  # pruning must not race a publish's mkdirs
        ):
            try:
                chain = DirChain(bucket_fd, directories)
            except ABSENT:  # no such directory, or a link: no object under it
                return
            with chain:
                stat = lstat_at(chain.fd, name)
                if stat is None or not is_file(stat):  # a link is no object: left alone
                    return
                # Were a link swapped in after that look, unlink removes the
                # link itself: unlinkat never follows one.
                # a version with its record on its file has no sidecar
                version = identity(stat)
                on_file = self._inline and (
                    inline.version_of(inline.read_at(chain.fd, name)) == version
                )
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=chain.fd)
                if not on_file:
                    self._sidecars.remove_one(bucket, key, version)
                chain.prune_empty()

    def _publish(
        self,
        bucket: str,
        key: str,
        temp: TempFile,
        options: WriteOptions,
        etag: str | None,
        parent: int,
        *,
        etag_part_size: int | None = None,
        raw_etag: bytes | None = None,
    ) -> ObjectInfo:
        """Move a finished temporary file into place with its record
        (``options``' content type and metadata, ``etag`` -- ``raw_etag``
        its MD5's bytes, where the caller has them --, and the part size a
        later etag is to be computed with).

        The sidecar goes first, whole: no reader ever finds the object
        without it. Then, where the file has no name yet (O_TMPFILE) and
        its directory was opened (``parent``), one ``linkat`` publishes it
        if the key is free -- no lock: it replaces nothing, so no other
        version's sidecar is to be removed, and a link, a directory or an
        object already at the key fails it with EEXIST. Anything else (the
        key is taken, its directories must be made, one was pruned
        meanwhile) takes the locked path, which names the file in the tmp
        dir and renames (or, create-only, links) it into place."""
        stat = os.fstat(temp.fd)
        # link and rename keep inode, size and mtime (state.identity, inlined)
        version = f"{stat.st_ino}-{stat.st_size}-{stat.st_mtime_ns}"
        metadata = dict(options.metadata)  # the record's, and the ObjectInfo's own copy
        create_only = options.create_only
        # on the file itself (inline.py): one inode, published with its
        # record in the one linkat or rename; a sidecar where refused
        on_file = self._inline and inline.store(
            temp.fd,
            inline.encode_fields(
                key,
                stat,
                inline.stored_etag(etag) if raw_etag is None else raw_etag,
                options.content_type,
                metadata,
                etag_part_size,
            ),
            held=self._held,
        )
        if not on_file:
            described: dict[str, Any] = {
                "content_type": options.content_type,
                "metadata": metadata,
                "etag": etag,
            }
            if etag_part_size is not None:
                described["etag_part_size"] = etag_part_size
            self._sidecars.create(bucket, key, version, described)
        published = False
        name = key.rpartition("/")[2]  # the key was checked before its body was read
        try:
            if parent >= 0 and temp.name is None:
                try:
                    beneath.link_fd(temp.fd, parent, name, held=self._held)
                    published = temp.moved = True
                except FileExistsError:  # taken: replaced here if nothing else is to go
                    if on_file and not create_only:
                        published = self._replace_lock_free(bucket, key, parent, name, temp)
                except OSError:  # the directory was pruned: the slow path
                    pass
            if not published:
                directories = key_segments(key)[:-1]
                self._publish_locked(bucket, key, directories, name, temp, create_only)
                published = True
        finally:
            if not published and not on_file:  # never the object: drop its sidecar
                self._sidecars.remove_one(bucket, key, version)
        return ObjectInfo(
            key=key,
            size=stat.st_size,
            last_modified=datetime.fromtimestamp(stat.st_mtime_ns / 1e9, tz=timezone.utc),
            etag=etag,
            content_type=options.content_type,
            metadata=metadata,
            revision=version,
        )

    def _replace_lock_free(
        self, bucket: str, key: str, parent: int, name: str, temp: TempFile
    ) -> bool:
        """Put a version with its record on its file in place of one that has
        its own too, without the lock: with no sidecar on either side there
        is nothing to remove after it, which is the lock's only work
        (readers hold the inode they opened, whose record is its own).
        False (the locked path decides) if the key holds anything else -- a
        version with a sidecar, a file put there by hand, a link (links
        carry no user attributes), a directory -- or the swap fails (the
        directory pruned meanwhile, no ``renameat2`` here).

        A swap, not a rename: the look above and the publish are two steps,
        and a locked writer may put a version with a sidecar there between
        them (a record too large for the attribute). A rename would replace
        it unseen and leave its sidecar for ever; the swap hands back what
        it replaced, whose sidecar then goes (and a link or directory that
        slipped in is swapped back, for the locked path to refuse)."""
        seen = inline.version_of(inline.read_at(parent, name))
        if seen is None:
            return False
        temp_name = temp.named()
        try:
            beneath.exchange(self._tmp_fd, temp_name, parent, name)
        except OSError:
            return False
        # temp_name now holds the version replaced; TempFile's exit removes it
        replaced = lstat_at(self._tmp_fd, temp_name)
        if replaced is not None and identity(replaced) == seen:
            return True  # the version looked at (one stat, not its record read again)
        if replaced is None or not is_file(replaced):
            beneath.exchange(self._tmp_fd, temp_name, parent, name)
            return False
        version = identity(replaced)
        if inline.version_of(inline.read_at(self._tmp_fd, temp_name)) != version:
            self._sidecars.remove_one(bucket, key, version)
        return True

    def _publish_locked(
        self,
        bucket: str,
        key: str,
        directories: list[str],
        name: str,
        temp: TempFile,
        create_only: bool,
    ) -> None:
        """Rename (create-only: link) the temporary file into place under the
        bucket's lock, and remove the sidecar of the version it replaced."""
        temp_name = temp.named()
        with (
            self._bucket_lock(bucket),
            self._opened_bucket(bucket) as bucket_fd,  # not deleted meanwhile
            _made_parent_dirs(bucket_fd, directories, bucket, key) as parent,
        ):
            replaced = _version_at(parent, name, bucket, key)
            try:
                # A free key is taken with a link, never a rename: the lock
                # does not hold off the lock-free publish (``_publish``),
                # which may link another version in after the look above;
                # a rename would then replace that version unseen and leave
                # its sidecar behind for ever. Once the key holds a file,
                # only holders of this lock can change it.
                if create_only or replaced is None:
                    try:
                        os.link(
                            temp_name,
                            name,
                            src_dir_fd=self._tmp_fd,
                            dst_dir_fd=parent,
                            follow_symlinks=False,
                        )
                    except FileExistsError:
                        if create_only:
                            raise
                        replaced = _version_at(parent, name, bucket, key)
                    else:
                        return  # the temporary name goes with the TempFile
                # a version with its record on its file has no sidecar to remove
                if (
                    replaced is not None
                    and self._inline
                    and inline.version_of(inline.read_at(parent, name)) == replaced
                ):
                    replaced = None
                os.replace(temp_name, name, src_dir_fd=self._tmp_fd, dst_dir_fd=parent)
                temp.moved = True
            except FileExistsError as error:
                raise PreconditionFailedException(
                    f"object {key!r} already exists in bucket {bucket!r}"
                ) from error
            except IsADirectoryError as error:
                raise InvalidNameException(
                    f"object name {key!r}: objects already exist under {key + '/'!r}; the"
                    " local provider stores keys as paths"
                ) from error
            # Only the replaced version's sidecar goes: other writers'
            # sidecars, written before they publish, must stay.
            if replaced is not None:
                self._sidecars.remove_one(bucket, key, replaced)

    # -- multipart ---------------------------------------------------------

    def _upload_dir(self, upload_id: str) -> str:
        """The upload's directory name in the uploads dir."""
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise NotFoundException(f"multipart upload {upload_id!r} does not exist")
        return upload_id

    @contextlib.contextmanager
    def _existing_upload(self, bucket: str, key: str, upload_id: str) -> Iterator[int]:
        """A descriptor of the upload's directory."""
        missing = f"multipart upload {upload_id!r} does not exist"
        try:
            directory = DirChain(self._uploads_fd, [self._upload_dir(upload_id)])
        except ABSENT as error:
            raise NotFoundException(missing) from error
        with directory:
            record = _read_upload_record(directory.fd)
            if record is None:
                raise NotFoundException(missing)
            if record["bucket"] != bucket or record["key"] != key:
                raise NotFoundException(f"multipart upload {upload_id!r} is not for {bucket}/{key}")
            yield directory.fd

    def start_multipart(self, bucket: str, key: str, options: WriteOptions) -> _LocalUpload:
        self._check_object(bucket, key)  # validates the key and the bucket now, not at complete
        upload_id = uuid.uuid4().hex
        os.mkdir(self._upload_dir(upload_id), dir_fd=self._uploads_fd)
        with DirChain(self._uploads_fd, [upload_id]) as directory:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(UPLOAD_RECORD, flags, 0o644, dir_fd=directory.fd)
            with open(fd, "w", encoding="utf-8") as handle:
                json.dump({"bucket": bucket, "key": key}, handle)
        return _LocalUpload(self, bucket, key, upload_id)

    def resume_multipart(self, bucket: str, key: str, upload_id: str) -> _LocalUpload:
        return _LocalUpload(self, bucket, key, upload_id)

    def list_multipart(self, bucket: str) -> Iterator[UploadInfo]:
        with self._opened_bucket(bucket):
            pass  # NotFoundException if the bucket is missing
        return iter(
            UploadInfo(key, upload_id, datetime.fromtimestamp(started, tz=timezone.utc))
            for upload_id, key, started in self._uploads_of(bucket)
        )

    def _uploads_of(self, bucket: str) -> list[tuple[str, str, float]]:
        """The id, key and start time of each open upload into ``bucket``."""
        found: list[tuple[str, str, float]] = []
        for name in os.listdir(self._uploads_fd):
            if not _UPLOAD_ID.fullmatch(name):
                continue
            try:
                with DirChain(self._uploads_fd, [name]) as directory:
                    record = _read_upload_record(directory.fd)
                    # The record is written once, at the start; the directory's
                    # own time moves with every part sent.
                    started = os.stat(
                        UPLOAD_RECORD, dir_fd=directory.fd, follow_symlinks=False
                    ).st_mtime
            except ABSENT:
                continue
            if record is not None and record["bucket"] == bucket:
                found.append((name, record["key"], started))
        return found

    # -- signed URLs -------------------------------------------------------

    def sign_url(self, bucket: str, key: str, request: UrlRequest) -> str:
        self._check_object(bucket, key)
        return self.signer.sign(bucket, key, request)


class _LocalUpload:
    """Parts are files ``<number>.<md5>`` in the upload's directory, so
    ``complete`` joins only the parts the caller was told about, as S3
    checks part ETags."""

    def __init__(self, driver: LocalDriver, bucket: str, key: str, upload_id: str) -> None:
        self._driver = driver
        self._bucket = bucket
        self._key = key
        self.upload_id = upload_id

    def upload_part(self, part_number: int, body: Body) -> PartInfo:
        driver = self._driver
        digest = hashlib.md5(usedforsecurity=False)
        with driver._existing_upload(self._bucket, self._key, self.upload_id) as directory:
            with TempFile(driver._tmp_fd) as temp:
                while chunk := body.read(READ_CHUNK):
                    digest.update(chunk)
                    write_all(temp.fd, chunk)
                part_name = _part_file(part_number, digest.hexdigest())
                os.replace(temp.named(), part_name, src_dir_fd=driver._tmp_fd, dst_dir_fd=directory)
                temp.moved = True
            for name in os.listdir(directory):  # a part sent again replaces the earlier one
                if name.startswith(f"{part_number:05d}.") and name != part_name:
                    os.unlink(name, dir_fd=directory)
        return PartInfo(part_number, digest.hexdigest(), body.size)

    def complete(self, parts: Sequence[PartInfo], options: WriteOptions) -> ObjectInfo:
        driver = self._driver
        bucket, key = self._bucket, self._key
        with driver._existing_upload(bucket, key, self.upload_id) as directory:
            part_names = [_part_file(part.part_number, part.token) for part in parts]
            stored: list[PartInfo] = []
            for part, part_name in zip(parts, part_names, strict=True):
                stat = lstat_at(directory, part_name)
                if stat is None or not is_file(stat):
                    raise InvalidValueException(
                        "parts", part.part_number, "no part with this number and etag was uploaded"
                    )
                stored.append(PartInfo(part.part_number, part.token, stat.st_size))
            check_part_sizes(stored)
            etag = multipart_etag([part.token for part in parts])
            with driver._key_parent(bucket, key) as parent, driver._temp_file() as temp:
                for part_name in part_names:
                    source = open_file(directory, part_name)
                    try:
                        _copy_fd(source, temp.fd, None)
                    finally:
                        os.close(source)
                info = driver._publish(bucket, key, temp, options, etag, parent)
        remove_tree(driver._uploads_fd, self.upload_id)
        return info

    def abort(self) -> None:
        remove_tree(self._driver._uploads_fd, self._driver._upload_dir(self.upload_id))


def _level_page(
    level_fd: int,
    prefix: str,
    marker: str | None,
    limit: int,
    objects: list[ObjectInfo | Missing],
    directories: list[str],
    describe: Describe[ObjectInfo | Missing],
) -> str | None:
    """Fill ``objects`` and ``directories`` with one page of the level;
    the marker of the next page, None if this one is the last."""
    last = ""
    for name, entry in level_sorted(level_fd, prefix):
        if marker is not None and name <= marker:
            continue
        if name.endswith("/"):
            try:
                subdir = open_dir(level_fd, entry.name)
            except ABSENT:  # removed, or swapped for a link, since listed
                continue
            try:
                if not holds_a_file(subdir):
                    continue
            finally:
                os.close(subdir)
            if len(objects) + len(directories) == limit:
                return last
            directories.append(name)
        else:
            found = list(describe(level_fd, [name], [entry.name]))  # [] unless a regular file
            if not found:
                continue
            if len(objects) + len(directories) == limit:
                return last
            objects.extend(found)
        last = name
    return None


def _prefix_directories(prefix: str) -> list[str] | None:
    """The directories a listing prefix ("" or ending in ``/``) names below
    the bucket, or None where no file could lie below it: an empty, ``.``
    or ``..`` segment (``..`` would leave the bucket), or one no filesystem
    holds."""
    if not prefix:
        return []
    if not prefix.endswith("/"):
        return None
    names = prefix[:-1].split("/")
    for name in names:
        if name in ("", ".", "..") or "\x00" in name:
            return None
        if len(name.encode("utf-8", "surrogateescape")) > MAX_SEGMENT_BYTES:
            return None
    return names


def _read_upload_record(directory_fd: int) -> dict[str, Any] | None:
    try:
        with open(open_file(directory_fd, UPLOAD_RECORD), encoding="utf-8") as handle:
            record: dict[str, Any] = json.load(handle)
    except (OSError, ValueError):
        return None
    return record


def _part_file(part_number: int, token: str) -> str:
    """A part's file name carries its MD5 token, so complete joins only the
    parts the caller was told about, as S3 checks part ETags."""
    if not _PART_TOKEN.fullmatch(token):
        raise InvalidValueException("parts", part_number, f"unknown part etag {token!r}")
    return f"{part_number:05d}.{token}"


def _read_rest(body: Body, data: bytes, size: int) -> bytes:
    """``data``, the first bytes read of a small body, and the rest of its
    ``size`` bytes."""
    chunks = [data]
    got = len(data)
    while got < size:
        chunk = body.read(size - got)
        if not chunk:
            raise InvalidValueException("body", f"{got} bytes", f"stream ended before {size} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _write_chunks(body: Body, size: int, fd: int) -> Any:
    """Write a large body to ``fd`` in ``READ_CHUNK`` reads; its MD5."""
    digest = hashlib.md5(usedforsecurity=False)
    remaining = size
    while remaining > 0:
        chunk = body.read(min(remaining, READ_CHUNK))
        if not chunk:
            raise InvalidValueException(
                "body", f"{size - remaining} bytes", f"stream ended before {size} bytes"
            )
        digest.update(chunk)
        write_all(fd, chunk)
        remaining -= len(chunk)
    return digest


def _md5_etag(handle: BinaryIO, part_size: int | None) -> str:
    """S3's etag of the content: its MD5, or for an object stored in parts
    the MD5 of the parts' MD5s followed by the number of parts."""
    if part_size is None:
        digest = hashlib.md5(usedforsecurity=False)
        while chunk := handle.read(READ_CHUNK * 8):
            digest.update(chunk)
        return digest.hexdigest()
    part_digests = hashlib.md5(usedforsecurity=False)
    parts = 0
    while True:
        part = hashlib.md5(usedforsecurity=False)
        remaining = part_size
        while remaining and (chunk := handle.read(min(remaining, READ_CHUNK * 8))):
            part.update(chunk)
            remaining -= len(chunk)
        if remaining == part_size and parts:
            break
        part_digests.update(part.digest())
        parts += 1
        if remaining:
            break
    return f"{part_digests.hexdigest()}-{parts}"


class _FileRange:
    """Bytes ``start``-``end`` of an open object file, read with ``pread``
    straight from its descriptor: no file object (its fstat, isatty ioctl
    and lseek) and no read past ``end`` to find the end of the file."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        self._fd = fd
        self._position = start
        self._end = end

    def chunks(self, chunk_size: int) -> Iterator[bytes]:
        try:
            while self._position < self._end:
                chunk = os.pread(
                    self._fd, min(chunk_size, self._end - self._position), self._position
                )
                if not chunk:  # cut short by hand since it was opened
                    return
                self._position += len(chunk)
                yield chunk
        finally:
            self.close()

    def readinto(self, buffer: memoryview) -> int:
        """Fill ``buffer`` with the next bytes: fewer only at the end."""
        filled = 0
        wanted = min(len(buffer), max(0, self._end - self._position))
        while filled < wanted:
            count = os.preadv(self._fd, [buffer[filled:wanted]], self._position)
            if not count:
                break
            filled += count
            self._position += count
        return filled

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


def _replaced(bucket: str, key: str) -> PreconditionFailedException:
    return PreconditionFailedException(
        f"object {key!r} in bucket {bucket!r} was replaced since it was looked up; refresh() it"
    )


def _copy_fd(source: int, destination: int, progress: ProgressCallback | None) -> None:
    """Copy from the current offset of ``source`` to the end, in the kernel where it can.

    ``copy_file_range`` first (a reflink or an in-kernel copy on one
    filesystem); across filesystems (EXDEV: e.g. a root on ext4, the file in
    /dev/shm) ``sendfile``, still no copy through this process; only where
    both are refused, ``READ_CHUNK`` reads into one reused buffer. (The old
    fallback read 64 MiB chunks into new bytes objects: a 128 MiB peak and
    0.53x cp into /dev/shm, bench/results.md.)"""
    remaining = os.fstat(source).st_size - os.lseek(source, 0, os.SEEK_CUR)
    if remaining > 0:
        # Reserving the blocks first made 1 GiB copies on ext4 ~2x faster
        # here, and faster than cp (bench/bench_local.py).
        with contextlib.suppress(OSError):
            os.posix_fallocate(destination, os.lseek(destination, 0, os.SEEK_CUR), remaining)
    buffer = None
    while True:
        try:
            if buffer is None:
                copied = _copy_in_kernel(source, destination)
            else:
                copied = os.readv(source, [buffer])
                write_all(destination, memoryview(buffer)[:copied])
        except OSError as error:
            # Refused before a byte was moved (both offsets stay where the
            # last call left them): go on with the plain copy.
            if error.errno not in _COPY_REFUSED or buffer is not None:
                raise
            buffer = bytearray(READ_CHUNK)
            continue
        if copied == 0:
            return
        if progress is not None:
            progress(copied)


_COPY_REFUSED = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP)


def _copy_in_kernel(source: int, destination: int) -> int:
    """One step of ``copy_file_range``, or of ``sendfile`` where the two
    descriptors are on different filesystems (which Linux >= 5.19 refuses
    to ``copy_file_range`` with EXDEV)."""
    try:
        return os.copy_file_range(source, destination, COPY_CHUNK)
    except OSError as error:
        if error.errno not in _COPY_REFUSED:
            raise
    return os.sendfile(destination, source, None, COPY_CHUNK)


def _version_at(parent: int, name: str, bucket: str, key: str) -> str | None:
    """The version a publish of ``key`` replaces; refuses to replace a link."""
    stat = lstat_at(parent, name)
    if stat is not None and stat_module.S_ISLNK(stat.st_mode):
        raise _link_refused(bucket, key, key)
    return identity(stat) if stat is not None and is_file(stat) else None


@contextlib.contextmanager
def _made_parent_dirs(
    bucket_fd: int, directories: list[str], bucket: str, key: str
) -> Iterator[int]:
    """The directory that will hold ``key``'s file, made as needed, one
    ``mkdirat`` at a time and never through a link."""
    try:
        chain = DirChain(bucket_fd, directories, create=True)
    except SymlinkInTree as error:
        raise _link_refused(bucket, key, str(error.filename)) from error
    except (FileExistsError, NotADirectoryError) as error:
        raise InvalidNameException(
            f"object name {key!r}: a part of its path is already an object; the local provider"
            " stores keys as paths"
        ) from error
    with chain:
        yield chain.fd
