"""Range requests on signed GET URLs, the same on every provider."""

from __future__ import annotations

import pytest
import requests

from bucketbridge import Bucket

CONTENT = bytes(range(256)) * 4  # 1024 bytes, each offset distinguishable


# Swift answers several ranges with a 206 multipart/byteranges (RFC 7233)
@pytest.mark.enforced("whole_object_for_multiple_ranges")
@pytest.mark.parametrize(
    "ranges",
    [
        "bytes=0-9,20-29",  # the two satisfiable ranges once answered 416
        "bytes=20-29,0-9",
        "bytes=0-9,5-15",  # overlapping
        "bytes=-10,0-0",  # a suffix among them
        "bytes=0-9,5000-6000",  # one beyond the end
    ],
)
def test_several_ranges_get_the_whole_object(bucket: Bucket, ranges: str) -> None:
    obj = bucket.objects.create("ranges.bin").upload(CONTENT)
    response = requests.get(obj.generate_url(60), headers={"Range": ranges}, timeout=30)
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["Content-Length"] == str(len(CONTENT))
    assert "Content-Range" not in response.headers


def _assert_range(url: str, header: str, first: int, last: int) -> None:
    response = requests.get(url, headers={"Range": header}, timeout=30)
    assert response.status_code == 206
    assert response.content == CONTENT[first : last + 1]
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/1024"


def test_one_range_gets_exactly_its_bytes(bucket: Bucket) -> None:
    obj = bucket.objects.create("ranges.bin").upload(CONTENT)
    url = obj.generate_url(60)
    _assert_range(url, "bytes=20-29", 20, 29)
    beyond = requests.get(url, headers={"Range": "bytes=5000-6000"}, timeout=30)
    assert beyond.status_code == 416


@pytest.mark.enforced("suffix_ranges")
def test_a_suffix_range_gets_the_last_bytes(bucket: Bucket) -> None:
    obj = bucket.objects.create("ranges.bin").upload(CONTENT)
    _assert_range(obj.generate_url(60), "bytes=-10", 1014, 1023)
