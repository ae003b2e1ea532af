"""The regular-expression read of List Blobs pages (drivers/azure/listing.py)
gives ElementTree's records, field for field, on the layout Azure and Azurite
send, and hands any other body to ElementTree. Pure logic: the bodies are
Azurite's layout, written out; tests/azure/test_wire.py compares the lean
plane's listings (read by the scan) with the SDK's on Azurite itself."""

from __future__ import annotations

import pytest

from bucketbridge.drivers.azure import wire
from bucketbridge.drivers.azure.listing import scan_listing

HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><EnumerationResults'
    ' ServiceEndpoint="http://127.0.0.1:1/devstoreaccount1" ContainerName="c"><Prefix/>'
    "<Marker/><MaxResults>3</MaxResults><Delimiter>/</Delimiter><Blobs>"
)


def _blob(
    name: str,
    *,
    md5: str = "<Content-MD5>MEs77I+hIU+y1MzohrV7kw==</Content-MD5>",
    meta: str = "<Metadata><plain>a b</plain></Metadata>",
    encoded: bool = False,
) -> str:
    attribute = ' Encoded="true"' if encoded else ""
    return (
        f"<Blob><Name{attribute}>{name}</Name><Properties><Creation-Time>Sat, 28 Nov 2026"
        " 01:24:35 GMT</Creation-Time><Last-Modified>Sat, 28 Nov 2026 01:24:35 GMT"
        "</Last-Modified><Etag>0x216B01741B85A60</Etag><Content-Length>12</Content-Length>"
        f"<Content-Type>text/x-t&amp;y</Content-Type>{md5}<Content-Encoding />"
        "<BlobType>BlockBlob</BlobType><LeaseStatus>unlocked</LeaseStatus></Properties>"
        f"{meta}</Blob>"
    )


PAGE = (
    HEAD
    + _blob("]]&gt;x &amp; &lt;y&gt; &#34;q&#x27;")
    + _blob("caf%C3%A9%2Bplus", encoded=True, meta="<Metadata />")
    + _blob(
        "ünï/日本.bin",
        md5="",
        meta="<Metadata><bbx_run_2did>7&amp;&lt;x&gt;</bbx_run_2did><empty />"
        "<bbx__etag>c3b3f33ec1ed7de45d99a636d2f68e6b-2</bbx__etag></Metadata>",
    )
    + _blob("no-metadata", meta="")
    + "<BlobPrefix><Name>dir &amp; co/</Name></BlobPrefix>"
    + '<BlobPrefix><Name Encoded="true">%C3%A9t%C3%A9/</Name></BlobPrefix>'
    + "</Blobs><NextMarker>a&amp;b&lt;c&gt;</NextMarker></EnumerationResults>"
)
EMPTY = HEAD.replace("<Blobs>", "<Blobs />") + "<NextMarker /></EnumerationResults>"


def _by_elementtree(body: bytes, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as patched:
        patched.setattr(wire, "scan_listing", lambda _body: None)
        return wire.parse_listing(body)


@pytest.mark.parametrize("body", [PAGE, EMPTY], ids=["page", "empty"])
def test_the_scan_reads_what_elementtree_reads(body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert scan_listing(body.encode()) is not None
    scanned = wire.parse_listing(body.encode())
    assert scanned == _by_elementtree(body.encode(), monkeypatch)


def test_the_scan_decodes_names_metadata_and_the_stored_etag() -> None:
    page = wire.parse_listing(PAGE.encode())
    first, encoded, multipart, bare = page.objects
    assert first.key == "]]>x & <y> \"q'"
    assert first.content_type == "text/x-t&y"
    assert first.etag == "304b3bec8fa1214fb2d4cce886b57b93"  # the Content-MD5, as hex
    assert first.revision == '"0x216B01741B85A60"' and first.metadata == {"plain": "a b"}
    assert encoded.key == "café+plus" and encoded.metadata == {}
    assert multipart.metadata == {"run-id": "7&<x>", "empty": ""}
    assert multipart.etag == "c3b3f33ec1ed7de45d99a636d2f68e6b-2"
    assert bare.metadata == {} and bare.size == 12
    assert page.directories == ["dir & co/", "été/"]
    assert page.next_marker == "a&b<c>"


@pytest.mark.parametrize(
    "body",
    [
        PAGE.replace("<Blob><Name>no-metadata", "\n  <Blob><Name>no-metadata"),  # white space
        PAGE.replace("a b</plain>", "<![CDATA[a b]]></plain>"),
        PAGE.replace("<plain>a b</plain>", "<!-- c --><plain>a b</plain>"),
        PAGE.replace("a b</plain>", "a\r\nb</plain>"),  # XML reads a line feed here
        PAGE.replace("<Tags />", "").replace(
            "</Metadata></Blob>", "</Metadata><Tags><T><K>k</K></T></Tags></Blob>", 1
        ),
    ],
    ids=["white-space", "cdata", "comment", "carriage-return", "nested"],
)
def test_any_other_layout_goes_to_elementtree(body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert scan_listing(body.encode()) is None
    assert wire.parse_listing(body.encode()) == _by_elementtree(body.encode(), monkeypatch)
