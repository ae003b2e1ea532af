"""Large objects are SLOs whose segments live in ``<bucket>_segments``, out of
every listing of the bucket, and go with the object, the abort, or the
clean-up of a killed upload (bucketbridge/drivers/swift/large.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from swiftclient.client import ClientException, Connection

from bucketbridge import (
    Bucket,
    CloudProvider,
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
    TransferConfig,
)
from bucketbridge.drivers.records import ReadOptions
from tests.interrupts import Interrupted, interrupted_completions
from tests.servers.swift import MAX_FILE_SIZE, MAX_SEGMENTS
from tests.swift.conftest import live_segments

MiB = 1024 * 1024
SMALL = TransferConfig(threshold=5 * MiB, part_size=5 * MiB, max_concurrency=3)


def _segments(raw: Connection, bucket: Bucket) -> list[str]:
    return live_segments(raw, bucket)


def test_an_slo_keeps_its_segments_out_of_the_bucket(
    swift: CloudProvider, swift_bucket: Bucket, raw: Connection
) -> None:
    data = os.urandom(11 * MiB)
    obj = swift_bucket.objects.create("big/file.bin").upload(
        data, SMALL, content_type="application/x-thing", metadata={"run_id": "7", "Owner": "ana"}
    )
    headers = raw.head_object(swift_bucket.name, "big/file.bin")
    assert headers["x-static-large-object"] == "True"
    stored = _segments(raw, swift_bucket)
    # 3 parts, 2 per manifest on the test server (MAX_SEGMENTS): 2 sub-manifests
    assert sum(name.rpartition("/")[2].isdigit() for name in stored) == 3
    assert sum("/manifest-" in name for name in stored) == 2
    top = json.loads(
        raw.get_object(swift_bucket.name, "big/file.bin", query_string="multipart-manifest=get")[1]
    )
    assert len(top) <= MAX_SEGMENTS
    assert [o.name for o in swift_bucket.objects.list()] == ["big/file.bin"]
    names = [b.name for b in swift.storage.buckets.list(limit=1000)]
    assert swift_bucket.name in names and f"{swift_bucket.name}_segments" not in names
    got = swift_bucket.objects.get("big/file.bin")
    assert got is not None and got.size == len(data)
    # the manifest PUT carried the content type and the metadata, '_' included
    assert got.content_type == "application/x-thing"
    assert got.metadata == {"run_id": "7", "owner": "ana"}
    assert obj.download_range(5 * MiB - 3, 6) == data[5 * MiB - 3 : 5 * MiB + 3]
    obj.delete()
    assert _segments(raw, swift_bucket) == []  # multipart-manifest=delete


def test_create_only_is_checked_at_the_manifest(swift_bucket: Bucket, raw: Connection) -> None:
    obj = swift_bucket.objects.create("once.bin").upload(b"first")
    with pytest.raises(PreconditionFailedException):
        obj.upload(os.urandom(6 * MiB), SMALL, overwrite=False)  # If-None-Match: * on the manifest
    assert obj.download_range(0, 10) == b"first"
    assert _segments(raw, swift_bucket) == []  # the failed upload's segments are gone


def test_abort_removes_the_segments(swift_bucket: Bucket, raw: Connection) -> None:
    upload = swift_bucket.objects.create("aborted.bin").create_multipart_upload()
    upload.upload_part(1, os.urandom(5 * MiB))
    upload.upload_part(2, os.urandom(10))
    assert len(_segments(raw, swift_bucket)) == 2  # the two parts, and no marker
    upload.abort()
    assert _segments(raw, swift_bucket) == []


def test_a_killed_upload_is_found_and_cleaned_up(
    swift: CloudProvider, swift_bucket: Bucket, raw: Connection
) -> None:
    """No marker is written: the segments no manifest names are the open
    uploads, even a killed overwrite of a large object (whose manifest
    names other segments of the same key)."""
    done = swift_bucket.objects.create("done.bin").upload(os.urandom(6 * MiB), SMALL)
    other = swift_bucket.objects.create("other.bin").upload(os.urandom(6 * MiB), SMALL)
    # another tool's segment (swiftclient's naming) is none of ours
    raw.put_object(f"{swift_bucket.name}_segments", "x.bin/slo/1700000000.0/6/5/00000000", b"s")
    kept = set(_segments(raw, swift_bucket))
    assert not any(name.endswith("/open") for name in kept)  # completed uploads: no marker
    upload = swift_bucket.objects.create("killed.bin").create_multipart_upload()
    assert set(_segments(raw, swift_bucket)) == kept  # starting wrote nothing
    upload.upload_part(1, os.urandom(5 * MiB))  # then the process "dies"
    over = swift_bucket.objects.create("done.bin").create_multipart_upload()
    over.upload_part(1, os.urandom(5 * MiB))
    over.upload_part(2, os.urandom(10))  # and so does an overwrite of done.bin
    # another process sees them, and only them
    found = sorted((u.object_name, u.id) for u in swift_bucket.objects.incomplete_uploads())
    assert found == sorted([("killed.bin", upload.id), ("done.bin", over.id)])
    assert swift_bucket.objects.abort_incomplete_uploads() == 2
    assert list(swift_bucket.objects.incomplete_uploads()) == []
    assert set(_segments(raw, swift_bucket)) == kept  # the completed SLOs' stay
    assert swift_bucket.objects.get("done.bin").size == done.size == 6 * MiB  # type: ignore[union-attr]
    assert other.download_range(0, 4) is not None


def test_an_upload_marked_open_by_an_older_version_is_found(
    swift_bucket: Bucket, raw: Connection
) -> None:
    """Uploads started before markers were dropped still clean up whole."""
    upload = swift_bucket.objects.create("old.bin").create_multipart_upload()
    upload.upload_part(1, os.urandom(10))
    raw.put_object(f"{swift_bucket.name}_segments", f"old.bin/{upload.id}/open", b"")
    assert [(u.object_name, u.id) for u in swift_bucket.objects.incomplete_uploads()] == [
        ("old.bin", upload.id)
    ]
    swift_bucket.objects.abort_incomplete_uploads()
    assert _segments(raw, swift_bucket) == []


def test_an_object_over_the_servers_max_file_size_is_stored_as_an_slo(
    swift_bucket: Bucket,
) -> None:
    """The test server's max_file_size is 40 MiB (5 GiB on a real cluster):
    one PUT above it is refused, the same upload in parts is stored."""
    data = os.urandom(MAX_FILE_SIZE + MiB)
    one_put = TransferConfig(threshold=2 * MAX_FILE_SIZE)
    with pytest.raises(InvalidValueException, match="larger than the Swift server accepts"):
        swift_bucket.objects.create("huge.bin").upload(data, one_put)
    obj = swift_bucket.objects.create("huge.bin").upload(data)  # default 32 MiB threshold
    assert obj.size == len(data)
    assert obj.download_range(len(data) - 5, 5) == data[-5:]


def test_a_bucket_named_like_a_segments_container(
    swift: CloudProvider, raw: Connection, swift_bucket: Bucket
) -> None:
    """Made by another tool (bucketbridge's names have no '_'): found by
    name and usable, though bucket listings leave such containers out."""
    name = f"{swift_bucket.name}x_segments"
    raw.put_container(name)
    raw.put_object(name, "a.txt", b"a")
    found = swift.storage.buckets.get(name)
    assert found is not None and [o.name for o in found.objects.list()] == ["a.txt"]
    found.delete(delete_contents=True)
    assert swift.storage.buckets.get(name) is None


@pytest.mark.parametrize("key", ["replaced.bin", "dir/100% sure é %41.bin"])
def test_overwriting_an_slo_removes_its_old_segments(
    swift_bucket: Bucket, raw: Connection, key: str
) -> None:
    obj = swift_bucket.objects.create(key).upload(os.urandom(6 * MiB), SMALL)
    first = set(_segments(raw, swift_bucket))
    assert len(first) == 2
    obj.upload(os.urandom(7 * MiB), SMALL)  # an SLO over an SLO
    second = set(_segments(raw, swift_bucket))
    assert len(second) == 2 and not first & second
    obj.upload(b"small now")  # a plain object over an SLO
    assert _segments(raw, swift_bucket) == []
    assert obj.download_range(0, 100) == b"small now"


def test_many_parts_nest_manifests_as_deep_as_needed(swift_bucket: Bucket, raw: Connection) -> None:
    """5 parts with 2 per manifest: 3 sub-manifests, then 2 above them."""
    data = os.urandom(21 * MiB)
    obj = swift_bucket.objects.create("deep.bin").upload(data, SMALL)
    assert obj.size == len(data)
    assert obj.download_range(0, len(data)) == data
    assert sum("/manifest-1-" in name for name in _segments(raw, swift_bucket)) == 2
    obj.upload(b"replaced")  # the old SLO's whole tree goes
    assert _segments(raw, swift_bucket) == []
    obj.upload(data, SMALL)
    obj.delete()
    assert _segments(raw, swift_bucket) == []


def test_parallel_ranged_downloads_of_an_slo(swift_bucket: Bucket, tmp_path: Path) -> None:
    """Each ranged read keeps its connection until its body is read. (A
    connection handed to another request mid-body broke a 1 GiB download in
    bench/bench_swift.py; at this size the race did not show, so this checks
    the parallel ranged path, not that race.)"""
    data = os.urandom(39 * MiB)
    obj = swift_bucket.objects.create("parallel.bin").upload(data, SMALL)
    # 8 ranges on 3 threads: connections are reused while other bodies stream
    many = TransferConfig(threshold=5 * MiB, part_size=5 * MiB, max_concurrency=3)
    for round_ in range(3):
        target = tmp_path / f"copy-{round_}.bin"
        obj.download_to_file(target, many)
        assert target.read_bytes() == data


def test_a_pinned_read_of_an_slo_comes_from_its_segments_and_never_mixes_revisions(
    swift: CloudProvider, swift_bucket: Bucket, raw: Connection
) -> None:
    """On the lean plane a pinned ranged read of an SLO reads the manifest
    once and GETs the segments (bucketbridge/drivers/swift/segments.py),
    each with If-Match on the etag its manifest names: a range across
    segments (and nested manifests: 3 parts are nested on this server) is
    whole; the revision it was pinned to is served while its segments are
    there, even once the object is replaced; a segment changed since is
    refused."""
    data = os.urandom(15 * MiB)
    swift_bucket.objects.create("pinned.bin").upload(data, SMALL)
    driver = swift.driver
    info = driver.head_object(swift_bucket.name, "pinned.bin")
    assert info is not None and info.revision is not None

    def read(start: int, end: int) -> bytes:
        options = ReadOptions(start=start, end=end, if_revision=info.revision)
        return b"".join(driver.read_object(swift_bucket.name, "pinned.bin", options))

    assert read(3 * MiB, 12 * MiB + 5) == data[3 * MiB : 12 * MiB + 5]
    # replaced by a plain object (another tool's: the old segments stay)
    raw.put_object(swift_bucket.name, "pinned.bin", b"new")
    assert read(MiB, 11 * MiB) == data[MiB : 11 * MiB]
    # a segment rewritten with other bytes is not the revision's any more
    segment = next(name for name in _segments(raw, swift_bucket) if name.endswith("/00002"))
    raw.put_object(f"{swift_bucket.name}_segments", segment, os.urandom(5 * MiB))
    with pytest.raises(PreconditionFailedException, match="replaced"):
        read(4 * MiB, 6 * MiB)
    assert read(0, MiB) == data[:MiB]  # the first segment is still the revision's


def test_completing_an_slo_takes_its_info_from_the_manifest_put(
    swift: CloudProvider, swift_bucket: Bucket
) -> None:
    """No HEAD after the manifest (~11 ms a large upload): its PUT's answer
    carries the SLO's etag and time, and the rest is what was sent."""
    driver: Any = swift.driver
    heads: list[str] = []
    looked = driver.head_object
    driver.head_object = lambda bucket, key: heads.append(key) or looked(bucket, key)
    try:
        obj = swift_bucket.objects.create("done.bin").upload(
            os.urandom(6 * MiB), SMALL, content_type="text/x-done", metadata={"k_1": "v"}
        )
    finally:
        del driver.head_object
    assert heads == []
    stored = swift.driver.head_object(swift_bucket.name, "done.bin")
    assert stored is not None
    assert (obj.size, obj.etag, obj.content_type, obj.metadata) == (
        stored.size,
        stored.etag,
        stored.content_type,
        stored.metadata,
    )


def test_large_uploads_look_for_the_bucket_once_and_recover_from_changes_behind_them(
    swift: CloudProvider, swift_bucket: Bucket, raw: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver remembers a bucket whose segments container it made: a
    later large upload sends no HEAD and no container PUT first. A segments
    container deleted behind its back is made again; a bucket deleted
    behind its back is not-found, naming the bucket, with nothing made."""
    from bucketbridge.drivers.swift.large import SloUpload

    prepared: list[str] = []
    prepare = SloUpload._prepare

    def counted(self: SloUpload) -> None:
        prepared.append(self.upload_id)
        prepare(self)

    monkeypatch.setattr(SloUpload, "_prepare", counted)
    data = os.urandom(6 * MiB)
    first = swift_bucket.objects.create("one.bin").upload(data, SMALL)
    swift_bucket.objects.create("two.bin").upload(data, SMALL)
    assert len(prepared) == 1  # the first upload looked; the second did not
    prepared.clear()
    swift_bucket.objects.create("three.bin").upload(data, SMALL)
    assert prepared == []
    for name in ("one.bin", "two.bin", "three.bin"):
        swift_bucket.objects.get(name).delete()  # type: ignore[union-attr]
    _remove_segments_container(raw, swift_bucket)
    again = swift_bucket.objects.create("again.bin").upload(data, SMALL)
    assert again.download_range(0, len(data)) == data
    assert len(prepared) >= 1  # the first part's 404 made the container again
    again.delete()
    assert first.name == "one.bin"
    _remove_segments_container(raw, swift_bucket)
    raw.delete_container(swift_bucket.name)
    try:
        with pytest.raises(NotFoundException, match=swift_bucket.name):
            swift_bucket.objects.create("gone.bin").upload(data, SMALL)
        with pytest.raises(ClientException) as missing:
            raw.head_container(f"{swift_bucket.name}_segments")
        assert missing.value.http_status == 404  # never made for a missing bucket
    finally:
        raw.put_container(swift_bucket.name)  # for the fixture to delete


def _remove_segments_container(raw: Connection, bucket: Bucket) -> None:
    """As another tool would: the retired segments in it first."""
    container = f"{bucket.name}_segments"
    for entry in raw.get_container(container, full_listing=True)[1]:
        raw.delete_object(container, entry["name"])
    raw.delete_container(container)


def test_an_interrupt_once_the_manifest_is_stored_leaves_the_object_whole(
    swift: CloudProvider, swift_bucket: Bucket, raw: Connection
) -> None:
    """Ctrl-C landing while the manifest PUT's answer is read: the transfer
    aborts the upload it cannot tell was completed, and that abort must not
    delete the segments the stored manifest names (tests/interrupts.py)."""
    data = os.urandom(6 * MiB)
    with interrupted_completions(swift.driver) as completed, pytest.raises(Interrupted):
        swift_bucket.objects.create("big").upload(data, SMALL)
    assert len(completed) == 1, "the manifest was stored"
    stored = swift_bucket.objects.get("big")
    assert stored is not None
    assert b"".join(stored.iter_content()) == data
    assert len(_segments(raw, swift_bucket)) == 2
    assert list(swift_bucket.objects.incomplete_uploads()) == []
