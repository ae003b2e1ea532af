"""Temporary credentials from moto's STS, used exactly as the seed does:
``aws_access_key``, ``aws_secret_key`` and ``aws_session_token``.

moto checks neither signatures nor tokens (see tests/servers/moto.py); what is
proven here is that the token travels: the client the driver built signs with
it, so presigned URLs carry it as X-Amz-Security-Token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from bucketbridge import CloudProvider, DuplicateResourceException
from tests.s3.conftest import unique_bucket_name
from tests.servers.moto import MotoServer


def test_session_token_provider_uses_buckets_and_signed_urls(
    moto_server: MotoServer, make_provider: Callable[[dict[str, Any]], CloudProvider]
) -> None:
    issued = moto_server.session_credentials()
    provider = make_provider(
        {
            "aws_access_key": issued.access_key,
            "aws_secret_key": issued.secret_key,
            "aws_session_token": issued.session_token,
            "s3_endpoint_url": moto_server.endpoint_url,
        }
    )
    bucket = provider.storage.buckets.create(unique_bucket_name())
    try:
        obj = bucket.objects.create("token.txt").upload(b"with a session token")
        assert [o.name for o in bucket.objects.list()] == ["token.txt"]

        url = obj.generate_url(expires_in=7200)
        query = parse_qs(urlsplit(url).query)
        assert query["X-Amz-Security-Token"] == [issued.session_token]
        assert query["X-Amz-Credential"][0].startswith(issued.access_key + "/")
        assert requests.get(url, timeout=30).content == b"with a session token"

        put_url = bucket.objects.create("put.txt").generate_url(expires_in=7200, writable=True)
        assert parse_qs(urlsplit(put_url).query)["X-Amz-Security-Token"] == [issued.session_token]
        assert requests.put(put_url, data=b"Hello world!", timeout=30).status_code == 200
        stored = bucket.objects.get("put.txt")
        assert stored is not None and stored.download_range(0, 100) == b"Hello world!"
    finally:
        bucket.delete(delete_contents=True)


def test_duplicate_bucket_in_us_east_1_is_refused(
    moto_server: MotoServer, make_provider: Callable[[dict[str, Any]], CloudProvider]
) -> None:
    """us-east-1 (and moto) answer 200 to re-creating your own bucket; the
    driver looks first so a duplicate still raises."""
    provider = make_provider(moto_server.config())
    name = unique_bucket_name()
    provider.storage.buckets.create(name)
    try:
        try:
            provider.storage.buckets.create(name)
        except DuplicateResourceException as error:
            assert "already exists and is yours" in str(error)
        else:
            raise AssertionError("creating an existing bucket did not raise")
    finally:
        provider.storage.buckets.delete(name)
