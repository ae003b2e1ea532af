"""One directory level on GCS (drivers/gcs/directories.py), on both planes.

fake-gcs-server counts only objects in ``maxResults`` and answers every
prefix past the page's offset on every page (GCS counts both, once): the
pages here must still hold at most ``limit`` entries, none lost or repeated,
whichever way the page boundaries fall between objects and directories.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, cast

import pytest

from bucketbridge import Bucket, CloudProvider, ProviderList
from bucketbridge.directories import walk_directory
from bucketbridge.drivers.gcs.directories import list_directory
from bucketbridge.drivers.gcs.pages import Listed, ListPage
from bucketbridge.drivers.records import ObjectInfo, WriteOptions
from tests.gcs.conftest import unique_bucket_name
from tests.servers.fake_gcs import GcsServer
from tests.servers.providers import provider_factory

if TYPE_CHECKING:
    from bucketbridge.drivers.gcs.driver import GcsDriver

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


# --- GCS's own paging, which fake-gcs-server does not do ----------------------


class _GcsPaging:
    """``objects.list`` with a delimiter as GCS pages it: ``maxResults``
    counts objects and prefixes together, each prefix comes once, and an
    opaque token continues after the last entry given. A stand-in for the
    wire (pure paging logic), to prove the driver's token path."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = sorted(keys, key=str.encode)
        self.requests = 0

    def list_page(
        self,
        bucket: str,
        *,
        prefix: str | None,
        start_offset: str | None,
        page_token: str | None,
        max_results: int,
        delimiter: str | None = None,
    ) -> ListPage:
        self.requests += 1
        prefix = prefix or ""
        entries: list[str] = []
        for key in self.keys:
            if not key.startswith(prefix) or (start_offset and key < start_offset):
                continue
            rest = key[len(prefix) :]
            entry = prefix + rest.split("/", 1)[0] + "/" if "/" in rest else key
            if not entries or entries[-1] != entry:
                entries.append(entry)
        if page_token is not None:
            entries = [entry for entry in entries if entry > page_token]
        page, more = entries[:max_results], len(entries) > max_results
        stamp = datetime(2026, 11, 27, tzinfo=timezone.utc)
        return ListPage(
            items=[Listed(e, stamp, "1", 1, crc32c="c") for e in page if not e.endswith("/")],
            prefixes=[e for e in page if e.endswith("/")],
            nextPageToken=page[-1] if more else None,
        )


class _Driver:
    def __init__(self, wire: _GcsPaging) -> None:
        self.wire = wire

    @contextmanager
    def mapped(self, bucket: str | None = None, key: str | None = None) -> Iterator[None]:
        yield


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 1000])
@pytest.mark.parametrize("prefix", ["", "p/"])
def test_pages_as_gcs_gives_them_continue_by_token_and_lose_nothing(
    prefix: str, limit: int
) -> None:
    wire = _GcsPaging([*KEYS, ".bucketbridge/uploads/x/upload"])
    driver = cast("GcsDriver", _Driver(wire))
    seen: list[str] = []
    marker = None
    while True:
        page = list_directory(driver, "b", prefix=prefix, marker=marker, limit=limit)
        entries = [info.key for info in page.objects] + page.directories
        assert len(entries) <= limit
        seen += sorted(entries, key=str.encode)
        if page.next_marker is None:
            break
        assert page.next_marker.startswith("t:")  # GCS's own token, no key restart
        marker = page.next_marker
    assert seen == _level(prefix)
