"""What is S3's own in presigned URLs, on SeaweedFS: SigV4 query signing and
its 7-day limit checked by the driver itself. How signed URLs behave (content,
response overrides, expiry, tampering, method) is checked on every provider
in tests/conformance/test_signed_urls.py."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from bucketbridge import Bucket

SEVEN_DAYS = 7 * 24 * 3600


def test_urls_are_sigv4_query_signed(seaweed_bucket: Bucket) -> None:
    obj = seaweed_bucket.objects.create("my-file.txt")
    writable = obj.generate_url(expires_in=7200, writable=True)
    for url in (writable, obj.generate_url(60)):
        query = parse_qs(urlsplit(url).query)
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert "X-Amz-Signature" in query
    assert "response-content-type" not in writable
