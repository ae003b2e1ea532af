"""One name rule on every provider: the same names are refused with the same
exception before anything is stored, and the same edge names work everywhere."""

from __future__ import annotations

import uuid

import pytest
import requests

from bucketbridge import Bucket, CloudProvider, InvalidNameException
from tests.name_cases import ACCEPTED_OBJECT_NAMES, REFUSED_BUCKET_NAMES, REFUSED_OBJECT_NAMES


def test_reserved_bucket_names_are_refused_everywhere(provider: CloudProvider) -> None:
    for name in REFUSED_BUCKET_NAMES:
        with pytest.raises(InvalidNameException) as raised:
            provider.storage.buckets.create(name)
        assert repr(name) in str(raised.value)
    existing = {bucket.name for bucket in provider.storage.buckets}
    assert existing.isdisjoint(REFUSED_BUCKET_NAMES)


def test_bucket_names_at_the_length_edges_work_everywhere(provider: CloudProvider) -> None:
    for length in (3, 63):
        name = ("b" + uuid.uuid4().hex * 2)[:length]
        bucket = provider.storage.buckets.create(name)
        try:
            assert provider.storage.buckets.get(name) == bucket
        finally:
            bucket.delete(delete_contents=True)


def test_unsafe_object_names_are_refused_everywhere(bucket: Bucket) -> None:
    for key in REFUSED_OBJECT_NAMES:
        with pytest.raises(InvalidNameException) as raised:
            bucket.objects.create(key)
        assert repr(key)[:40] in str(raised.value)
        with pytest.raises(InvalidNameException):
            bucket.objects.get(key)
        with pytest.raises(InvalidNameException):
            bucket.objects.find(name=key)
    assert bucket.objects.list() == []


def test_object_names_at_the_edges_work_everywhere(bucket: Bucket) -> None:
    for key in ACCEPTED_OBJECT_NAMES:
        bucket.objects.create(key).upload(key.encode())
    assert sorted(obj.name for obj in bucket.objects) == sorted(ACCEPTED_OBJECT_NAMES)
    for key in ACCEPTED_OBJECT_NAMES:
        got = bucket.objects.get(key)
        assert got is not None and got.download_range(0, 2048) == key.encode()


def test_every_allowed_name_is_served_by_its_signed_url(bucket: Bucket) -> None:
    """The point of refusing dot segments: what the rule lets through, an HTTP
    client can fetch by URL on every provider."""
    for key in ACCEPTED_OBJECT_NAMES:
        obj = bucket.objects.create(key).upload(key.encode())
        response = requests.get(obj.generate_url(60), timeout=30)
        assert response.status_code == 200, (key, response.status_code)
        assert response.content == key.encode()
