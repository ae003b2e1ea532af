"""One directory level listed by Swift itself (``delimiter=/``) on both data
planes: ``subdir`` entries are the directories, ``limit`` counts them with
the objects, pages resume past a directory without repeating it, and an
SLO's segments (in ``<bucket>_segments``) never show."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from bucketbridge import CloudProvider, TransferConfig
from bucketbridge.drivers.base import ListsDirectories
from tests.servers.swift import SwiftServer

MiB = 1024 * 1024


def _pages(
    lister: ListsDirectories, bucket: str, prefix: str, limit: int
) -> list[tuple[list[str], list[str]]]:
    pages: list[tuple[list[str], list[str]]] = []
    marker: str | None = None
    while True:
        page = lister.list_directory(bucket, prefix=prefix, marker=marker, limit=limit)
        pages.append(([o.key for o in page.objects], page.directories))
        if page.next_marker is None:
            return pages
        marker = page.next_marker


@pytest.mark.parametrize("plane", ["lean", "sdk"])
def test_the_server_lists_one_level_in_pages(
    swift_server: SwiftServer,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    plane: str,
) -> None:
    provider = make_provider(swift_server.config(data_plane=plane))
    lister = provider.features.lists_directories
    assert lister is not None
    bucket = provider.storage.buckets.create(f"dir-{plane}-{os.urandom(4).hex()}")
    try:
        # an SLO: its segments and upload marker live in <bucket>_segments
        big = TransferConfig(threshold=5 * MiB, part_size=5 * MiB)
        bucket.objects.create("big").upload(os.urandom(6 * MiB), big)
        for key in ("a", "d/1", "d/2", "d/e/3", "f/4", "g"):
            bucket.objects.create(key).upload(b"x")
        # limit counts objects and directories together
        assert _pages(lister, bucket.name, "", 2) == [
            (["a", "big"], []),
            ([], ["d/", "f/"]),
            (["g"], []),
        ]
        # a page ending on a directory resumes past every key below it
        assert _pages(lister, bucket.name, "", 3) == [(["a", "big"], ["d/"]), (["g"], ["f/"])]
        assert _pages(lister, bucket.name, "d/", 1) == [
            (["d/1"], []),
            (["d/2"], []),
            ([], ["d/e/"]),
            ([], []),  # a full page may be the last: Swift cannot say so
        ]
        assert _pages(lister, bucket.name, "f/", 10) == [(["f/4"], [])]
        assert _pages(lister, bucket.name, "nothing/", 10) == [([], [])]
        page = lister.list_directory(bucket.name, prefix="", marker=None, limit=100)
        assert page.next_marker is None
        assert [o.size for o in page.objects if o.key == "big"] == [6 * MiB]
        assert not any("_segments" in name for name in [*page.directories])
        assert not any("_segments" in o.key for o in page.objects)
    finally:
        bucket.delete(delete_contents=True)
