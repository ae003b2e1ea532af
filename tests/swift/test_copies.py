"""Server-side copies on the real Swift (bucketbridge/drivers/swift/copies.py):
a plain object in one copy request pinned by ``If-Match``; an SLO, or a
create-only copy, as segments of the copy's own and a new manifest, with
nothing left behind when it fails."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from swiftclient.client import Connection
from swiftclient.exceptions import ClientException

from bucketbridge import Bucket, CloudProvider, PreconditionFailedException, TransferConfig
from bucketbridge.drivers.base import CopiesObjects
from bucketbridge.drivers.records import ObjectInfo, WriteOptions
from tests.servers.swift import MAX_FILE_SIZE, SwiftServer
from tests.swift.conftest import live_segments

MiB = 1024 * 1024
XY = WriteOptions("x/y")
SMALL = TransferConfig(threshold=5 * MiB, part_size=5 * MiB, max_concurrency=3)


def _segments(raw: Connection, bucket: Bucket) -> list[str]:
    return live_segments(raw, bucket)


def _content(bucket: Bucket, name: str) -> bytes:
    found = bucket.objects.get(name)
    assert found is not None, name
    return b"".join(found.iter_content())


def _copier(provider: CloudProvider) -> CopiesObjects:
    copies = provider.features.copies_objects
    assert copies is not None
    return copies


def _is_slo(raw: Connection, bucket: Bucket, key: str) -> bool:
    return bool(raw.head_object(bucket.name, key).get("x-static-large-object") == "True")


@pytest.mark.parametrize("plane", ["lean", "sdk"])
def test_a_plain_object_is_copied_in_one_request_with_fresh_metadata(
    swift_server: SwiftServer,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    raw: Connection,
    plane: str,
) -> None:
    provider = make_provider(swift_server.config(data_plane=plane))
    bucket = provider.storage.buckets.create(f"cp-{plane}-{os.urandom(4).hex()}")
    try:
        source = bucket.objects.create("src").upload(b"hello", metadata={"a_b": "1", "c": "%2"})
        copied = source.copy_to(
            bucket, "dst", content_type="text/x-new", metadata={"d_e": "50% off"}
        )
        assert copied.size == 5
        stored = bucket.objects.get("dst")
        assert stored is not None
        # replaced, not merged with the source's (X-Fresh-Metadata)
        assert (stored.content_type, stored.metadata) == ("text/x-new", {"d_e": "50% off"})
        assert stored.etag == source.etag  # a plain copy: same bytes, same MD5
        assert not _is_slo(raw, bucket, "dst") and _segments(raw, bucket) == []
    finally:
        bucket.delete(delete_contents=True)


def test_a_copy_over_an_slo_removes_the_slo_s_segments(
    swift_bucket: Bucket, raw: Connection
) -> None:
    swift_bucket.objects.create("dst").upload(os.urandom(6 * MiB), SMALL)
    assert len(_segments(raw, swift_bucket)) == 2
    swift_bucket.objects.create("src").upload(b"small").copy_to(swift_bucket, "dst")
    assert _segments(raw, swift_bucket) == []
    assert _content(swift_bucket, "dst") == b"small"


def test_an_slo_over_the_max_object_size_is_copied_into_segments_of_its_own(
    swift_bucket: Bucket, raw: Connection
) -> None:
    """Swift's own COPY of it is refused (it would concatenate the segments
    into one object over max_file_size, 40 MiB here and 5 GiB on a real
    cluster); the copy gets its own segments, so deleting the source (which
    deletes the source's segments) leaves the copy whole."""
    data = os.urandom(MAX_FILE_SIZE + MiB)
    halves = TransferConfig(threshold=5 * MiB, part_size=MAX_FILE_SIZE // 2)  # 3 parts, nested
    source = swift_bucket.objects.create("big.bin")
    source.upload(data, halves, content_type="application/x-big", metadata={"k": "v"})
    with pytest.raises(ClientException) as refused:
        raw.copy_object(swift_bucket.name, "big.bin", f"/{swift_bucket.name}/plain-copy")
    assert refused.value.http_status == 413
    source_segments = set(_segments(raw, swift_bucket))
    copied = source.copy_to(swift_bucket, "copy.bin")
    assert copied.size == len(data)
    # an SLO's etag is the MD5 of its segments' MD5s: the same bytes in the same segments
    assert copied.etag == source.etag
    mine = set(_segments(raw, swift_bucket)) - source_segments
    assert len(mine) == 3 + 2 and all(name.startswith("copy.bin/") for name in mine)
    assert not any(name.endswith("/open") for name in mine)  # the upload is closed
    source.delete()
    assert set(_segments(raw, swift_bucket)) == mine
    stored = swift_bucket.objects.get("copy.bin")
    assert stored is not None and _is_slo(raw, swift_bucket, "copy.bin")
    assert (stored.content_type, stored.metadata) == ("application/x-big", {"k": "v"})
    assert stored.download_range(len(data) - MiB - 5, MiB + 5) == data[-MiB - 5 :]
    assert list(swift_bucket.objects.incomplete_uploads()) == []
    stored.delete()
    assert _segments(raw, swift_bucket) == []


def test_a_create_only_copy_is_checked_at_its_manifest(
    swift: CloudProvider, swift_bucket: Bucket, raw: Connection
) -> None:
    """A COPY sends If-None-Match: * to its read of the source too (always
    304), so a create-only copy is staged as segments and a manifest."""
    source = swift_bucket.objects.create("src").upload(b"payload", metadata={"k": "v"})
    source.copy_to(swift_bucket, "new", overwrite=False)
    assert _content(swift_bucket, "new") == b"payload"
    assert _is_slo(raw, swift_bucket, "new")
    swift_bucket.objects.create("empty").upload(b"").copy_to(swift_bucket, "e", overwrite=False)
    assert _content(swift_bucket, "e") == b""
    before = set(_segments(raw, swift_bucket))
    # the look-up refuses early; the manifest's If-None-Match refuses a racer
    with pytest.raises(PreconditionFailedException):
        source.copy_to(swift_bucket, "new", overwrite=False)
    looked_up = swift.driver.head_object(swift_bucket.name, "src")
    assert looked_up is not None
    swift_bucket.objects.create("raced").upload(b"first")  # as if written after the look-up
    options = WriteOptions("text/plain", create_only=True)
    with pytest.raises(PreconditionFailedException):
        _race_past_the_look_up(swift, _copier(swift), swift_bucket, looked_up, options)
    assert _content(swift_bucket, "raced") == b"first"
    assert set(_segments(raw, swift_bucket)) == before  # the refused copies left nothing
    assert list(swift_bucket.objects.incomplete_uploads()) == []


def _race_past_the_look_up(
    provider: CloudProvider,
    copies: CopiesObjects,
    bucket: Bucket,
    source: ObjectInfo,
    options: WriteOptions,
) -> None:
    """A create-only copy whose look-up of the destination saw nothing."""
    driver: Any = provider.driver
    looked = driver.object_headers
    driver.object_headers = lambda b, k: None if k == "raced" else looked(b, k)
    try:
        copies.copy_object(bucket.name, source, bucket.name, "raced", options)
    finally:
        del driver.object_headers


def test_a_copy_failing_midway_leaves_no_segments(
    swift: CloudProvider, swift_bucket: Bucket, raw: Connection
) -> None:
    source = swift_bucket.objects.create("src.bin")
    source.upload(os.urandom(16 * MiB), SMALL)  # 4 segments
    info = swift.driver.head_object(swift_bucket.name, "src.bin")
    assert info is not None
    segments = sorted(name for name in _segments(raw, swift_bucket) if name[-1].isdigit())
    raw.delete_object(f"{swift_bucket.name}_segments", segments[-1])  # the last one goes
    before = set(_segments(raw, swift_bucket))
    with pytest.raises(PreconditionFailedException, match="replaced"):
        _copier(swift).copy_object(
            swift_bucket.name,
            info,
            swift_bucket.name,
            "copy.bin",
            WriteOptions("application/octet-stream"),
        )
    assert set(_segments(raw, swift_bucket)) == before
    assert list(swift_bucket.objects.incomplete_uploads()) == []
    assert swift_bucket.objects.get("copy.bin") is None


def test_a_replaced_source_is_refused(swift: CloudProvider, swift_bucket: Bucket) -> None:
    """The copy is pinned by the looked-up etag (a plain object) or the
    manifest's X-Timestamp (an SLO, told apart by the HEAD after the 412);
    nothing remembers revisions between the look and the copy."""
    copies = _copier(swift)
    for name, first, second in (
        ("slo", os.urandom(6 * MiB), os.urandom(6 * MiB)),
        ("plain", b"first", b"second"),
        ("slo-now", b"small", os.urandom(6 * MiB)),
        ("plain-now", os.urandom(6 * MiB), b"small"),
    ):
        swift_bucket.objects.create(name).upload(first, SMALL)
        old = swift.driver.head_object(swift_bucket.name, name)
        assert old is not None
        swift_bucket.objects.create(name).upload(second, SMALL)
        with pytest.raises(PreconditionFailedException, match="replaced"):
            copies.copy_object(swift_bucket.name, old, swift_bucket.name, "out", XY)
        assert swift_bucket.objects.get("out") is None


def test_a_plain_source_written_again_with_the_same_bytes_is_copied(
    swift: CloudProvider, swift_bucket: Bucket
) -> None:
    """Only the etag pins a plain copy: the same bytes written again pass,
    and the copy (its type and metadata the options') is the pinned
    revision's all the same."""
    swift_bucket.objects.create("same").upload(b"first", metadata={"a": "1"})
    old = swift.driver.head_object(swift_bucket.name, "same")
    assert old is not None
    swift_bucket.objects.create("same").upload(b"first", metadata={"b": "2"})
    options = WriteOptions("x/y", {"a": "1"})
    _copier(swift).copy_object(swift_bucket.name, old, swift_bucket.name, "out", options)
    stored = swift_bucket.objects.get("out")
    assert stored is not None and (stored.content_type, stored.metadata) == ("x/y", {"a": "1"})
    assert _content(swift_bucket, "out") == b"first"


def test_another_tool_s_slo_with_small_and_ranged_segments_is_copied(
    swift_bucket: Bucket, raw: Connection
) -> None:
    """Segments of any size (Swift takes 1 byte), a ranged entry, and
    segments outside ``<bucket>_segments``."""
    raw.put_container(f"{swift_bucket.name}_other")
    try:
        raw.put_object(f"{swift_bucket.name}_other", "s1", b"abc")
        raw.put_object(f"{swift_bucket.name}_other", "s2", b"0123456789")
        manifest = [
            {"path": f"/{swift_bucket.name}_other/s1"},
            {"path": f"/{swift_bucket.name}_other/s2", "range": "2-5"},
        ]
        raw.put_object(
            swift_bucket.name, "theirs", json.dumps(manifest), query_string="multipart-manifest=put"
        )
        theirs = swift_bucket.objects.get("theirs")
        assert theirs is not None and theirs.size == 7
        copied = theirs.copy_to(swift_bucket, "ours")
        assert copied.size == 7
        assert _content(swift_bucket, "ours") == b"abc2345"
        swift_bucket.objects.get("ours").delete()  # type: ignore[union-attr]
        assert _segments(raw, swift_bucket) == []  # the copy's segments were its own
        assert _content(swift_bucket, "theirs") == b"abc2345"
    finally:
        raw.delete_object(swift_bucket.name, "theirs")
        for name in ("s1", "s2"):
            raw.delete_object(f"{swift_bucket.name}_other", name)
        raw.delete_container(f"{swift_bucket.name}_other")


@pytest.mark.parametrize("overwrite", [True, False])
def test_keys_swift_must_quote_are_copied(
    swift_bucket: Bucket, raw: Connection, overwrite: bool
) -> None:
    """X-Copy-From is percent-encoded, as the segments' names (the key's)."""
    key = "dir/100% sure é ?#+.bin"
    source = swift_bucket.objects.create(key).upload(b"odd")
    source.copy_to(swift_bucket, key + ".copy", overwrite=overwrite)
    assert _content(swift_bucket, key + ".copy") == b"odd"
    assert _is_slo(raw, swift_bucket, key + ".copy") is not overwrite  # create-only: staged
    swift_bucket.objects.create(key + ".copy").delete()
    assert _segments(raw, swift_bucket) == []


def test_a_dlo_over_the_max_object_size_is_copied_segment_by_segment(
    swift_bucket: Bucket, raw: Connection
) -> None:
    """A DLO (``X-Object-Manifest``) another tool wrote: Swift's own COPY
    concatenates it and is refused above max_file_size (40 MiB here); the
    copy is an SLO of copies of its segments (an empty one skipped), and
    stays whole when the DLO's segments go."""
    parts = [os.urandom(MAX_FILE_SIZE // 2), b"", os.urandom(MAX_FILE_SIZE // 2), os.urandom(MiB)]
    data = b"".join(parts)
    holder = f"{swift_bucket.name}-dlo"
    raw.put_container(holder)
    try:
        for number, part in enumerate(parts):
            raw.put_object(holder, f"big/{number:03d}", part)
        raw.put_object(
            swift_bucket.name,
            "dlo.bin",
            b"",
            content_type="application/x-dlo",
            headers={"X-Object-Manifest": f"{holder}/big/"},
        )
        with pytest.raises(ClientException) as refused:
            raw.copy_object(swift_bucket.name, "dlo.bin", f"/{swift_bucket.name}/plain-copy")
        assert refused.value.http_status == 413
        source = swift_bucket.objects.get("dlo.bin")
        assert source is not None and source.size == len(data)
        copied = source.copy_to(swift_bucket, "copy.bin")
        assert copied.size == len(data)
        # 3 segments (the empty one adds nothing) and 2 sub-manifests (2 per manifest here)
        assert len(_segments(raw, swift_bucket)) == 3 + 2
        for number in range(len(parts)):
            raw.delete_object(holder, f"big/{number:03d}")
        stored = swift_bucket.objects.get("copy.bin")
        assert stored is not None and _is_slo(raw, swift_bucket, "copy.bin")
        assert stored.content_type == "application/x-dlo"
        assert (
            stored.download_range(MAX_FILE_SIZE // 2 - 5, 10)
            == data[MAX_FILE_SIZE // 2 - 5 : MAX_FILE_SIZE // 2 + 5]
        )
        assert stored.download_range(len(data) - MiB - 5, MiB + 5) == data[-MiB - 5 :]
        assert list(swift_bucket.objects.incomplete_uploads()) == []
    finally:
        _, listing = raw.get_container(holder, full_listing=True)
        for entry in listing:
            raw.delete_object(holder, entry["name"])
        raw.delete_container(holder)


def test_a_dlo_whose_segments_changed_since_it_was_looked_up_is_refused(
    swift: CloudProvider, swift_bucket: Bucket, raw: Connection
) -> None:
    """Its manifest's X-Timestamp stays when a segment changes: the etag
    looked up (the MD5 of its segments' etags) pins it."""
    holder = f"{swift_bucket.name}-dlo"
    raw.put_container(holder)
    try:
        raw.put_object(holder, "s/1", os.urandom(3 * MiB))
        raw.put_object(holder, "s/2", os.urandom(3 * MiB))
        raw.put_object(swift_bucket.name, "dlo", b"", headers={"X-Object-Manifest": f"{holder}/s/"})
        old = swift.driver.head_object(swift_bucket.name, "dlo")
        assert old is not None and old.size == 6 * MiB
        raw.put_object(holder, "s/2", os.urandom(3 * MiB))  # other bytes, same size
        with pytest.raises(PreconditionFailedException, match="replaced"):
            _copier(swift).copy_object(swift_bucket.name, old, swift_bucket.name, "copy", XY)
        assert swift_bucket.objects.get("copy") is None
        assert _segments(raw, swift_bucket) == []
    finally:
        _, listing = raw.get_container(holder, full_listing=True)
        for entry in listing:
            raw.delete_object(holder, entry["name"])
        raw.delete_container(holder)


def test_a_dlo_whose_segments_container_is_gone_is_deleted(
    swift: CloudProvider, raw: Connection
) -> None:
    bucket = swift.storage.buckets.create(f"dlo-{os.urandom(4).hex()}")
    raw.put_object(bucket.name, "dlo", b"", headers={"X-Object-Manifest": "gone/s/"})
    assert bucket.objects.get("dlo") is None  # Swift answers its HEAD 404
    bucket.delete(delete_contents=True)  # the DLO listed goes, then the bucket
    assert swift.storage.buckets.get(bucket.name) is None
