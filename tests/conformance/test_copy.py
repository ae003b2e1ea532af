"""``BucketObject.copy_to`` and ``copy``/``sync`` on every provider.

Within one provider the copy is made inside it where the driver can; to and
from another provider (MEMORY here) the bytes stream through the process.
Either way the destination holds the whole source, with its content type and
metadata unless the caller replaces them, and nothing is left half-written.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest

from bucketbridge import (
    Bucket,
    CloudProvider,
    InvalidValueException,
    Location,
    NotFoundException,
    PreconditionFailedException,
    TransferConfig,
    copy,
    sync,
)
from bucketbridge.drivers.records import ObjectInfo, WriteOptions
from tests.conformance.conftest import unique_name

MiB = 1024 * 1024
SMALL = TransferConfig(threshold=5 * MiB, part_size=5 * MiB, max_concurrency=2)


@pytest.fixture
def other_bucket(provider: CloudProvider) -> Iterator[Bucket]:
    created = provider.storage.buckets.create(unique_name())
    yield created
    created.delete(delete_contents=True)


def _content(bucket: Bucket, name: str) -> bytes:
    found = bucket.objects.get(name)
    assert found is not None, name
    return b"".join(found.iter_content())


def test_copy_within_the_provider_keeps_bytes_type_and_metadata(
    bucket: Bucket, other_bucket: Bucket
) -> None:
    data = os.urandom(300_000)
    source = bucket.objects.create("dir/src.bin").upload(
        data, content_type="application/x-test", metadata={"colour": "blue"}
    )
    copied = source.copy_to(other_bucket)
    assert (copied.name, copied.bucket.name) == ("dir/src.bin", other_bucket.name)
    assert copied.size == 300_000
    stored = other_bucket.objects.get("dir/src.bin")
    assert stored is not None
    assert stored.content_type == "application/x-test"
    assert stored.metadata == {"colour": "blue"}
    assert _content(other_bucket, "dir/src.bin") == data
    assert _content(bucket, "dir/src.bin") == data  # the source is untouched


def test_copy_to_a_new_name_replaces_type_and_metadata_when_given(bucket: Bucket) -> None:
    """The copy has the type given from its first appearance (a copy that
    cannot set it, Azure's, is streamed: tests/unit/test_copying.py)."""
    source = bucket.objects.create("a.txt").upload(b"hello", metadata={"old": "1"})
    copied = source.copy_to(bucket, "b.json", content_type="application/json", metadata={"n": "2"})
    stored = bucket.objects.get("b.json")
    assert stored is not None and copied.size == 5
    assert (copied.content_type, copied.metadata) == ("application/json", {"n": "2"})
    assert (stored.content_type, stored.metadata) == ("application/json", {"n": "2"})
    assert _content(bucket, "b.json") == b"hello"


@pytest.mark.enforced("copy_conditions")
def test_copy_without_overwrite_keeps_the_existing_object(bucket: Bucket) -> None:
    source = bucket.objects.create("src").upload(b"new")
    bucket.objects.create("dst").upload(b"kept")
    with pytest.raises(PreconditionFailedException):
        source.copy_to(bucket, "dst", overwrite=False)
    assert _content(bucket, "dst") == b"kept"


def test_copy_of_a_missing_object_or_into_a_missing_bucket_is_not_found(
    provider: CloudProvider, bucket: Bucket
) -> None:
    with pytest.raises(NotFoundException):
        bucket.objects.create("never-stored").copy_to(bucket, "x")
    source = bucket.objects.create("src").upload(b"x")
    gone = provider.storage.buckets.create(unique_name())
    gone.delete()
    with pytest.raises(NotFoundException):
        source.copy_to(gone)
    with pytest.raises(InvalidValueException, match="bucket"):
        source.copy_to("not-a-bucket")  # type: ignore[arg-type]


@pytest.mark.parametrize("direction", ["to-memory", "from-memory"])
def test_copy_across_providers_streams_multipart_objects_whole(
    bucket: Bucket, memory_bucket: Bucket, direction: str
) -> None:
    data = os.urandom(11 * MiB + 17)  # three parts of SMALL
    origin, target = (bucket, memory_bucket)
    if direction == "from-memory":
        origin, target = target, origin
    origin.objects.create("big.bin").upload(
        data, SMALL, content_type="application/x-test", metadata={"k": "v"}
    )
    moved: list[int] = []
    source = origin.objects.get("big.bin")
    assert source is not None
    copied = source.copy_to(target, config=SMALL, progress=moved.append)
    assert copied.size == len(data) and sum(moved) == len(data)
    assert hashlib.sha256(_content(target, "big.bin")).digest() == hashlib.sha256(data).digest()
    stored = target.objects.get("big.bin")
    # described by the read itself (no HEAD first): type and metadata come along
    assert stored is not None and stored.metadata == {"k": "v"}
    assert stored.content_type == "application/x-test"
    assert list(target.objects.incomplete_uploads()) == []


def test_sync_across_providers_copies_what_differs_and_deletes_what_is_gone(
    bucket: Bucket, memory_bucket: Bucket
) -> None:
    for i in range(30):
        memory_bucket.objects.create(f"in/k{i:02d}").upload(os.urandom(100 + i))
    bucket.objects.create("out/stale").upload(b"old")
    source, destination = Location.of(memory_bucket, "in/"), Location.of(bucket, "out/")
    planned = sync(source, destination, delete=True, dry_run=True)
    assert (len(planned.to_copy), planned.to_delete) == (30, ["stale"])
    assert [o.name for o in bucket.objects] == ["out/stale"]  # a dry run changes nothing
    done = sync(source, destination, delete=True, batch_objects=7)
    assert (done.copied, done.deleted, done.ok) == (30, 1, True)
    assert sorted(o.name for o in bucket.objects) == [f"out/k{i:02d}" for i in range(30)]
    assert _content(bucket, "out/k05") == _content(memory_bucket, "in/k05")
    memory_bucket.objects.create("in/k03").upload(os.urandom(103))  # same size, new bytes
    again = sync(source, destination, delete=True)
    assert (again.copied, again.unchanged, again.deleted) == (1, 29, 0)
    assert _content(bucket, "out/k03") == _content(memory_bucket, "in/k03")


def test_copy_within_the_provider_with_overwrite_never_skips_existing(
    bucket: Bucket, other_bucket: Bucket
) -> None:
    for name in ("a", "b", "c"):
        bucket.objects.create(name).upload(name.encode())
    other_bucket.objects.create("b").upload(b"mine")
    report = copy(bucket, other_bucket, overwrite="never")
    assert (report.copied, report.skipped) == (2, 1)
    assert _content(other_bucket, "b") == b"mine"
    assert _content(other_bucket, "c") == b"c"


NATIVE_COPIES = frozenset(
    {
        "memory",
        "local",
        "s3_seaweedfs",
        "s3_moto",
        "gcp_fake_gcs",
        "gcp_fake_gcs_sdk",
        "azure_azurite",
        "openstack_swift",
    }
)
"""The backends whose driver copies inside the provider (``CopiesObjects``);
on the others a same-provider ``copy_to`` streams the bytes through this
process."""


def test_the_driver_copies_inside_the_provider_where_it_can(
    request: pytest.FixtureRequest, provider: CloudProvider
) -> None:
    backend = request.node.callspec.params["provider_factory"]
    native = provider.features.copies_objects is not None
    assert native == (backend in NATIVE_COPIES), backend


def test_copy_within_the_provider_of_a_multipart_object_is_whole(
    bucket: Bucket, other_bucket: Bucket
) -> None:
    data = os.urandom(11 * MiB + 17)
    source = bucket.objects.create("big.bin")
    source.upload(data, config=SMALL, metadata={"k": "v"})
    copied = source.copy_to(other_bucket, "copy.bin", config=SMALL)
    assert copied.size == len(data)
    stored = other_bucket.objects.get("copy.bin")
    assert stored is not None and stored.metadata == {"k": "v"}
    assert hashlib.sha256(_content(other_bucket, "copy.bin")).digest() == (
        hashlib.sha256(data).digest()
    )
    assert list(other_bucket.objects.incomplete_uploads()) == []


@pytest.mark.enforced("copy_conditions")
def test_a_server_side_copy_of_a_replaced_revision_is_refused(
    provider: CloudProvider, bucket: Bucket
) -> None:
    copies = provider.features.copies_objects
    if copies is None:
        pytest.skip("this driver streams copies (the streamed read is pinned: test_reads)")
    bucket.objects.create("src").upload(b"first")
    looked_up = provider.driver.head_object(bucket.name, "src")
    assert looked_up is not None and looked_up.revision is not None
    bucket.objects.create("src").upload(b"second, longer")
    options = WriteOptions(looked_up.content_type or "application/octet-stream")
    with pytest.raises(PreconditionFailedException):
        copies.copy_object(bucket.name, looked_up, bucket.name, "dst", options)
    assert bucket.objects.get("dst") is None


def test_a_server_side_copy_looks_the_source_up_once(
    provider: CloudProvider, bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver is handed the core's look-up (its size, etag, type): it
    does not HEAD the source again to learn them."""
    if provider.features.copies_objects is None:
        pytest.skip("this driver streams copies")
    source = bucket.objects.create("src").upload(b"hello", metadata={"k": "v"})
    driver = provider.driver
    real = driver.head_object
    looked: list[str] = []

    def head_object(bucket_name: str, key: str) -> ObjectInfo | None:
        looked.append(key)
        return real(bucket_name, key)

    monkeypatch.setattr(driver, "head_object", head_object)
    copied = source.copy_to(bucket, "dst")
    monkeypatch.undo()
    assert looked == ["src"]
    assert copied.size == 5 and _content(bucket, "dst") == b"hello"
