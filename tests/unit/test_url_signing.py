"""Signed URLs of the embedded providers: every key survives the trip through
an HTTP client, and no signed value can be re-read as another."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests

from bucketbridge import CloudProviderFactory, ProviderList
from bucketbridge.drivers.records import UrlRequest
from bucketbridge.urlsigning import SignatureError, UrlSigner

BASE = "http://127.0.0.1:1"
# Keys with '.'/'..' segments, empty segments or backslashes are refused by the
# name rule before any URL is made (tests/unit/test_names.py).
KEYS = [".a", "a.b/..c", "a b+c%d?e#f", "ünï/çødé", "semi;colon=eq&amp", "%2e%2e/x", "~tilde"]


@pytest.mark.parametrize("key", KEYS)
def test_any_key_round_trips_through_get_and_put_urls(key: str) -> None:
    provider = CloudProviderFactory().create_provider(ProviderList.MEMORY, {})
    try:
        bucket = provider.storage.buckets.create("keys")
        obj = bucket.objects.create(key)
        put = requests.put(obj.generate_url(60, writable=True), data=b"payload", timeout=10)
        assert put.status_code == 200
        stored = bucket.objects.get(key)
        assert stored is not None and stored.download_range(0, 10) == b"payload"
        got = requests.get(stored.generate_url(60), timeout=10)
        assert got.status_code == 200 and got.content == b"payload"
    finally:
        provider.close()


def test_values_cannot_be_resplit_into_other_signed_fields() -> None:
    signer = UrlSigner(b"k" * 32)
    url = signer.sign(BASE, "b", "k", UrlRequest("GET", 60, response_content_disposition="inline"))
    query = dict(parse_qsl(urlsplit(url).query))
    assert signer.verify("GET", "b", "k", query).response_headers == {
        "Content-Disposition": "inline"
    }
    for method, bucket, key in [("PUT", "b", "k"), ("GET", "b", "k2"), ("GET", "b2", "k")]:
        with pytest.raises(SignatureError):
            signer.verify(method, bucket, key, query)
    sneaky = signer.sign(BASE, "b", "k\nGET", UrlRequest("GET", 60))
    moved = dict(parse_qsl(urlsplit(sneaky).query))
    with pytest.raises(SignatureError):
        signer.verify("GET", "b", "k", moved)
    extra = urlunsplit(urlsplit(url)._replace(query=urlencode({**query, "other": "1"})))
    with pytest.raises(SignatureError, match="not signed"):
        signer.verify("GET", "b", "k", dict(parse_qsl(urlsplit(extra).query)))


def test_signing_knows_nothing_of_the_server() -> None:
    """The server's lifecycle lives in localserver, which imports urlsigning;
    the reverse import would be a circle."""
    import ast

    import bucketbridge.urlsigning

    tree = ast.parse(Path(bucketbridge.urlsigning.__file__).read_text(encoding="utf-8"))
    imported = {
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not {name for name in imported if "localserver" in name or "threading" in name}
