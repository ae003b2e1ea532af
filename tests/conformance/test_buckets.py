"""Buckets: create, get, find, list, iterate, delete, on every provider, and
on SeaweedFS with its default settings too (see backends.py)."""

from __future__ import annotations

import json
from pathlib import Path

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
from tests.conformance.backends import BUCKET_BACKENDS
from tests.conformance.conftest import backend_factory, unique_name
from tests.servers.providers import ProviderFactory


@pytest.fixture(params=BUCKET_BACKENDS)
def provider_factory(request: pytest.FixtureRequest) -> ProviderFactory:
    return backend_factory(request)


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
        with pytest.raises(DuplicateResourceException, match=name):
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


def _every_bucket_by_pages_of_two(provider: CloudProvider) -> list[str]:
    seen: list[str] = []
    marker = None
    while True:
        page = provider.storage.buckets.list(limit=2, marker=marker)
        assert len(page) <= 2
        seen.extend(b.name for b in page)
        if not page.is_truncated:
            assert page.marker is None
            return seen
        marker = page.marker


def test_list_pages_through_every_bucket_once(provider: CloudProvider) -> None:
    """Paged with an even and then an odd number of buckets: a listing whose
    last page was exactly full once started again from the first bucket.
    The server may hold buckets of other tests, so only ours are counted and
    their order checked; of two consecutive totals one is even whatever the
    others are."""
    prefix = unique_name("pg")
    names: list[str] = []
    try:
        for count in (6, 7):
            while len(names) < count:
                names.append(f"{prefix}-{len(names):02d}")
                provider.storage.buckets.create(names[-1])
            seen = _every_bucket_by_pages_of_two(provider)
            assert len(seen) == len(set(seen)), f"listed twice: {sorted(seen)}"
            assert seen == sorted(seen)
            assert [name for name in seen if name.startswith(prefix)] == names
    finally:
        for name in names:
            provider.storage.buckets.delete(name)


def test_list_limit_must_be_positive(provider: CloudProvider) -> None:
    with pytest.raises(InvalidValueException, match="limit"):
        provider.storage.buckets.list(limit=0)


def test_delete_non_empty_bucket_needs_delete_contents(provider: CloudProvider) -> None:
    """Refused whatever the server's settings (SeaweedFS deletes a non-empty
    bucket by default), by handle and by name, and the object survives."""
    bucket = provider.storage.buckets.create(unique_name())
    bucket.objects.create("keep.txt").upload(b"x")
    with pytest.raises(BucketNotEmptyException, match="delete_contents"):
        bucket.delete()
    with pytest.raises(BucketNotEmptyException, match=bucket.name):
        provider.storage.buckets.delete(bucket.name)
    assert provider.storage.buckets.get(bucket.name) is not None
    kept = bucket.objects.get("keep.txt")
    assert kept is not None and kept.download_range(0, 10) == b"x"
    bucket.delete(delete_contents=True)
    assert provider.storage.buckets.get(bucket.name) is None


def test_a_bucket_holding_only_nested_keys_is_not_empty(provider: CloudProvider) -> None:
    bucket = provider.storage.buckets.create(unique_name())
    bucket.objects.create("deep/er/leaf.txt").upload(b"x")
    with pytest.raises(BucketNotEmptyException):
        bucket.delete()
    assert bucket.objects.get("deep/er/leaf.txt") is not None
    bucket.delete(delete_contents=True)


def test_delete_missing_bucket_raises_not_found(provider: CloudProvider) -> None:
    with pytest.raises(NotFoundException):
        provider.storage.buckets.delete(unique_name())


def test_a_missing_bucket_is_named_by_every_operation(
    provider: CloudProvider, tmp_path: Path
) -> None:
    """The error says the bucket is missing, not that an object is."""
    ghost = Bucket(provider, unique_name())
    missing = rf"bucket '{ghost.name}' does not exist"
    obj = ghost.objects.create("anything")
    with pytest.raises(NotFoundException, match=missing):
        ghost.objects.list()
    with pytest.raises(NotFoundException, match=missing):
        ghost.objects.get("anything")
    with pytest.raises(NotFoundException, match=missing):
        obj.iter_content()
    with pytest.raises(NotFoundException, match=missing):
        obj.download_range(0, 1)
    with pytest.raises(NotFoundException, match=missing):
        obj.download_to_file(tmp_path / "anything")
    with pytest.raises(NotFoundException, match=missing):
        provider.storage.buckets.delete(ghost.name)
    assert provider.storage.buckets.get(ghost.name) is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.enforced("bucket_existence_on_write")
def test_a_write_to_a_missing_bucket_is_refused_naming_it(provider: CloudProvider) -> None:
    ghost = Bucket(provider, unique_name())
    with pytest.raises(NotFoundException, match=rf"bucket '{ghost.name}' does not exist"):
        ghost.objects.create("anything").upload(b"x")
    assert provider.storage.buckets.get(ghost.name) is None


def test_delete_contents_empties_a_bucket_of_many_pages(provider: CloudProvider) -> None:
    bucket = provider.storage.buckets.create(unique_name())
    for i in range(30):
        bucket.objects.create(f"many/{i:02d}").upload(b"x")
    bucket.delete(delete_contents=True)
    assert provider.storage.buckets.get(bucket.name) is None
