"""How the local provider maps keys to paths, and lists them in S3's order."""

from __future__ import annotations

import os
import stat as stat_module
from collections.abc import Iterator

from ...errors import InvalidNameException

STATE_DIR = ".bucketbridge"
MAX_SEGMENT_BYTES = 255


def check_bucket_dir_name(bucket: str) -> None:
    """A bucket is one directory directly under the root, never the state dir."""
    if not bucket or bucket.startswith(".") or "/" in bucket or "\\" in bucket or "\x00" in bucket:
        raise InvalidNameException(f"bucket name {bucket!r} is not valid for the local provider")


def key_segments(key: str) -> list[str]:
    """The path segments of a key, refusing any that could leave the bucket
    directory or that a filesystem cannot hold."""
    if key.startswith("/") or key.endswith("/"):
        raise InvalidNameException(
            f"object name {key!r}: the local provider cannot store a name that starts or ends"
            " with '/'"
        )
    segments = key.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise InvalidNameException(
                f"object name {key!r}: the local provider refuses empty, '.' and '..' path segments"
            )
        if "\x00" in segment or (os.sep == "\\" and "\\" in segment):
            raise InvalidNameException(f"object name {key!r}: contains a forbidden character")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise InvalidNameException(
                f"object name {key[:40]!r}...: a path segment is longer than {MAX_SEGMENT_BYTES}"
                " bytes"
            )
    if segments[0] == STATE_DIR:
        raise InvalidNameException(f"object name {key!r}: {STATE_DIR!r} is reserved")
    return segments


def is_file(stat: os.stat_result) -> bool:
    return stat_module.S_ISREG(stat.st_mode)


def walk_sorted(
    directory: str, relative: str, prefix: str, marker: str | None
) -> Iterator[tuple[str, os.stat_result]]:
    """Yield (key, stat) of the files under ``directory`` in S3's key order,
    skipping whole subtrees that are before ``marker`` or outside ``prefix``.

    A directory sorts as its name plus '/', which puts ``a-b`` before ``a/c``
    before ``a0`` exactly as the keys themselves sort; code point order is
    UTF-8 byte order, which is S3's.
    """
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return
    named = []
    for entry in entries:
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        named.append((relative + entry.name + ("/" if is_dir else ""), entry))
    named.sort(key=lambda pair: pair[0])
    for name, entry in named:
        if name.endswith("/"):
            if not (prefix.startswith(name) or name.startswith(prefix)):
                continue
            if marker is not None and name < marker and not marker.startswith(name):
                continue
            yield from walk_sorted(entry.path, name, prefix, marker)
            continue
        if not name.startswith(prefix) or (marker is not None and name <= marker):
            continue
        try:
            stat = entry.stat()
        except FileNotFoundError:  # deleted while we listed
            continue
        if is_file(stat):
            yield name, stat


def prune_empty_dirs(directory: str, stop: str) -> None:
    """Remove directories a delete left empty, up to (not including) ``stop``."""
    stop = os.path.abspath(stop)
    while os.path.abspath(directory).startswith(stop + os.sep):
        try:
            os.rmdir(directory)
        except OSError:
            return
        directory = os.path.dirname(directory)
