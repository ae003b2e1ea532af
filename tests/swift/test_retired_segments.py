"""An overwritten or deleted SLO's segments are retired, not deleted at once
(bucketbridge/drivers/swift/retire.py): a reader that started before reads
the old version whole if it finishes within ``swift_segment_grace``; then
Swift's object expirer removes them, and nothing is left for good."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from swiftclient.client import ClientException, Connection

from bucketbridge import CloudProvider, TransferConfig
from bucketbridge.drivers.records import ReadOptions
from tests.servers.swift import SwiftServer
from tests.swift.conftest import live_segments, segment_headers, unique_bucket_name

MiB = 1024 * 1024
SMALL = TransferConfig(threshold=5 * MiB, part_size=5 * MiB, max_concurrency=3)
GRACE = 2


def _provider(
    server: SwiftServer, make: Callable[[dict[str, Any]], CloudProvider], grace: int
) -> CloudProvider:
    return make(server.config(swift_segment_grace=grace))


@pytest.mark.parametrize("replace", ["overwrite", "delete"])
def test_a_reader_that_started_before_reads_the_old_version_whole(
    swift_server: SwiftServer,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    replace: str,
) -> None:
    """Through the proxy (iter_content) and from the segments (a pinned
    ranged read, as a parallel download's parts are): both started before
    the old version was replaced, both finish after."""
    swift = make_provider(swift_server.config())  # the default grace
    bucket = swift.storage.buckets.create(unique_bucket_name())
    try:
        old = os.urandom(11 * MiB)  # 3 segments, nested on the test server
        obj = bucket.objects.create("k.bin").upload(old, SMALL)
        info = swift.driver.head_object(bucket.name, "k.bin")
        assert info is not None
        streaming = obj.iter_content(64 * 1024)
        first = next(streaming)  # the proxy has read the manifest
        pinned = swift.driver.read_object(
            bucket.name, "k.bin", ReadOptions(start=MiB, end=11 * MiB, if_revision=info.revision)
        )
        if replace == "overwrite":
            obj.upload(os.urandom(6 * MiB), SMALL)
        else:
            obj.delete()
        assert first + b"".join(streaming) == old
        assert b"".join(pinned) == old[MiB:]
    finally:
        bucket.delete(delete_contents=True)


def test_retired_segments_are_gone_once_the_grace_is_over(
    swift_server: SwiftServer,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    raw: Connection,
) -> None:
    swift = _provider(swift_server, make_provider, GRACE)
    bucket = swift.storage.buckets.create(unique_bucket_name())
    try:
        obj = bucket.objects.create("k.bin").upload(os.urandom(11 * MiB), SMALL)
        first = set(segment_headers(raw, bucket))
        assert len(first) == 3 + 2  # 3 segments, 2 sub-manifests (MAX_SEGMENTS)
        obj.upload(os.urandom(6 * MiB), SMALL)  # an SLO over an SLO
        bucket.objects.create("gone.bin").upload(os.urandom(6 * MiB), SMALL).delete()
        stored = segment_headers(raw, bucket)
        # retired: X-Delete-At set, or past it already (404) on a slow machine
        retired = {name for name, got in stored.items() if got is None or "x-delete-at" in got}
        assert first <= retired and len(retired) == len(first) + 2
        assert (
            set(live_segments(raw, bucket))
            == set(stored) - retired
            == set(n for n in stored if n.startswith("k.bin/") and n not in first)
        )
        due = max(
            (int(got["x-delete-at"]) for got in stored.values() if got and "x-delete-at" in got),
            default=0,
        )
        assert due <= time.time() + GRACE + 1
        time.sleep(max(0.0, due + 1 - time.time()))
        expired = segment_headers(raw, bucket)
        assert {name for name, headers in expired.items() if headers is None} == retired
        swift_server.expire()  # what a cluster's object expirer does on its pass
        assert set(segment_headers(raw, bucket)) == set(stored) - retired
        assert obj.download_range(0, 6 * MiB) and bucket.objects.get("gone.bin") is None
    finally:
        bucket.delete(delete_contents=True)


def test_deleting_the_bucket_removes_segments_in_their_grace(
    swift: CloudProvider, raw: Connection
) -> None:
    bucket = swift.storage.buckets.create(unique_bucket_name())
    obj = bucket.objects.create("k.bin").upload(os.urandom(6 * MiB), SMALL)
    obj.upload(os.urandom(6 * MiB), SMALL)
    bucket.objects.create("d.bin").upload(os.urandom(6 * MiB), SMALL).delete()
    assert len(segment_headers(raw, bucket)) == 6 and len(live_segments(raw, bucket)) == 2
    # in their grace they are no incomplete upload: a sweep would cut readers off
    assert list(bucket.objects.incomplete_uploads()) == []
    assert bucket.objects.abort_incomplete_uploads() == 0
    # another tool's segment is left; the container stays for it
    raw.put_object(f"{bucket.name}_segments", "theirs/1", b"x")
    bucket.delete(delete_contents=True)
    assert list(segment_headers(raw, bucket)) == ["theirs/1"]
    raw.delete_object(f"{bucket.name}_segments", "theirs/1")
    raw.delete_container(f"{bucket.name}_segments")
    with pytest.raises(ClientException):
        raw.head_container(bucket.name)


def test_no_grace_deletes_old_segments_at_once(
    swift_server: SwiftServer,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    raw: Connection,
) -> None:
    swift = _provider(swift_server, make_provider, 0)
    bucket = swift.storage.buckets.create(unique_bucket_name())
    try:
        obj = bucket.objects.create("k.bin").upload(os.urandom(11 * MiB), SMALL)
        obj.upload(os.urandom(6 * MiB), SMALL)
        assert len(segment_headers(raw, bucket)) == 2
        obj.upload(b"small now")
        bucket.objects.create("d.bin").upload(os.urandom(11 * MiB), SMALL).delete()
        assert segment_headers(raw, bucket) == {}
    finally:
        bucket.delete(delete_contents=True)


def test_where_no_expirer_runs_the_sweep_removes_them_after_the_grace(
    swift_server: SwiftServer,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    raw: Connection,
) -> None:
    """Past their grace retired segments answer 404 and stay listed until
    an expirer runs: abort_incomplete_uploads() removes them."""
    swift = _provider(swift_server, make_provider, GRACE)
    bucket = swift.storage.buckets.create(unique_bucket_name())
    try:
        obj = bucket.objects.create("k.bin").upload(os.urandom(11 * MiB), SMALL)
        old = set(segment_headers(raw, bucket))
        obj.upload(os.urandom(6 * MiB), SMALL)
        time.sleep(GRACE + 1.5)  # X-Delete-After rounds up to the next second
        stored = segment_headers(raw, bucket)
        assert {name for name, got in stored.items() if got is None} == old
        found = [u.object_name for u in bucket.objects.incomplete_uploads()]
        assert found == ["k.bin"]
        assert bucket.objects.abort_incomplete_uploads() == 1
        assert set(segment_headers(raw, bucket)) == set(stored) - old
        assert obj.download_range(0, 6 * MiB) is not None
    finally:
        bucket.delete(delete_contents=True)
