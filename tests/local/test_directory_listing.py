"""The LOCAL provider's one-level listing (``list_directory``, one
``os.scandir``) against a hostile tree: it must answer exactly what folding
its flat listing answers -- a link is no object and is never descended, so
nothing outside the root shows; a directory holding no file (only links,
empty directories, a FIFO) is no "directory"; a prefix cannot climb out of
the bucket."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bucketbridge import CloudProvider, CloudProviderFactory, ProviderList
from bucketbridge.directories import walk_directory
from bucketbridge.drivers.records import ObjectInfo

KEYS = ("top.txt", "a/1", "a/b/2", "keep/.x.0123456789ab.bbpart", "z/deep/k")

# planted by hand beside the objects: none of them is, or holds, an object
OUTSIDE_FILES = ("secret.txt", "tree/inner.txt", "tree/sub/deeper.txt")


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[tuple[CloudProvider, Path]]:
    outside = tmp_path / "outside"
    for name in OUTSIDE_FILES:
        (outside / name).parent.mkdir(parents=True, exist_ok=True)
        (outside / name).write_bytes(b"outside the root: must never be listed")
    root = tmp_path / "root"
    with CloudProviderFactory().create_provider(
        ProviderList.LOCAL, {"local_root": str(root)}
    ) as provider:
        bucket = provider.storage.buckets.create("tree")
        for key in KEYS:
            bucket.objects.create(key).upload(key.encode())
        top = root / "tree"
        (top / "escape").symlink_to(outside / "tree")  # a link to a directory outside
        (top / "a" / "escape").symlink_to(outside / "tree")  # the same, deeper
        (top / "a" / "secret.txt").symlink_to(outside / "secret.txt")  # a link to a file
        (top / "up").symlink_to("..")  # a link back to the root
        # a directory of nothing but non-objects, at two depths
        scratch = top / "only-scratch"
        (scratch / "empty" / "emptier").mkdir(parents=True)
        (scratch / "link").symlink_to(outside / "secret.txt")
        (scratch / "linked-dir").symlink_to(outside / "tree")
        os.mkfifo(scratch / "fifo")
        (top / "a" / "hollow" / "x").mkdir(parents=True)
        yield provider, outside


def _native(provider: CloudProvider, prefix: str, limit: int) -> list[str]:
    lister = provider.features.lists_directories
    assert lister is not None
    seen: list[str] = []
    marker: str | None = None
    while True:
        page = lister.list_directory("tree", prefix=prefix, marker=marker, limit=limit)
        assert len(page.objects) + len(page.directories) <= limit
        seen += [info.key for info in page.objects] + page.directories
        if page.next_marker is None:
            return sorted(seen)
        marker = page.next_marker


def _folded(provider: CloudProvider, prefix: str) -> list[str]:
    flat = dataclasses.replace(provider.features, lists_directories=None)
    return sorted(
        item.key if isinstance(item, ObjectInfo) else item
        for item in walk_directory(provider.driver, flat, "tree", prefix)
    )


@pytest.mark.parametrize(
    "prefix", ["", "a/", "a/b/", "keep/", "only-scratch/", "escape/", "a/escape/", "up/"]
)
@pytest.mark.parametrize("limit", [1, 1000])
def test_one_level_is_the_folded_flat_listing_whatever_is_planted(
    scene: tuple[CloudProvider, Path], prefix: str, limit: int
) -> None:
    provider, _ = scene
    assert _native(provider, prefix, limit) == _folded(provider, prefix)


def test_links_and_hollow_directories_never_show(scene: tuple[CloudProvider, Path]) -> None:
    provider, _ = scene
    assert _native(provider, "", 1000) == ["a/", "keep/", "top.txt", "z/"]
    assert _native(provider, "a/", 1000) == ["a/1", "a/b/"]
    for prefix in ("escape/", "a/escape/", "only-scratch/", "up/", "a/hollow/"):
        assert _native(provider, prefix, 1000) == []
    # a scratch file left by a killed download is a file, so an object, as in the flat listing
    assert _native(provider, "keep/", 1000) == ["keep/.x.0123456789ab.bbpart"]


@pytest.mark.parametrize("prefix", ["../", "./", "a/../", "a//", "a", "../tree/", "x" * 300 + "/"])
def test_a_prefix_never_climbs_out_of_the_bucket(
    scene: tuple[CloudProvider, Path], prefix: str
) -> None:
    provider, _ = scene
    assert _native(provider, prefix, 1000) == []
