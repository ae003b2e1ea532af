"""Presigned URLs on SeaweedFS, fetched over plain HTTP with requests: they
work as signed, and an expired or tampered one is refused by the server."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from bucketbridge import Bucket, CloudProvider, InvalidValueException

SEVEN_DAYS = 7 * 24 * 3600


def test_signed_put_url_stores_exactly_the_content(seaweed_bucket: Bucket) -> None:
    obj = seaweed_bucket.objects.create("my-file.txt")
    url = obj.generate_url(expires_in=7200, writable=True)
    content = b"Hello world!"
    response = requests.put(url, data=content, timeout=30)
    assert response.status_code == 200, response.text
    stored = seaweed_bucket.objects.get("my-file.txt")
    assert stored is not None and stored.size == len(content)
    assert b"".join(stored.iter_content()) == content
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "response-content-type" not in url


def test_get_url_carries_response_overrides(seaweed_bucket: Bucket) -> None:
    obj = seaweed_bucket.objects.create("data.bin").upload(b"\x00\x01")
    url = obj.generate_url(
        expires_in=60, content_disposition="attachment; filename=d.bin", content_type="x/y"
    )
    response = requests.get(url, timeout=30)
    assert response.status_code == 200 and response.content == b"\x00\x01"
    assert response.headers["Content-Disposition"] == "attachment; filename=d.bin"
    assert response.headers["Content-Type"] == "x/y"


def test_expired_url_is_refused(seaweed_bucket: Bucket) -> None:
    obj = seaweed_bucket.objects.create("brief.txt").upload(b"brief")
    url = obj.generate_url(expires_in=1)
    assert requests.get(url, timeout=30).content == b"brief"
    time.sleep(2.5)
    refused = requests.get(url, timeout=30)
    assert refused.status_code == 403
    assert refused.content != b"brief" and b"expired" in refused.content


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url.replace("/t.txt?", "/u.txt?"),  # another object
        lambda url: url.replace("X-Amz-Expires=100", "X-Amz-Expires=100000"),
        lambda url: url[:-4] + ("0000" if not url.endswith("0000") else "1111"),  # signature
        lambda url: url + "&response-content-type=text%2Fhtml",
    ],
    ids=["key", "expiry", "signature", "added-override"],
)
def test_tampered_url_is_refused(seaweed_bucket: Bucket, tamper: object) -> None:
    seaweed_bucket.objects.create("t.txt").upload(b"t")
    seaweed_bucket.objects.create("u.txt").upload(b"u")
    url = seaweed_bucket.objects.create("t.txt").generate_url(expires_in=100)
    forged = tamper(url)  # type: ignore[operator]
    assert forged != url
    assert requests.get(forged, timeout=30).status_code == 403


def test_read_url_cannot_write(seaweed_bucket: Bucket) -> None:
    obj = seaweed_bucket.objects.create("ro.txt").upload(b"original")
    url = obj.generate_url(expires_in=100)
    assert requests.put(url, data=b"changed", timeout=30).status_code == 403
    assert obj.download_range(0, 100) == b"original"


@pytest.mark.parametrize("expires_in", [SEVEN_DAYS + 1, 30 * 24 * 3600, 0, -1])
def test_expiry_outside_sigv4_limits_is_invalid(seaweed: CloudProvider, expires_in: int) -> None:
    """Checked once, by the core, for every driver: SigV4 cannot sign beyond 7 days."""
    obj = Bucket(seaweed, "s3t-unused").objects.create("k")
    with pytest.raises(InvalidValueException, match="expires_in"):
        obj.generate_url(expires_in=expires_in)
    assert obj.generate_url(expires_in=SEVEN_DAYS).startswith("http://127.0.0.1:")
