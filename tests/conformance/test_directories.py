"""One "directory" level of a bucket, on every provider.

``bucketbridge.directories.walk_directory`` is what ``ls`` without ``-r`` (the
command line, fsspec) stands on. A driver that ``ListsDirectories`` asks its
server for one level; any other has the core fold the flat listing. Either way
the answer must be the same: the objects directly under the prefix and the
"directories" below it, in key order, whatever the page size.
"""

from __future__ import annotations

import pytest

from bucketbridge import Bucket, CloudProvider
from bucketbridge.directories import walk_directory
from bucketbridge.drivers.records import ObjectInfo
from tests.conformance.conftest import unenforced
from tests.servers.providers import ProviderFactory

NATIVE_DIRECTORY_LISTINGS = frozenset(
    {
        "memory",
        "s3_moto",
        "gcp_fake_gcs",
        "gcp_fake_gcs_sdk",
        "azure_azurite",
        "azure_azurite_sdk",
        "openstack_swift",
        "local",
    }
)
"""The backends whose driver lists one level on the server (``ListsDirectories``);
every other folds a flat listing, which costs a request per page of keys below."""

KEYS = (
    "top.txt",
    "a/1",
    "a/2",
    "a/b/3",
    "a/b/c/4",
    "a-b",
    "a0/x",
    "\u00e9t\u00e9/z",
    "zz/deep/er/k",
)


def _expected(prefix: str) -> list[tuple[str, str]]:
    """The level under ``prefix``, folded from KEYS by hand."""
    found: set[tuple[str, str]] = set()
    for key in KEYS:
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if "/" in rest:
            found.add(("dir", prefix + rest.split("/", 1)[0] + "/"))
        else:
            found.add(("object", key))
    return sorted(found, key=lambda entry: entry[1].encode())


def _entries(items: list[ObjectInfo | str]) -> list[tuple[str, str]]:
    return [("dir", item) if isinstance(item, str) else ("object", item.key) for item in items]


def _assert_level(listed: list[ObjectInfo | str], prefix: str, factory: ProviderFactory) -> None:
    """``listed`` is the level under ``prefix`` in key order, or, on a server
    known not to list in key order, the same entries each exactly once."""
    seen = _entries(listed)
    if "key_order" in unenforced(factory):
        assert len(set(seen)) == len(seen), seen
        seen = sorted(seen, key=lambda entry: entry[1].encode())
    assert seen == _expected(prefix)


@pytest.fixture
def tree(bucket: Bucket) -> Bucket:
    for key in KEYS:
        bucket.objects.create(key).upload(key.encode())
    return bucket


@pytest.mark.parametrize("prefix", ["", "a/", "a/b/", "zz/deep/", "\u00e9t\u00e9/", "missing/"])
def test_one_level_holds_the_objects_and_directories_directly_under_the_prefix(
    provider_factory: ProviderFactory, provider: CloudProvider, tree: Bucket, prefix: str
) -> None:
    listed = list(walk_directory(provider.driver, provider.features, tree.name, prefix))
    _assert_level(listed, prefix, provider_factory)
    for item in listed:
        if isinstance(item, ObjectInfo):
            assert item.size == len(item.key.encode())


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_a_native_directory_listing_pages_without_losing_or_repeating_an_entry(
    provider: CloudProvider, tree: Bucket, limit: int
) -> None:
    lister = provider.features.lists_directories
    if lister is None:
        pytest.skip("this driver folds a flat listing (walk_objects pages are tested elsewhere)")
    for prefix in ("", "a/"):
        seen: list[ObjectInfo | str] = []
        marker: str | None = None
        while True:
            page = lister.list_directory(tree.name, prefix=prefix, marker=marker, limit=limit)
            assert len(page.objects) + len(page.directories) <= limit
            seen += [*page.objects, *page.directories]
            if page.next_marker is None:
                break
            marker = page.next_marker
        assert len(set(_entries(seen))) == len(seen)
        seen.sort(key=lambda item: (item if isinstance(item, str) else item.key).encode())
        assert _entries(seen) == _expected(prefix)


def test_the_driver_lists_directories_on_the_server_where_it_can(
    request: pytest.FixtureRequest, provider: CloudProvider
) -> None:
    backend = request.node.callspec.params["provider_factory"]
    native = provider.features.lists_directories is not None
    assert native == (backend in NATIVE_DIRECTORY_LISTINGS), backend


def test_a_directory_whose_objects_were_all_deleted_is_gone(
    provider_factory: ProviderFactory, provider: CloudProvider, tree: Bucket
) -> None:
    for key in ("a/1", "a/2", "a/b/3", "a/b/c/4"):
        found = tree.objects.get(key)
        assert found is not None
        found.delete()
    listed = list(walk_directory(provider.driver, provider.features, tree.name, ""))
    assert "a/" not in listed
    assert list(walk_directory(provider.driver, provider.features, tree.name, "a/")) == []
