"""One directory level on GCS (drivers/gcs/directories.py), on both planes.

fake-gcs-server counts only objects in ``maxResults`` and answers every
prefix past the page's offset on every page (GCS counts both, once): the
pages here must still hold at most ``limit`` entries, none lost or repeated,
whichever way the page boundaries fall between objects and directories.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bucketbridge import Bucket, CloudProvider, ProviderList
from bucketbridge.directories import walk_directory
from bucketbridge.drivers.records import ObjectInfo, WriteOptions
from tests.gcs.conftest import unique_bucket_name
from tests.servers.fake_gcs import GcsServer
from tests.servers.providers import provider_factory

# objects and directories interleaved in key order, runs of each
KEYS = [
    *(f"p/o{i}" for i in range(3)),
    *(f"p/o{i}x/k" for i in range(3)),
    "p/q",
    *(f"p/r{i}/{j}" for i in range(4) for j in range(2)),
    *(f"p/s{i}" for i in range(4)),
    "p/t/deep/er",
    "p/\u00e9",
    "p/\u00e9/x",
    "top",
]


def _level(prefix: str) -> list[str]:
    names = {
        prefix + key[len(prefix) :].split("/", 1)[0] + ("/" if "/" in key[len(prefix) :] else "")
        for key in KEYS
        if key.startswith(prefix)
    }
    return sorted(names, key=str.encode)


@pytest.fixture(scope="module", params=["lean", "sdk"])
def tree(
    request: pytest.FixtureRequest, fake_gcs_server: GcsServer
) -> Iterator[tuple[CloudProvider, Bucket]]:
    with provider_factory(ProviderList.GCP, lambda **config: config) as make:
        provider: CloudProvider = make(**fake_gcs_server.config(data_plane=request.param))
        bucket = provider.storage.buckets.create(unique_bucket_name())
        for key in KEYS:
            bucket.objects.create(key).upload(b"x")
        # an open multipart upload: its folder must never show as a directory
        provider.driver.start_multipart(bucket.name, "p/o0", WriteOptions("text/plain"))
        yield provider, bucket
        for upload in bucket.objects.incomplete_uploads():
            upload.abort()
        bucket.delete(delete_contents=True)


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5, 7, 1000])
@pytest.mark.parametrize("prefix", ["", "p/"])
def test_pages_of_any_size_lose_and_repeat_nothing(
    tree: tuple[CloudProvider, Bucket], prefix: str, limit: int
) -> None:
    provider, bucket = tree
    lister = provider.features.lists_directories
    assert lister is not None
    seen: list[str] = []
    marker = None
    while True:
        page = lister.list_directory(bucket.name, prefix=prefix, marker=marker, limit=limit)
        entries = [info.key for info in page.objects] + page.directories
        assert len(entries) <= limit and (entries or page.next_marker is None)
        seen += sorted(entries, key=str.encode)
        if page.next_marker is None:
            break
        marker = page.next_marker
    assert seen == _level(prefix)


def test_a_key_or_a_directory_as_marker_continues_after_it(
    tree: tuple[CloudProvider, Bucket],
) -> None:
    provider, bucket = tree
    lister = provider.features.lists_directories
    assert lister is not None
    level = _level("p/")
    for marker in ("p/o1", "p/o1x/", "p/r3/", "p/s0"):
        page = lister.list_directory(bucket.name, prefix="p/", marker=marker, limit=3)
        entries = sorted([info.key for info in page.objects] + page.directories, key=str.encode)
        after = level.index(marker) + 1
        assert entries == level[after : after + 3], marker


def test_the_walk_gives_objects_with_their_info(tree: tuple[CloudProvider, Bucket]) -> None:
    provider, bucket = tree
    listed = list(walk_directory(provider.driver, provider.features, bucket.name, "p/"))
    assert [i if isinstance(i, str) else i.key for i in listed] == _level("p/")
    objects = [item for item in listed if isinstance(item, ObjectInfo)]
    assert objects and all(item.size == 1 and item.revision for item in objects)
