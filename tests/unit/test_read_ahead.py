"""``paging.read_ahead``'s rules, on a fake page source (pure logic; the real
servers' listings are tests/conformance/test_read_ahead.py's)."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from bucketbridge.drivers.paging import read_ahead

PAGES = {None: ("p1", "m1"), "m1": ("p2", "m2"), "m2": ("p3", None)}


def ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "bucketbridge-list-ahead"]


class Source:
    """Pages by marker; records which markers were asked for, and can hold a
    request until released."""

    def __init__(self, fail_on: str = "none", slow_on: str = "none") -> None:
        self.asked: list[str | None] = []
        self.fail_on = fail_on
        self.slow_on = slow_on
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, marker: str | None) -> tuple[str, str | None]:
        self.asked.append(marker)
        self.gate.wait(10)
        if marker == self.slow_on:
            threading.Event().wait(0.3)
        if marker == self.fail_on:
            raise OSError(f"page {marker} failed")
        return PAGES[marker]


def test_pages_come_in_order_each_asked_once_with_the_marker_before() -> None:
    source = Source()
    assert list(read_ahead(source, str.upper)) == ["P1", "P2", "P3"]
    assert source.asked == [None, "m1", "m2"]
    assert not ahead_threads()


def test_at_most_one_page_is_asked_ahead() -> None:
    source = Source()
    pages = read_ahead(source, str.upper)
    assert next(pages) == "P1"
    threading.Event().wait(0.2)  # room for a wrongly eager reader to run on
    assert source.asked == [None, "m1"]
    pages.close()


def test_a_failed_page_is_raised_where_it_is_read() -> None:
    pages = read_ahead(Source(fail_on="m2"), str.upper)
    assert next(pages) == "P1"
    assert next(pages) == "P2"
    with pytest.raises(OSError, match="page m2 failed"):
        next(pages)
    assert not ahead_threads()


def test_stopping_early_waits_for_the_request_in_flight_and_leaves_no_thread() -> None:
    # a slow request for page two, which then fails: the walk waits for
    # it, and its error, which nobody reads, is dropped
    source = Source(fail_on="m1", slow_on="m1")
    for page in read_ahead(source, str.upper):
        assert page == "P1"
        break
    assert not ahead_threads()
    assert source.asked == [None, "m1"]


def test_an_error_thrown_in_stops_the_walk_as_cleanly() -> None:
    source = Source()
    pages = read_ahead(source, str.upper)
    next(pages)
    with pytest.raises(KeyError):
        pages.throw(KeyError("caller"))
    assert not ahead_threads()


class Raw:
    """A raw page that can be watched for collection."""

    def __init__(self, text: str) -> None:
        self.text = text


def test_a_raw_page_is_dropped_once_parsed() -> None:
    """While the caller reads parsed page N, the walk holds raw page N+1
    (in flight) but no longer raw page N: two pages at most."""
    raws: dict[str | None, Raw] = {}

    def fetch(marker: str | None) -> tuple[Raw, str | None]:
        text, following = PAGES[marker]
        raws[marker] = Raw(text)
        return raws[marker], following

    watched: list[weakref.ref[Raw]] = []

    def parse(raw: Raw) -> str:
        watched.append(weakref.ref(raw))
        return raw.text.upper()

    pages = read_ahead(fetch, parse)
    assert next(pages) == "P1"
    raws.clear()  # only the walk may hold them now
    gc.collect()
    assert watched[0]() is None
    assert list(pages) == ["P2", "P3"]
