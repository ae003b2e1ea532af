"""Walking a bucket's listing: every object under a prefix, or one "directory" level.

Object stores have no directories; a key's ``/`` makes one. A driver that
``ListsDirectories`` asks its server for one level (S3's ``Delimiter=/``);
for any other the whole prefix is listed flat and folded here, which costs
a request per page of keys below it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

from .drivers.base import Driver, Features
from .drivers.records import ObjectInfo


def walk_objects(
    driver: Driver, features: Features, bucket: str, prefix: str
) -> Iterator[ObjectInfo]:
    """Every object whose key starts with ``prefix`` ("" for all), in key
    order (UTF-8 byte order, as every driver lists), a server page at a time
    (the next one requested while this one is read, where the driver can)."""
    ahead = features.lists_ahead
    if ahead is not None:
        pages = ahead.list_ahead(bucket, prefix=prefix or None, limit=features.list_page_size)
        with closing(pages):  # a walk stopped early leaves no request in flight
            for records in pages:
                yield from records
        return
    marker: str | None = None
    while True:
        page = driver.list_objects(
            bucket, prefix=prefix or None, marker=marker, limit=features.list_page_size
        )
        yield from page.items
        if page.next_marker is None:
            return
        marker = page.next_marker


def walk_directory(
    driver: Driver, features: Features, bucket: str, prefix: str
) -> Iterator[ObjectInfo | str]:
    """The objects directly under ``prefix`` ("" or ending in ``/``) and the
    directory names below it (each ending in ``/``), in key order."""
    lister = features.lists_directories
    limit = features.list_page_size
    marker: str | None = None
    if lister is not None:
        while True:
            page = lister.list_directory(bucket, prefix=prefix, marker=marker, limit=limit)
            merged: list[ObjectInfo | str] = [*page.objects, *page.directories]
            merged.sort(key=lambda item: item if isinstance(item, str) else item.key)
            yield from merged
            if page.next_marker is None:
                return
            marker = page.next_marker
    last_directory = None
    for info in walk_objects(driver, features, bucket, prefix):
        slash = info.key.find("/", len(prefix))
        if slash < 0:
            yield info
            continue
        directory = info.key[: slash + 1]
        if directory != last_directory:  # keys below one directory come together
            last_directory = directory
            yield directory
