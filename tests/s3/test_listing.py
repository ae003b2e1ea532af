"""The driver's own ListObjectsV2 parse agrees with botocore's, on keys that
need URL-encoding in the XML (listed alike by every provider:
tests/conformance/test_objects.py), and pages with one request per page."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timezone
from typing import Any

import pytest

from bucketbridge import Bucket, CloudProvider
from bucketbridge.dataplane.client import Response
from bucketbridge.dataplane.request import Request
from tests.conformance.test_objects import AWKWARD_KEYS
from tests.servers.seaweedfs import S3Server

FOREIGN_KEYS = ["tab\there", "trailing-slash/"]
"""Names the library refuses to create (bucketbridge/names.py) but that other
tools write; listing and reading through the listed handles must still work."""


def test_listing_matches_botocore(seaweedfs_server: S3Server, seaweed_bucket: Bucket) -> None:
    for index, key in enumerate(AWKWARD_KEYS):
        # not empty: a new bucket whose first object is empty makes SeaweedFS
        # stall about a minute on the first write with data
        seaweed_bucket.objects.create(key).upload(b"x" * (index + 1))
    client = seaweedfs_server.boto3_client()
    for index, key in enumerate(FOREIGN_KEYS):
        client.put_object(Bucket=seaweed_bucket.name, Key=key, Body=b"y" * (index + 1))
    expected = {
        item["Key"]: item
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=seaweed_bucket.name)
        for item in page.get("Contents", [])
    }
    listed = list(seaweed_bucket.objects)
    assert sorted(o.name for o in listed) == sorted(AWKWARD_KEYS + FOREIGN_KEYS) == sorted(expected)
    for obj in listed:
        theirs = expected[obj.name]
        assert obj.size == theirs["Size"]
        assert obj.etag == theirs["ETag"].strip('"')
        moment = theirs["LastModified"].astimezone(timezone.utc)
        assert obj.last_modified == moment.strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{moment.microsecond // 1000:03d}Z"
        )
        listed_time = obj.last_modified
        obj.refresh()  # a HEAD, as objects.get makes
        assert obj.last_modified == listed_time
        assert obj.download_range(0, 100) == theirs["Size"] * (
            b"y" if obj.name in FOREIGN_KEYS else b"x"
        )


@pytest.mark.parametrize("plane", ["lean", "sdk"])
def test_one_request_per_page(
    seaweedfs_server: S3Server,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    seaweed_bucket: Bucket,
    plane: str,
) -> None:
    for index in range(25):
        seaweed_bucket.objects.create(f"key-{index:02d}").upload(b"")
    provider = make_provider(seaweedfs_server.config(data_plane=plane))
    requests_made: list[str] = []
    driver = provider.driver  # type: ignore[attr-defined]
    if plane == "sdk":
        driver._client.meta.events.register(
            "before-send.s3.ListObjectsV2", lambda **_: requests_made.append("ListObjectsV2")
        )
    else:
        client = driver._wire._client
        send = client.send

        def counted(request: Request, *args: Any, **options: Any) -> Response:
            if ("list-type", "2") in request.query:
                requests_made.append("ListObjectsV2")
            return send(request, *args, **options)

        client.send = counted
    seaweed_bucket = Bucket(provider, seaweed_bucket.name)
    pages = []
    marker = None
    while True:
        page = seaweed_bucket.objects.list(limit=10, marker=marker)
        pages.append([o.name for o in page])
        if not page.is_truncated:
            break
        marker = page.marker
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [name for page in pages for name in page] == [f"key-{i:02d}" for i in range(25)]
    assert len(requests_made) == 3
    requests_made.clear()
    found = seaweed_bucket.objects.find(name="key-17")
    assert [o.name for o in found] == ["key-17"] and requests_made == []  # a HEAD, not a listing


def test_the_walk_reads_ahead_the_pages_list_gives(
    seaweedfs_server: S3Server,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    seaweed_bucket: Bucket,
) -> None:
    """``list_ahead`` on the lean plane resumes at SeaweedFS's continuation
    tokens (the last key, XML-escaped: ``a&amp;b``) and gives the records
    ``list_objects`` pages give, key for key and field for field; on the SDK
    plane it pages with ``list_objects`` itself."""
    keys = [*AWKWARD_KEYS, "a&b", "a&b/c", "x]]>y"]
    for index, key in enumerate(keys):
        seaweed_bucket.objects.create(key).upload(b"z" * (index + 1))
    for plane in ("lean", "sdk"):
        driver = make_provider(seaweedfs_server.config(data_plane=plane)).driver  # type: ignore[attr-defined]
        paged = []
        marker = None
        while True:
            page = driver.list_objects(seaweed_bucket.name, prefix=None, marker=marker, limit=3)
            paged.append(page.items)
            if page.next_marker is None:
                break
            marker = page.next_marker
        walked = list(driver.list_ahead(seaweed_bucket.name, prefix=None, limit=3))
        assert [[o.key for o in p] for p in walked] == [[o.key for o in p] for p in paged]
        assert walked == paged
        assert sorted(o.key for p in walked for o in p) == sorted(keys)
        prefixed = list(driver.list_ahead(seaweed_bucket.name, prefix="deep/", limit=1))
        assert [o.key for p in prefixed for o in p] == ["deep/a/b/c/d.txt"]
        # stopped early: no page left in flight, the next walk starts afresh
        walk = driver.list_ahead(seaweed_bucket.name, prefix=None, limit=2)
        assert len(next(walk)) == 2
        walk.close()
        # the suite runs other threads (servers, pools): only the walk's own must be gone
        ahead = [t for t in threading.enumerate() if t.name == "bucketbridge-list-ahead"]
        assert ahead == [], ahead
