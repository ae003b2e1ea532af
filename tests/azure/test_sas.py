"""Signed URLs as SAS on Azurite, with plain ``requests``.

Azurite enforces all of it (checked here, not assumed): the signature, the
expiry, and the permissions. The URL's own fields are checked as well, so
that a server that enforced less would not hide a URL that grants more:
``sp=r`` for reading, ``sp=cw`` for writing (never ``r``), ``se`` the expiry.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import requests
from azure.storage.blob import ContainerClient

from bucketbridge import Bucket

BLOB_TYPE = {"x-ms-blob-type": "BlockBlob"}


def _fields(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def _with(url: str, name: str, value: str) -> str:
    """``url`` with one query field set to ``value``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode({**_fields(url), name: value})))


def test_a_read_url_grants_read_only_until_it_expires(azure_bucket: Bucket) -> None:
    obj = azure_bucket.objects.create("r.txt").upload(b"readable")
    before = datetime.now(timezone.utc)
    url = obj.generate_url(expires_in=600)
    fields = _fields(url)
    assert fields["sp"] == "r" and fields["sr"] == "b"
    expiry = datetime.strptime(fields["se"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert before + timedelta(seconds=590) <= expiry <= before + timedelta(seconds=610)
    assert "rscd" not in fields and "rsct" not in fields
    assert requests.get(url, timeout=30).content == b"readable"
    put = requests.put(url, data=b"overwritten", headers=BLOB_TYPE, timeout=30)
    assert put.status_code == 403
    assert requests.delete(url, timeout=30).status_code == 403
    assert obj.download_range(0, 100) == b"readable"


def test_a_write_url_creates_and_writes_but_cannot_read(
    azure_bucket: Bucket, container: ContainerClient
) -> None:
    obj = azure_bucket.objects.create("w.txt")
    url = obj.generate_url(expires_in=600, writable=True)
    assert _fields(url)["sp"] == "cw"  # create + write, no read: unlike CloudBridge's
    created = requests.put(url, data=b"first", headers=BLOB_TYPE, timeout=30)
    assert created.status_code == 201
    replaced = requests.put(url, data=b"second", headers=BLOB_TYPE, timeout=30)
    assert replaced.status_code == 201
    assert requests.get(url, timeout=30).status_code == 403
    assert requests.head(url, timeout=30).status_code == 403
    assert requests.delete(url, timeout=30).status_code == 403
    assert container.get_blob_client("w.txt").download_blob().readall() == b"second"


def test_a_put_without_the_blob_type_header_is_a_bad_request(azure_bucket: Bucket) -> None:
    url = azure_bucket.objects.create("no-header.txt").generate_url(60, writable=True)
    assert requests.put(url, data=b"x", timeout=30).status_code == 400
    assert azure_bucket.objects.get("no-header.txt") is None


def test_overrides_are_signed_fields(azure_bucket: Bucket) -> None:
    obj = azure_bucket.objects.create("report.csv").upload(b"a,b\n")
    url = obj.generate_url(
        expires_in=60, content_disposition='attachment; filename="r.csv"', content_type="text/csv"
    )
    fields = _fields(url)
    assert fields["rscd"] == 'attachment; filename="r.csv"' and fields["rsct"] == "text/csv"
    response = requests.get(url, timeout=30)
    assert response.headers["Content-Disposition"] == 'attachment; filename="r.csv"'
    assert response.headers["Content-Type"] == "text/csv"
    assert requests.get(_with(url, "rsct", "text/html"), timeout=30).status_code == 403


def test_a_tampered_signature_or_permission_is_refused(azure_bucket: Bucket) -> None:
    obj = azure_bucket.objects.create("t.txt").upload(b"guarded")
    url = obj.generate_url(expires_in=60)
    signature = _fields(url)["sig"]
    assert requests.get(url, timeout=30).status_code == 200
    for name, value in (
        ("sp", "rw"),
        ("sr", "c"),
        ("sig", ("B" if signature[0] == "A" else "A") + signature[1:]),
        ("rscd", "attachment"),
    ):
        forged = _with(url, name, value)
        assert requests.get(forged, timeout=30).status_code == 403, name


def test_a_url_lives_at_least_the_seconds_asked_for(azure_bucket: Bucket) -> None:
    obj = azure_bucket.objects.create("f.txt").upload(b"f")
    for seconds in (1, 2, 60):
        before = time.time()
        expiry = parse_qs(urlsplit(obj.generate_url(seconds)).query)["se"][0]
        expires = datetime.strptime(expiry, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        assert expires.timestamp() >= before + seconds


def test_an_expired_url_is_refused(azure_bucket: Bucket) -> None:
    obj = azure_bucket.objects.create("brief.txt").upload(b"soon gone")
    read = obj.generate_url(expires_in=1)
    write = obj.generate_url(expires_in=1, writable=True)
    time.sleep(2.5)
    assert requests.get(read, timeout=30).status_code == 403
    assert requests.put(write, data=b"late", headers=BLOB_TYPE, timeout=30).status_code == 403
    assert obj.download_range(0, 100) == b"soon gone"
