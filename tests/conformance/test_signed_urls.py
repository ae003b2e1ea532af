"""Signed URLs over real HTTP, on every provider."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests

from bucketbridge import Bucket, BucketObject, CloudProvider, InvalidValueException
from tests.conformance.conftest import unenforced
from tests.servers.providers import ProviderFactory

# Azure's Put Blob needs this header (the seed sends it on every provider);
# the others ignore it.
BLOB_TYPE = {"x-ms-blob-type": "BlockBlob"}


def _tamper(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_get_url_serves_the_object(bucket: Bucket) -> None:
    obj = bucket.objects.create("hello.txt").upload(b"Hello signed world")
    url = obj.generate_url(expires_in=100)
    response = requests.get(url, timeout=30)
    assert response.status_code == 200
    assert response.content == b"Hello signed world"
    ranged = requests.get(url, headers={"Range": "bytes=6-11"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == b"signed"


def test_put_url_uploads_exactly_the_content(bucket: Bucket, provider: CloudProvider) -> None:
    obj = bucket.objects.create("upload.txt")
    url = obj.generate_url(expires_in=100, writable=True)
    content = b"Hello world!"
    response = requests.put(url, data=content, headers=BLOB_TYPE, timeout=30)
    assert response.status_code in (200, 201)
    stored = bucket.objects.get("upload.txt")
    assert stored is not None and stored.size == len(content)
    assert b"".join(stored.iter_content()) == content
    plain = requests.put(url, data=b"again", timeout=30)
    stored.refresh()
    if provider.PROVIDER_ID == "azure":
        # Put Blob without x-ms-blob-type is a bad request on Azure, as the
        # seed warns; nothing is stored
        assert plain.status_code == 400
        assert stored.download_range(0, 100) == content
    else:
        assert plain.status_code in (200, 201)
        assert stored.download_range(0, 100) == b"again"


@pytest.mark.enforced("signed_url_method")
def test_a_read_url_cannot_write_and_a_write_url_cannot_read(bucket: Bucket) -> None:
    obj = bucket.objects.create("guarded.txt").upload(b"original")
    read_url = obj.generate_url(expires_in=100)
    write_url = obj.generate_url(expires_in=100, writable=True)
    refused = requests.put(read_url, data=b"overwritten", headers=BLOB_TYPE, timeout=30)
    assert refused.status_code in REFUSED
    assert requests.get(write_url, timeout=30).status_code in REFUSED
    assert obj.download_range(0, 100) == b"original"


@pytest.mark.enforced("response_overrides")
def test_response_header_overrides(bucket: Bucket) -> None:
    obj = bucket.objects.create("report.csv").upload(b"a,b\n1,2\n")
    url = obj.generate_url(
        expires_in=100,
        content_disposition='attachment; filename="r.csv"',
        content_type="text/csv",
    )
    response = requests.get(url, timeout=30)
    assert response.status_code == 200 and response.content == b"a,b\n1,2\n"
    assert response.headers["Content-Disposition"] == 'attachment; filename="r.csv"'
    assert response.headers["Content-Type"].startswith("text/csv")
    binary = bucket.objects.create("data.bin").upload(b"\x00\x01")
    url = binary.generate_url(
        expires_in=60, content_disposition="attachment; filename=d.bin", content_type="x/y"
    )
    response = requests.get(url, timeout=30)
    assert response.status_code == 200 and response.content == b"\x00\x01"
    assert response.headers["Content-Disposition"] == "attachment; filename=d.bin"
    assert response.headers["Content-Type"] == "x/y"


def test_writable_url_carries_no_response_overrides(bucket: Bucket) -> None:
    obj = bucket.objects.create("w.txt")
    url = obj.generate_url(
        expires_in=100, writable=True, content_disposition="attachment", content_type="text/csv"
    )
    for marker in ("response-content-disposition", "response-content-type", "rscd=", "filename="):
        assert marker not in url.lower()


ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _later(value: str) -> str | None:
    """An expiry pushed later: epoch seconds (S3's X-Amz-Expires, local) or
    an ISO 8601 UTC time (Azure's se=); None for anything else."""
    if value.isdigit():
        return str(int(value) + 1000)
    if not ISO_TIME.fullmatch(value):
        return None
    moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    return (moment + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _override_parameter(obj: BucketObject) -> str:
    """The query parameter this provider's URLs carry a content-type override in."""
    url = obj.generate_url(expires_in=100, content_type="x/forged-check")
    names = [n for n, v in parse_qsl(urlsplit(url).query) if v == "x/forged-check"]
    assert len(names) == 1, url
    return names[0]


@pytest.mark.enforced("signatures")
def test_tampered_url_is_refused(bucket: Bucket, provider_factory: ProviderFactory) -> None:
    obj = bucket.objects.create("t.txt").upload(b"secret")
    other = bucket.objects.create("other.txt").upload(b"other")
    url = obj.generate_url(expires_in=100)
    other_url = other.generate_url(expires_in=100)
    swapped = url.replace("/t.txt?", "/other.txt?")
    assert swapped != url and requests.get(swapped, timeout=30).status_code in REFUSED
    query = dict(parse_qsl(urlsplit(url).query))
    pushed = 0
    for name, value in query.items():
        later = _later(value)
        if later is not None:
            pushed += 1
            assert requests.get(_tamper(url, name, later), timeout=30).status_code in REFUSED
    assert pushed, f"no expiry parameter in {url}"
    if "response_overrides" not in unenforced(provider_factory):
        # a provider without content-type overrides (Swift) has no parameter
        # to forge one in: its URLs refuse to be made with one
        forged = requests.get(_tamper(url, _override_parameter(obj), "text/html"), timeout=30)
        # refused, or the added parameter is ignored: it cannot change the answer
        assert forged.status_code in REFUSED or "text/html" not in forged.headers["Content-Type"]
    signatures = [name for name in query if "sig" in name.lower()]
    assert signatures, f"no signature parameter in {url}"
    for name in signatures:  # one character of the signature changed
        value = query[name]
        changed = _tamper(url, name, value[:-1] + ("0" if value[-1] != "0" else "1"))
        assert requests.get(changed, timeout=30).status_code in REFUSED
    assert requests.get(other_url, timeout=30).content == b"other"


@pytest.mark.enforced("signed_url_expiry")
def test_expired_url_is_refused(bucket: Bucket, provider_factory: ProviderFactory) -> None:
    obj = bucket.objects.create("brief.txt").upload(b"soon gone")
    url = obj.generate_url(expires_in=2)
    write_url = obj.generate_url(expires_in=2, writable=True)
    assert requests.get(url, timeout=30).content == b"soon gone"  # before it expires
    time.sleep(3.5)
    refused = requests.get(url, timeout=30)
    assert refused.status_code in REFUSED
    assert refused.content != b"soon gone"
    if "expiry_reason" not in unenforced(provider_factory):
        assert b"expired" in refused.content
    late = requests.put(write_url, data=b"late", headers=BLOB_TYPE, timeout=30)
    assert late.status_code in REFUSED
    assert obj.download_range(0, 100) == b"soon gone"


REFUSED = (401, 403)  # S3 and the others answer 403, Swift's tempurl 401

SEVEN_DAYS = 7 * 24 * 3600  # the longest a SigV4 URL may live; every provider keeps to it


@pytest.mark.parametrize("expires_in", [0, -1, -5, SEVEN_DAYS + 1, 30 * 24 * 3600, 1.5, "60", True])
def test_bad_expiry_is_refused(bucket: Bucket, expires_in: object) -> None:
    obj = bucket.objects.create("e.txt")
    with pytest.raises(InvalidValueException, match="expires_in"):
        obj.generate_url(expires_in=expires_in)  # type: ignore[arg-type]


def test_seven_days_is_the_longest_expiry(bucket: Bucket) -> None:
    obj = bucket.objects.create("week.txt").upload(b"week")
    url = obj.generate_url(expires_in=SEVEN_DAYS)
    assert requests.get(url, timeout=30).content == b"week"


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("content_disposition", "attachment\r\nSet-Cookie: stolen=1"),
        ("content_type", "text/html\nX-Injected: 1"),
        ("content_disposition", "inline; filename=\u00fcber.txt"),
    ],
)
def test_header_overrides_must_be_plain_ascii(bucket: Bucket, param: str, value: str) -> None:
    obj = bucket.objects.create("h.txt").upload(b"x")
    with pytest.raises(InvalidValueException, match=param):
        obj.generate_url(expires_in=60, **{param: value})  # type: ignore[arg-type]
