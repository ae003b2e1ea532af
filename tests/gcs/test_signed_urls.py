"""V4 signed URLs on fake-gcs-server, fetched with plain ``requests``. The
server does not check signatures, expiry or method (tests/servers/fake_gcs.py),
so each URL's signature is verified here against the throwaway service
account's public key, for the method it was made for and not the other."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from bucketbridge import Bucket, CloudProvider, InvalidConfigurationException, InvalidValueException
from tests.gcs.v4 import expiry, signature_holds
from tests.servers.fake_gcs import GcsServer

SEVEN_DAYS = 7 * 24 * 3600


def test_get_url_is_signed_for_get_only_and_serves_the_bytes(
    gcs_bucket: Bucket, fake_gcs_server: GcsServer
) -> None:
    obj = gcs_bucket.objects.create("dir/a b+é.txt")
    obj.upload(b"signed bytes")
    url = obj.generate_url(expires_in=600)
    public_key = fake_gcs_server.public_key_pem()
    assert signature_holds(url, "GET", public_key)
    assert not signature_holds(url, "PUT", public_key)  # a read URL cannot write
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.content == b"signed bytes"


def test_put_url_is_signed_for_put_only_and_stores_exactly_the_body(
    gcs_bucket: Bucket, fake_gcs_server: GcsServer
) -> None:
    obj = gcs_bucket.objects.create("upload.bin")
    url = obj.generate_url(expires_in=600, writable=True)
    public_key = fake_gcs_server.public_key_pem()
    assert signature_holds(url, "PUT", public_key)
    assert not signature_holds(url, "GET", public_key)  # a write URL cannot read
    assert "response-content-type" not in parse_qs(urlsplit(url).query)
    assert requests.put(url, data=b"\x00put\xff", timeout=10).status_code == 200
    stored = gcs_bucket.objects.get("upload.bin")
    assert stored is not None and b"".join(stored.iter_content()) == b"\x00put\xff"


def test_tampering_breaks_the_signature(gcs_bucket: Bucket, fake_gcs_server: GcsServer) -> None:
    obj = gcs_bucket.objects.create("tamper.txt")
    url = obj.generate_url(expires_in=600)
    public_key = fake_gcs_server.public_key_pem()
    assert signature_holds(url, "GET", public_key)
    for tampered in (
        url.replace("tamper.txt", "tamper.txu"),
        url.replace("X-Goog-Expires=600", "X-Goog-Expires=6000"),
    ):
        assert not signature_holds(tampered, "GET", public_key)


def test_response_overrides_are_signed_into_get_urls(
    gcs_bucket: Bucket, fake_gcs_server: GcsServer
) -> None:
    obj = gcs_bucket.objects.create("report.csv")
    url = obj.generate_url(
        expires_in=60, content_disposition='attachment; filename="r.csv"', content_type="text/csv"
    )
    query = parse_qs(urlsplit(url).query)
    assert query["response-content-disposition"] == ['attachment; filename="r.csv"']
    assert query["response-content-type"] == ["text/csv"]
    assert signature_holds(url, "GET", fake_gcs_server.public_key_pem())


def test_expiry_is_signed_and_passes(gcs_bucket: Bucket, fake_gcs_server: GcsServer) -> None:
    obj = gcs_bucket.objects.create("soon.txt")
    before = datetime.now(timezone.utc).replace(microsecond=0)
    url = obj.generate_url(expires_in=1)
    assert signature_holds(url, "GET", fake_gcs_server.public_key_pem())
    ends = expiry(url)
    assert before.timestamp() + 1 <= ends.timestamp() <= time.time() + 2
    time.sleep(2.1)
    assert expiry(url) < datetime.now(timezone.utc)  # GCS would answer 400 ExpiredToken
    week = expiry(obj.generate_url(expires_in=SEVEN_DAYS))
    assert abs(week.timestamp() - time.time() - SEVEN_DAYS) < 60


def test_more_than_seven_days_is_refused(gcs_bucket: Bucket) -> None:
    obj = gcs_bucket.objects.create("later.txt")
    with pytest.raises(InvalidValueException, match="expires_in"):
        obj.generate_url(expires_in=SEVEN_DAYS + 1)


def test_without_a_service_account_signing_says_what_to_set(
    fake_gcs_server: GcsServer, make_provider: object
) -> None:
    config = fake_gcs_server.config()
    del config["gcp_service_creds_dict"]
    provider: CloudProvider = make_provider(config)  # type: ignore[operator]
    bucket = provider.storage.buckets.create(f"nosign-{int(time.time() * 1000)}")
    try:
        with pytest.raises(InvalidConfigurationException, match="gcp_service_creds_file"):
            bucket.objects.create("x.txt").generate_url(60)
    finally:
        bucket.delete()
