"""Listing pages decoded with msgspec (drivers/gcs/pages.py) make the same
records as the SDK path's :func:`info_of` makes from the same resources."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bucketbridge import ProviderInternalException
from bucketbridge.drivers.gcs.driver import info_of
from bucketbridge.drivers.gcs.pages import decode_page, info_of_listed

BASE: dict[str, Any] = {
    "kind": "storage#object",
    "name": "d/\u00e9t\u00e9.bin",
    "size": "300",
    "updated": "2026-11-27T16:02:15.85008Z",
    "generation": "1795795335850122",
    "crc32c": "TtsDzw==",
    "selfLink": "ignored",
    "acl": [{"entity": "ignored"}],
}
RESOURCES = [
    {**BASE, "md5Hash": "rtVj7K+0vMVlTFl6QhVHsg==", "contentType": "text/plain"},
    {**BASE, "metadata": {"bucketbridge-etag": "abc-3", "k": "v"}, "etag": "CJ+s"},
    {**BASE, "etag": '"composed-elsewhere"', "metadata": {}, "updated": "2026-11-27T16:02:15Z"},
    {**{k: v for k, v in BASE.items() if k != "crc32c"}, "size": 0, "generation": 7},
    {**BASE, "crc32c": None, "md5Hash": None, "metadata": None, "contentType": None},
]


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_listed_object_is_the_record_info_of_makes(resource: dict[str, Any]) -> None:
    page = decode_page(json.dumps({"items": [resource], "nextPageToken": "t"}).encode(), "x")
    assert page.nextPageToken == "t" and page.prefixes == []
    assert info_of_listed(page.items[0]) == info_of(json.loads(json.dumps(resource)))


def test_a_page_without_items_or_with_prefixes_only() -> None:
    page = decode_page(b'{"kind": "storage#objects", "prefixes": ["a/", "b/"]}', "x")
    assert (page.items, page.prefixes, page.nextPageToken) == ([], ["a/", "b/"], None)


@pytest.mark.parametrize("body", [b"<html>", b'{"items": [{"size": "1"}]}', b"[]"])
def test_a_body_that_is_not_a_listing_is_a_provider_error(body: bytes) -> None:
    with pytest.raises(ProviderInternalException, match="listing of bucket 'b'"):
        decode_page(body, "listing of bucket 'b'")
