"""``dataplane.request.encode`` returns plain text as it is (checked in C)
and is, for every text, exactly RFC 3986 percent-encoding (urllib's quote)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from bucketbridge.dataplane.request import UNRESERVED, encode

TEXTS = [
    "",
    "small/00001.dat",
    "a-b_c.d~e",
    "with space",
    "new\nline",
    "trailing\n",
    "é/中",
    "a+b=c&d",
    "%41",
    "/lead/and/trail/",
    "\u00a0nbsp",
    "name,size,items(name,etag),nextPageToken",
    "a/b,c(d)/",
    "()",
    "a,b c",
]


@pytest.mark.parametrize("keep_slash", [False, True])
@pytest.mark.parametrize("text", TEXTS)
def test_encode_is_rfc3986_percent_encoding(text: str, keep_slash: bool) -> None:
    assert encode(text, keep_slash=keep_slash) == quote(
        text, safe=UNRESERVED + ("/" if keep_slash else "")
    )
