"""Paging helpers: pages cut from a whole list, and pages read one ahead."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from .records import BucketInfo, ObjectInfo, Page

if TYPE_CHECKING:
    from .base import Driver

T = TypeVar("T")
R = TypeVar("R")


def page_of_names(names: Sequence[str], after: str | None, limit: int) -> Page[BucketInfo]:
    """The first ``limit`` of the sorted bucket ``names`` that come after
    ``after``, with the last name as the marker when more follow."""
    start = bisect.bisect_right(names, after) if after is not None else 0
    page = list(names[start : start + limit])
    more = start + limit < len(names)
    return Page([BucketInfo(name) for name in page], page[-1] if more and page else None)


Fetch = Callable[[str | None], tuple[T, str | None]]
"""One page's request: given the marker, the page as the wire gave it (not
yet parsed) and the marker of the page after it (None on the last)."""


class _Ahead(Generic[T]):
    """One page's request running on its own thread."""

    def __init__(self, fetch: Fetch[T], marker: str) -> None:
        self._fetch = fetch
        self._marker = marker
        self._result: tuple[T, str | None] | None = None
        self._error: BaseException | None = None
        # a thread per page, not a pool: nothing outlives the listing, and
        # starting one (~0.1 ms) is nothing beside a page's round trip
        self._thread = threading.Thread(target=self._run, name="bucketbridge-list-ahead")
        self._thread.daemon = True
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._fetch(self._marker)
        except BaseException as error:  # handed to the reader, which raises it
            self._error = error

    def result(self) -> tuple[T, str | None]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def abandon(self) -> None:
        """The reader stopped: wait for the request (its connection goes
        back to the pool once the body is read) and drop the page."""
        self._thread.join()
        self._result = self._error = None


def read_ahead(
    fetch: Fetch[T], parse: Callable[[T], R], marker: str | None = None
) -> Generator[R, None, None]:
    """The pages from ``marker`` on, each requested while the caller's
    ``parse`` of the one before runs and its result is read: the server's
    time for page N+1 runs beside the client's for page N. One page ahead at
    most, and a page's raw bytes are dropped once parsed, so a huge listing
    holds one parsed page and one raw page, never more. A caller that stops
    early (a ``break``, an exception, the generator collected) waits for the
    one request in flight and leaves no thread behind; its error, if any, is
    dropped (the caller no longer wanted that page). Each page is fetched
    with the marker the previous one gave, in order, exactly as a loop of
    requests would: the listing is the same one."""
    page, following = fetch(marker)
    while following is not None:
        ahead = _Ahead(fetch, following)
        try:
            parsed = parse(page)
            del page
            yield parsed
            del parsed
        except BaseException:  # GeneratorExit (a break, the walk collected) or thrown in
            ahead.abandon()
            raise
        page, following = ahead.result()
    yield parse(page)


def pages_in_turn(
    driver: Driver,
    bucket: str,
    *,
    prefix: str | None,
    limit: int,
    marker: str | None = None,
) -> Iterator[list[ObjectInfo]]:
    """``ListsAhead.list_ahead`` without reading ahead: ``list_objects``
    page after page from ``marker`` (a driver's SDK plane, where its pager
    owns the wire; or where a walk read ahead stopped and must go on)."""
    while True:
        page = driver.list_objects(bucket, prefix=prefix, marker=marker, limit=limit)
        yield list(page.items)
        if page.next_marker is None:
            return
        marker = page.next_marker
