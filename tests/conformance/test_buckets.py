"""Buckets: create, get, find, list, iterate, delete, on every provider."""

from __future__ import annotations

import json

import pytest

from bucketbridge import (
    Bucket,
    BucketNotEmptyException,
    CloudProvider,
    DuplicateResourceException,
    InvalidNameException,
    InvalidParamException,
    InvalidValueException,
    NotFoundException,
    ResultList,
)
from tests.conformance.conftest import unique_name

INVALID_NAMES = [
    "hello world",
    "helloWorld",
    "hello.world:how_goes_it",
    "-hello",
    "hello-",
    "hello_bucket",
    "a" * 64,
    "197.10.100.42",
    None,
    "cb",
    "",
]


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_invalid_bucket_names_are_refused(provider: CloudProvider, name: object) -> None:
    with pytest.raises(InvalidNameException) as raised:
        provider.storage.buckets.create(name)  # type: ignore[arg-type]
    assert repr(name) in str(raised.value)


def test_bucket_crud(provider: CloudProvider) -> None:
    name = unique_name()
    buckets = provider.storage.buckets
    assert buckets.get(name) is None
    created = buckets.create(name)
    try:
        assert isinstance(created, Bucket)
        assert created.id == created.name == name
        assert name in repr(created)
        assert json.loads(created.to_json()) == {"id": name, "name": name}
        got = buckets.get(name)
        assert got == created
        assert not got != created  # noqa: SIM202 - __ne__ is under test too
        assert hash(got) == hash(created)
        found = buckets.find(name=name)
        assert isinstance(found, ResultList) and [b.id for b in found] == [name]
        assert buckets.find(name=name + "x") == []
        assert buckets.find(name=name[:-1]) == []  # exact, not a prefix or glob
        assert name in [b.name for b in buckets]
        with pytest.raises(DuplicateResourceException):
            buckets.create(name)
    finally:
        created.delete()
    assert buckets.get(name) is None
    assert name not in [b.name for b in buckets]


def test_id_and_name_are_read_only(provider: CloudProvider) -> None:
    assert isinstance(Bucket.id, property) and Bucket.id.fset is None
    assert isinstance(Bucket.name, property) and Bucket.name.fset is None


def test_find_rejects_other_parameters(provider: CloudProvider) -> None:
    with pytest.raises(InvalidParamException, match="notaparameter"):
        provider.storage.buckets.find(notaparameter="x")
    with pytest.raises(InvalidParamException):
        provider.storage.buckets.find()


def test_list_pages_through_every_bucket_once(provider: CloudProvider) -> None:
    prefix = unique_name("pg")
    names = [f"{prefix}-{i:02d}" for i in range(7)]
    for name in names:
        provider.storage.buckets.create(name)
    try:
        seen: list[str] = []
        marker = None
        pages = 0
        while True:
            page = provider.storage.buckets.list(limit=2, marker=marker)
            assert len(page) <= 2
            seen.extend(b.name for b in page)
            pages += 1
            if not page.is_truncated:
                assert page.marker is None
                break
            marker = page.marker
        ours = [name for name in seen if name.startswith(prefix)]
        assert ours == names
        assert len(seen) == len(set(seen))
        assert pages >= 4
    finally:
        for name in names:
            provider.storage.buckets.delete(name)


def test_list_limit_must_be_positive(provider: CloudProvider) -> None:
    with pytest.raises(InvalidValueException, match="limit"):
        provider.storage.buckets.list(limit=0)


def test_delete_non_empty_bucket_needs_delete_contents(provider: CloudProvider) -> None:
    bucket = provider.storage.buckets.create(unique_name())
    bucket.objects.create("keep.txt").upload(b"x")
    with pytest.raises(BucketNotEmptyException, match="delete_contents"):
        bucket.delete()
    assert provider.storage.buckets.get(bucket.name) is not None
    assert bucket.objects.get("keep.txt") is not None
    bucket.delete(delete_contents=True)
    assert provider.storage.buckets.get(bucket.name) is None


def test_delete_missing_bucket_raises_not_found(provider: CloudProvider) -> None:
    with pytest.raises(NotFoundException):
        provider.storage.buckets.delete(unique_name())


def test_delete_contents_empties_a_bucket_of_many_pages(provider: CloudProvider) -> None:
    bucket = provider.storage.buckets.create(unique_name())
    for i in range(30):
        bucket.objects.create(f"many/{i:02d}").upload(b"x")
    bucket.delete(delete_contents=True)
    assert provider.storage.buckets.get(bucket.name) is None
