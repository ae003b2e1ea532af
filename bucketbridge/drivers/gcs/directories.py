"""One "directory" level on GCS: ``objects.list`` with ``delimiter=/``.

GCS answers a page's objects in ``items`` and the folded names in
``prefixes``, ``maxResults`` counting both together, and continues with a
page token (our marker ``t:<token>``). fake-gcs-server counts only the
objects and answers every prefix at or after the page's offset on every
page (those past the page's last object too), so a page here may hold
more entries than asked for: then only the entries up to its last object
count, cut at ``limit`` in key order, and the listing continues after the
last one kept, by key (``startOffset``), which loses and repeats nothing on
either server. A marker that is a key continues after that key; one that
is a directory, after every key below it.

The driver's upload folder (``.bucketbridge/``, :mod:`.uploads`) is never
listed, as in ``list_objects``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..records import DirectoryPage, ObjectInfo
from .pages import info_of_listed
from .uploads import RESERVED_PREFIX

if TYPE_CHECKING:
    from .driver import GcsDriver

_TOKEN_MARKER = "t:"
_DELIMITER = "/"

Entry = tuple[str, "ObjectInfo | str"]


def list_directory(
    driver: GcsDriver, bucket: str, *, prefix: str, marker: str | None, limit: int
) -> DirectoryPage:
    token = start = skip = None
    if marker is not None and marker.startswith(_TOKEN_MARKER):
        token = marker[len(_TOKEN_MARKER) :]
    elif marker is not None and marker.endswith(_DELIMITER):
        start = marker[:-1] + "0"  # "0" follows "/": past every key below that directory
    elif marker is not None:
        start = skip = marker  # startOffset is inclusive: that key is skipped
    taken: list[Entry] = []
    while True:
        room = limit - len(taken)
        # the key a marker names comes first again: ask for one more
        ask = room + (1 if skip is not None else 0)
        items, prefixes, token = _page(driver, bucket, prefix, start, token, ask)
        found: list[Entry] = [
            (info.key, info)
            for info in items
            if info.key != skip and not info.key.startswith(RESERVED_PREFIX)
        ]
        found += [(name, name) for name in prefixes if not name.startswith(RESERVED_PREFIX)]
        found.sort(key=lambda entry: entry[0])  # code point order is UTF-8 byte order
        uncounted = len(items) + len(prefixes) > ask  # fake-gcs-server
        if uncounted or len(found) > room:
            more = bool(token) or len(found) > room
            last = items[-1].key if items else ""
            if uncounted and token:
                # its objects stop at the page's last one, its prefixes do not
                found = [entry for entry in found if entry[0] <= last]
            taken += found[:room]
            if not more:
                return _directory_page(taken, None)
            return _directory_page(taken, taken[-1][0] if found else last)
        taken += found
        skip = None  # a page token continues after it
        if not token or len(taken) >= limit:
            break
    if not token:
        return _directory_page(taken, None)
    if start is None:
        return _directory_page(taken, _TOKEN_MARKER + token)
    # a page token is bound to its query's startOffset: continue by key
    return _directory_page(taken, taken[-1][0] if taken else None)


def _page(
    driver: GcsDriver,
    bucket: str,
    prefix: str,
    start: str | None,
    token: str | None,
    room: int,
) -> tuple[list[ObjectInfo], list[str], str | None]:
    """One server page: its objects, its prefixes, its next page token."""
    from .driver import info_of

    if driver.wire is not None:
        with driver.mapped(bucket):
            page = driver.wire.list_page(
                bucket,
                prefix=prefix or None,
                start_offset=start,
                page_token=token,
                max_results=room,
                delimiter=_DELIMITER,
            )
        items = [info_of_listed(listed) for listed in page.items]
        return items, page.prefixes, page.nextPageToken or None
    with driver.mapped(bucket):
        listing = driver.client.list_blobs(
            bucket,
            prefix=prefix or None,
            delimiter=_DELIMITER,
            start_offset=start,
            page_token=token,
            page_size=room,
            timeout=driver.timeout,
            retry=driver.retry(),
        )
        sdk_page = next(listing.pages, None)
        items = [info_of(blob._properties) for blob in sdk_page or ()]
    prefixes = list(getattr(sdk_page, "prefixes", ()))
    return items, prefixes, listing.next_page_token or None


def _directory_page(entries: list[Entry], next_marker: str | None) -> DirectoryPage:
    objects = [entry for _, entry in entries if isinstance(entry, ObjectInfo)]
    names = [entry for _, entry in entries if isinstance(entry, str)]
    return DirectoryPage(objects, names, next_marker)
