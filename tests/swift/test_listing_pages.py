"""The lean plane's decoding of a Swift listing page (pure logic; the
listings themselves run on the real server in tests/conformance): times made
aware in UTC whatever form Swift gives them, large objects' etags and content
types as their manifests say, and a body that is not a listing refused with
what was wrong."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from bucketbridge import ProviderInternalException
from bucketbridge.drivers.swift.listing import decode_page, records_of


def _page(*entries: dict[str, object]) -> bytes:
    return json.dumps(list(entries)).encode()


def _entry(name: str, last_modified: str, **more: object) -> dict[str, object]:
    return {"name": name, "bytes": 3, "hash": "abc", "last_modified": last_modified, **more}


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T04:01:11.123450",
        "2026-11-28T04:01:11.123450Z",
        "2026-11-28T04:01:11.123450+00:00",
    ],
)
def test_a_listed_time_is_aware_utc_to_the_microsecond(text: str) -> None:
    (record,) = records_of(decode_page(_page(_entry("a", text)), 10, "container 'c'")[0])
    assert record.last_modified == datetime(2026, 11, 28, 4, 1, 11, 123450, tzinfo=timezone.utc)
    assert record.last_modified.utcoffset() is not None


def test_a_listed_time_that_is_not_one_is_named_in_the_error() -> None:
    with pytest.raises(ProviderInternalException, match="'yesterday'"):
        records_of(decode_page(_page(_entry("a", "yesterday")), 10, "container 'c'")[0])


def test_a_large_object_lists_with_its_manifest_etag_and_plain_content_type() -> None:
    entry = _entry(
        "big",
        "2026-11-28T04:01:11.000001",
        slo_etag='"feed"',
        content_type="text/plain;swift_bytes=3",
    )
    (record,) = records_of(decode_page(_page(entry), 10, "container 'c'")[0])
    assert (record.etag, record.content_type) == ("feed", "text/plain")


def test_the_next_marker_is_the_last_name_of_a_full_page_only() -> None:
    page = _page(_entry("a", "2026-11-28T04:01:11"), _entry("b\u00e9", "2026-11-28T04:01:11"))
    assert decode_page(page, 2, "container 'c'")[1] == "b\u00e9"
    assert decode_page(page, 3, "container 'c'")[1] is None


def test_a_body_that_is_not_a_listing_is_refused() -> None:
    with pytest.raises(ProviderInternalException, match="not an object listing"):
        decode_page(b"<html>busy</html>", 10, "container 'c'")
