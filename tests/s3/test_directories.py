"""S3's one-level listing (ListObjectsV2 with ``Delimiter=/``) on SeaweedFS.

SeaweedFS's providers are made with ``s3_delimiter_listing = false`` (it lists
a folder whose objects were all deleted: tests/servers/seaweedfs.py), so the
conformance suite proves the delimiter path on moto only; here it runs on
SeaweedFS too, on both data planes, over a tree that nothing is deleted from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from bucketbridge import CloudProvider
from bucketbridge.directories import walk_directory
from bucketbridge.drivers.records import ObjectInfo
from tests.conformance.conftest import unique_name
from tests.servers.providers import ProviderFactory

KEYS = ("top", "a/1", "a/2", "a/b/3", "a-b", "a0/x", "z/y/x")


@pytest.fixture(params=["s3_seaweedfs", "s3_seaweedfs_sdk"])
def provider(request: pytest.FixtureRequest) -> CloudProvider:
    factory: ProviderFactory = request.getfixturevalue(f"{request.param}_provider_factory")
    return factory(s3_delimiter_listing=True)


@pytest.fixture
def bucket(provider: CloudProvider) -> Iterator[str]:
    made = provider.storage.buckets.create(unique_name())
    for key in KEYS:
        made.objects.create(key).upload(key.encode())
    yield made.name
    made.delete(delete_contents=True)


def _names(items: list[ObjectInfo | str]) -> list[str]:
    return sorted(item if isinstance(item, str) else item.key for item in items)


@pytest.mark.parametrize("limit", [1, 2, 1000])
def test_one_level_on_the_server_equals_the_folded_flat_listing(
    provider: CloudProvider, bucket: str, limit: int
) -> None:
    lister = provider.features.lists_directories
    assert lister is not None
    for prefix in ("", "a/", "z/", "missing/"):
        seen: list[ObjectInfo | str] = []
        marker: str | None = None
        while True:
            page = lister.list_directory(bucket, prefix=prefix, marker=marker, limit=limit)
            assert len(page.objects) + len(page.directories) <= limit
            seen += [*page.objects, *page.directories]
            if page.next_marker is None:
                break
            marker = page.next_marker
        folded = dataclasses.replace(provider.features, lists_directories=None)
        expected = list(walk_directory(provider.driver, folded, bucket, prefix))
        assert _names(seen) == _names(expected), prefix


def test_seaweedfs_lists_a_folder_whose_objects_were_deleted(
    provider: CloudProvider, bucket: str
) -> None:
    """Why SeaweedFS's providers fold: should this start failing, the server
    no longer keeps emptied folders and ``s3_delimiter_listing`` can stay on."""
    lister = provider.features.lists_directories
    assert lister is not None
    provider.driver.delete_object(bucket, "z/y/x")
    page = lister.list_directory(bucket, prefix="", marker=None, limit=1000)
    assert "z/" in page.directories
