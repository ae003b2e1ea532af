"""The regular-expression scan of ListObjectsV2 pages (drivers/s3/listing.py)
reads every layout S3 servers send as ElementTree does, and hands any other
body to ElementTree. Pure logic: the bodies are the servers' layouts, written
out; tests/s3/test_listing.py and the conformance suite list on the servers."""

from __future__ import annotations

import pytest

from bucketbridge.drivers.s3.listing import (
    START_AFTER,
    _parse_tree,
    _scan,
    next_marker_of,
    parse_directory_body,
)

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'

AWS = f"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult {NS}><Name>b</Name><Prefix>d/</Prefix><KeyCount>3</KeyCount>
<MaxKeys>3</MaxKeys><Delimiter>/</Delimiter><EncodingType>url</EncodingType>
<IsTruncated>true</IsTruncated><Contents><Key>d/caf%C3%A9+x%2B1</Key>
<LastModified>2026-11-27T13:00:00.123Z</LastModified><ETag>&quot;abc&quot;</ETag>
<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><Size>12</Size><Owner><ID>o</ID></Owner>
<StorageClass>STANDARD</StorageClass></Contents><Contents><Key>d/a%26b%3Cc</Key>
<LastModified>2026-11-27T13:00:01.000Z</LastModified><ETag>&quot;def-2&quot;</ETag>
<Size>0</Size></Contents><CommonPrefixes><Prefix>d/sub%20dir/</Prefix></CommonPrefixes>
<NextContinuationToken>1a+/b=&amp;c</NextContinuationToken></ListBucketResult>"""

SEAWEED = (
    f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult {NS}><Name>b</Name>'
    "<Prefix></Prefix><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
    "<Contents><Key>k &amp; &lt;1&gt;</Key><ETag>&#34;9dd4&#34;</ETag><Size>1</Size>"
    "<StorageClass>STANDARD</StorageClass><LastModified>2026-11-27T16:03:20Z</LastModified>"
    "</Contents><CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListBucketResult>"
)

MOTO = f"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult {NS}>
  <Name>b</Name>
  <IsTruncated>false</IsTruncated>
  <CommonPrefixes>
    <Prefix>a/</Prefix>
  </CommonPrefixes>
  <CommonPrefixes>
    <Prefix>%C3%A9t%C3%A9/</Prefix>
  </CommonPrefixes>
  <EncodingType>url</EncodingType>
</ListBucketResult>"""


@pytest.mark.parametrize("body", [AWS, SEAWEED, MOTO], ids=["aws", "seaweedfs", "moto"])
def test_the_scan_reads_what_elementtree_reads(body: str) -> None:
    scanned = _scan(body.encode())
    assert scanned is not None
    assert scanned == _parse_tree(body.encode())


def test_the_scan_decodes_keys_etags_prefixes_and_the_token() -> None:
    listed = _scan(AWS.encode())
    assert listed is not None
    assert [o.key for o in listed.objects] == ["d/caf\u00e9 x+1", "d/a&b<c"]
    assert [(o.etag, o.revision, o.size) for o in listed.objects] == [
        ("abc", '"abc"', 12),
        ("def-2", '"def-2"', 0),
    ]
    assert listed.prefixes == ["d/sub dir/"]
    assert (listed.truncated, listed.next_token) == (True, "1a+/b=&c")
    assert str(listed.objects[0].last_modified) == "2026-11-27 13:00:00+00:00"


@pytest.mark.parametrize(
    "body",
    [
        AWS.replace("<ETag>&quot;def-2&quot;</ETag>", ""),  # a Contents without an ETag
        AWS.replace("<Key>d/a%26b%3Cc</Key>", "<Key><![CDATA[d/a&b]]></Key>"),
        AWS.replace("<Size>12</Size>", "<!-- x --><Size>12</Size>"),
        AWS.replace("<Contents>", "<s3:Contents>").replace("</Contents>", "</s3:Contents>"),
        AWS.replace("<Prefix>d/sub%20dir/</Prefix>", "<Prefix >d/sub%20dir/</Prefix>"),
    ],
    ids=["missing-etag", "cdata", "comment", "prefixed-tags", "odd-prefix"],
)
def test_any_other_layout_goes_to_elementtree(body: str) -> None:
    assert _scan(body.encode()) is None


def test_a_body_the_scan_refuses_is_still_parsed() -> None:
    body = AWS.replace("<Size>12</Size>", "<!-- x --><Size>12</Size>").encode()
    assert parse_directory_body(body) == _parse_tree(body)


def test_the_next_marker_is_read_from_the_page_as_its_parse_reads_it() -> None:
    assert next_marker_of(AWS.encode()) == "1a+/b=&c"
    assert next_marker_of(SEAWEED.encode()) is None  # the last page
    cdata = AWS.replace("1a+/b=&amp;c", "<![CDATA[t&<k>]]>")
    assert next_marker_of(cdata.encode()) == "t&<k>"
    # truncated, but no token: the page's last key, to start after
    tokenless = AWS.replace("<NextContinuationToken>1a+/b=&amp;c</NextContinuationToken>", "")
    assert next_marker_of(tokenless.encode()) == START_AFTER + "d/a&b<c"
