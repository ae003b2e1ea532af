"""The content type guessed for a key is mimetypes' guess for the whole key,
though it is remembered by the suffixes of the key's last segment: the keys
below are the ones where a cache keyed on less would differ."""

from __future__ import annotations

import mimetypes

import pytest

from bucketbridge.drivers.records import guess_content_type

KEYS = [
    "a.txt",
    "dir/a.TXT",
    "dir.json/a",
    "dir/.hidden",
    "dir/..txt",
    "dir/.bashrc.txt",
    "a.tar.gz",
    "a.b.tar.gz",
    "a.svgz",
    "a.gz",
    "photo.jpeg",
    "dir/no-suffix",
    "ends.with.dot.",
    "data:text/plain,hi",
    "s3://bucket/a.html",
    "dir/a.html?x=1",
    "dir/a.html#frag",
    "emoji/\u00e9t\u00e9.csv",
    "",
]


@pytest.mark.parametrize("key", KEYS)
def test_the_guess_is_mimetypes_guess_for_the_whole_key(key: str) -> None:
    expected = mimetypes.guess_type(key, strict=False)[0] or "application/octet-stream"
    assert guess_content_type(key) == expected
    assert guess_content_type(key) == expected  # remembered: the same again


def test_keys_with_the_same_last_suffixes_share_a_guess_and_others_do_not() -> None:
    assert guess_content_type("x/one.csv") == guess_content_type("y/two.csv") == "text/csv"
    assert guess_content_type("x/one.csv.gz") == "text/csv"  # the encoding's inner type
    assert guess_content_type("x/one.png") != guess_content_type("x/one.csv")
