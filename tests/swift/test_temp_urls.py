"""Temp URLs on real Swift, fetched with plain ``requests``: the account's own
key is used (set only when it has none), the method is signed, expiry and
tampering are refused, Content-Disposition maps to ``filename=``/``inline``,
and a Content-Type override is refused rather than silently dropped."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from swiftclient.client import Connection

from bucketbridge import Bucket, CloudProvider, InvalidValueException
from tests.servers.swift import SwiftServer

KEYS = ("x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2")


def _account_keys(raw: Connection) -> dict[str, str]:
    headers = raw.head_account()
    return {name: headers[name] for name in KEYS if name in headers}


@pytest.fixture
def no_account_key(raw: Connection) -> None:
    raw.post_account({"X-Remove-Account-Meta-Temp-URL-Key": "x"})
    raw.post_account({"X-Remove-Account-Meta-Temp-URL-Key-2": "x"})


def test_a_key_is_set_only_when_the_account_has_none(
    no_account_key: None, swift_server: SwiftServer, make_provider, raw: Connection
) -> None:
    first = make_provider(swift_server.config())
    bucket = first.storage.buckets.create(f"swt-key-{time.time_ns()}")
    try:
        obj = bucket.objects.create("a.txt").upload(b"one")
        assert requests.get(obj.generate_url(60), timeout=10).content == b"one"
        set_once = _account_keys(raw)
        assert list(set_once) == ["x-account-meta-temp-url-key"]
        # another provider (another process) reuses it: URLs made earlier keep working
        second = make_provider(swift_server.config())
        again = second.storage.buckets.get(bucket.name).objects.get("a.txt")
        assert requests.get(again.generate_url(60), timeout=10).content == b"one"
        assert _account_keys(raw) == set_once
    finally:
        bucket.delete(delete_contents=True)


def test_an_existing_key_is_used_and_never_replaced(
    no_account_key: None, swift: CloudProvider, raw: Connection, swift_bucket: Bucket
) -> None:
    raw.post_account({"X-Account-Meta-Temp-URL-Key-2": "someone-elses-key"})
    obj = swift_bucket.objects.create("b.txt").upload(b"two")
    assert requests.get(obj.generate_url(60), timeout=10).content == b"two"
    assert _account_keys(raw) == {"x-account-meta-temp-url-key-2": "someone-elses-key"}


def test_get_and_put_urls_do_only_their_method(swift_bucket: Bucket) -> None:
    obj = swift_bucket.objects.create("c.txt").upload(b"old")
    read_url, write_url = obj.generate_url(60), obj.generate_url(60, writable=True)
    assert requests.put(read_url, data=b"x", timeout=10).status_code == 401
    assert requests.get(write_url, timeout=10).status_code == 401
    assert requests.put(write_url, data=b"new", timeout=10).status_code == 201
    assert requests.get(read_url, timeout=10).content == b"new"


def _expires(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["temp_url_expires"][0])


def test_a_url_lives_at_least_the_seconds_asked_for(swift_bucket: Bucket) -> None:
    obj = swift_bucket.objects.create("f.txt").upload(b"f")
    for seconds in (1, 2, 60):
        before = time.time()
        assert _expires(obj.generate_url(seconds)) >= before + seconds


def test_expired_and_tampered_urls_are_refused(swift_bucket: Bucket) -> None:
    obj = swift_bucket.objects.create("d.txt").upload(b"data")
    url = obj.generate_url(2)
    assert requests.get(url, timeout=10).content == b"data"
    tampered = url.replace("temp_url_sig=", "temp_url_sig=0")
    assert requests.get(tampered, timeout=10).status_code == 401
    other = url.replace("/d.txt?", "/e.txt?")
    assert requests.get(other, timeout=10).status_code == 401
    # Swift refuses once now > expires (whole seconds)
    time.sleep(max(0.0, _expires(url) + 1.1 - time.time()))
    assert requests.get(url, timeout=10).status_code == 401


def test_content_disposition_maps_to_filename_and_inline(swift_bucket: Bucket) -> None:
    obj = swift_bucket.objects.create("dir/report.csv").upload(b"a,b")
    attachment = requests.get(
        obj.generate_url(60, content_disposition='attachment; filename="final report.csv"'),
        timeout=10,
    )
    assert attachment.headers["Content-Disposition"].startswith(
        'attachment; filename="final report.csv"'
    )
    inline = requests.get(obj.generate_url(60, content_disposition="inline"), timeout=10)
    assert inline.headers["Content-Disposition"] == "inline"
    assert inline.content == b"a,b"


def test_a_content_type_override_is_refused_not_dropped(swift_bucket: Bucket) -> None:
    obj = swift_bucket.objects.create("e.txt").upload(b"x")
    with pytest.raises(InvalidValueException, match="Content-Type"):
        obj.generate_url(60, content_type="text/html")
