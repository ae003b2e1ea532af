"""A Swift cluster whose listing pages are capped lower than the default
(``container_listing_limit``/``account_listing_limit``: 10 here, 10,000 by
default), and what that cap does to a DLO: Swift then answers a DLO of at
least a page of segments with no size (its GET chunked, its HEAD the
manifest's own 0 bytes). On both data planes, every listing still names
every object, and such a DLO reads whole, at its size.

The server is this module's own (tests/servers/swift.py ``listing_limit``):
the shared one keeps Swift's defaults."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from swiftclient.client import Connection

from bucketbridge import Bucket, CloudProvider
from bucketbridge.directories import walk_directory
from tests.servers.swift import SwiftServer, start_swift

LIMIT = 10
PLANES = ("lean", "sdk")


@pytest.fixture(scope="module")
def capped_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftServer]:
    with start_swift(tmp_path_factory.mktemp("capped-swift"), listing_limit=LIMIT) as server:
        yield server


@pytest.fixture
def raw(capped_server: SwiftServer) -> Connection:
    storage_url, token = capped_server.auth()
    return Connection(preauthurl=storage_url, preauthtoken=token, retries=0)


@pytest.fixture(params=PLANES)
def capped(
    request: pytest.FixtureRequest,
    capped_server: SwiftServer,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
) -> CloudProvider:
    return make_provider(capped_server.config(data_plane=request.param))


@pytest.fixture
def bucket(capped: CloudProvider) -> Iterator[Bucket]:
    made = capped.storage.buckets.create(f"cap-{uuid.uuid4().hex[:12]}")
    yield made
    made.delete(delete_contents=True)


def test_every_object_is_listed_past_the_clusters_page_limit(
    capped: CloudProvider, bucket: Bucket, raw: Connection
) -> None:
    keys = sorted(f"k{n:03d}" for n in range(2 * LIMIT + 5))
    keys += [f"dir/{n:03d}" for n in range(LIMIT + 3)]
    for key in keys:
        raw.put_object(bucket.name, key, b"x")
    assert [obj.name for obj in bucket.objects] == sorted(keys)
    # one page, as the user asks for it: as many as the cluster gives, and
    # a marker that goes on from there
    first = bucket.objects.list(limit=100)
    assert [obj.name for obj in first] == sorted(keys)[:LIMIT]
    rest = bucket.objects.list(limit=100, marker=first.marker)
    assert [obj.name for obj in rest] == sorted(keys)[LIMIT : 2 * LIMIT]
    # one level, by the server (delimiter=/), as sync and fsspec walk it
    level = list(walk_directory(capped.driver, capped.features, bucket.name, ""))
    names = [item if isinstance(item, str) else item.key for item in level]
    assert names == ["dir/", *(f"k{n:03d}" for n in range(2 * LIMIT + 5))]


def test_every_bucket_is_listed_past_the_clusters_page_limit(
    capped: CloudProvider, raw: Connection
) -> None:
    names = [f"many-{uuid.uuid4().hex[:8]}-{n:02d}" for n in range(LIMIT + 5)]
    for name in names:
        raw.put_container(name)
    try:
        listed = {bucket.name for bucket in capped.storage.buckets}
        assert set(names) <= listed
    finally:
        for name in names:
            raw.delete_container(name)


def test_uploads_are_listed_past_the_clusters_page_limit(bucket: Bucket) -> None:
    """The open uploads are found in the segments container's listing,
    which then holds more names than a page."""
    started = [
        bucket.objects.create(f"up-{n:02d}").create_multipart_upload() for n in range(LIMIT + 3)
    ]
    for upload in started:  # an upload is listed once it has a part
        upload.upload_part(1, b"part")
    try:
        assert sorted(upload.name for upload in bucket.objects.incomplete_uploads()) == sorted(
            upload.name for upload in started
        )
    finally:
        for upload in started:
            upload.abort()


@pytest.fixture
def big_dlo(bucket: Bucket, raw: Connection) -> Iterator[bytes]:
    """``dlo.bin``: a DLO of more segments than a listing page, which Swift
    serves without a size; its bytes."""
    holder = f"{bucket.name}-segments-of-a-dlo"
    raw.put_container(holder)
    parts = [f"part {n:03d};".encode() * (n + 1) for n in range(LIMIT)]
    for number, part in enumerate(parts):
        raw.put_object(holder, f"p/{number:03d}", part)
    raw.put_object(bucket.name, "dlo.bin", b"", headers={"X-Object-Manifest": f"{holder}/p/"})
    yield b"".join(parts)
    bucket.objects.get("dlo.bin").delete()  # type: ignore[union-attr]
    for number in range(len(parts)):
        raw.delete_object(holder, f"p/{number:03d}")
    raw.delete_container(holder)


def test_a_dlo_served_without_a_size_reads_whole(
    bucket: Bucket, big_dlo: bytes, raw: Connection, tmp_path: Path
) -> None:
    answered, _ = raw.get_object(bucket.name, "dlo.bin")
    assert "content-length" not in answered  # the case: Swift states no size
    found = bucket.objects.get("dlo.bin")
    assert found is not None and found.size == len(big_dlo)
    assert b"".join(found.iter_content()) == big_dlo
    assert found.download_range(len(big_dlo) - 10, 10) == big_dlo[-10:]
    target = tmp_path / "dlo.bin"
    found.download_to_file(str(target))
    assert target.read_bytes() == big_dlo


def test_a_dlo_served_without_a_size_is_copied_whole(bucket: Bucket, big_dlo: bytes) -> None:
    """Swift refuses to COPY it (413): it is copied segment by segment."""
    found = bucket.objects.get("dlo.bin")
    assert found is not None
    copied = found.copy_to(bucket, "copy.bin")
    assert copied.size == len(big_dlo)
    assert b"".join(copied.iter_content()) == big_dlo
