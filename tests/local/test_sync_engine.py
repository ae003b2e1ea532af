"""The copy/sync engine's own rules, on real LOCAL and MEMORY providers:
batches run on any executor (a process pool here) with the progress
callbacks in the caller's process, deletions only after every copy
succeeded, bad arguments named, locations that pickle small."""

from __future__ import annotations

import os
import pickle
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from bucketbridge import (
    CloudProviderFactory,
    InvalidValueException,
    Location,
    ProviderList,
    sync,
)
from bucketbridge.sync import copy
from tests.scaleout import Seen


def _local(root: Path) -> dict[str, str]:
    return {"local_root": str(root)}


def test_sync_on_a_process_pool_is_complete_and_idempotent(tmp_path: Path) -> None:
    config = _local(tmp_path)
    with CloudProviderFactory().create_provider(ProviderList.LOCAL, config) as provider:
        source = provider.storage.buckets.create("src-bucket")
        provider.storage.buckets.create("dst-bucket")
        for i in range(120):
            source.objects.create(f"data/é{i:03d}/x").upload(bytes([i]) * i)
    origin = Location("local", "src-bucket", "data/", config)
    target = Location("local", "dst-bucket", "", config)
    seen = Seen()
    with ProcessPoolExecutor(2) as pool:
        first = sync(origin, target, executor=pool, batch_objects=25, **seen.callbacks())
        second = sync(origin, target, executor=pool, batch_objects=25)
    assert (first.copied, first.unchanged, first.ok) == (120, 0, True)
    # the callbacks ran here, in the caller's thread, once a batch: the report's totals
    assert seen.callers == {(os.getpid(), threading.get_ident())}
    assert len(seen.batches) == 5 and sorted(seen.landed()) == [f"é{i:03d}/x" for i in range(120)]
    assert seen.nbytes == seen.copied_bytes() == first.copied_bytes == sum(range(120))
    assert sorted(seen.objects) == sorted(seen.landed())
    assert (second.copied, second.unchanged) == (0, 120)
    with CloudProviderFactory().create_provider(ProviderList.LOCAL, config) as provider:
        copied = provider.storage.buckets.get("dst-bucket")
        assert copied is not None
        names = [o.name for o in copied.objects]
        assert names == [f"é{i:03d}/x" for i in range(120)]
        got = copied.objects.get("é077/x")
        assert got is not None and b"".join(got.iter_content()) == bytes([77]) * 77


class _Stop(Exception):
    pass


def test_a_callback_that_raises_stops_a_run_on_processes_and_needs_no_pickling(
    tmp_path: Path,
) -> None:
    """On a process pool the callbacks stay in the caller's process (a
    closure, which cannot pickle, is fine); one that raises stops the run."""
    config = _local(tmp_path)
    with CloudProviderFactory().create_provider(ProviderList.LOCAL, config) as provider:
        source = provider.storage.buckets.create("src-bucket")
        provider.storage.buckets.create("dst-bucket")
        for i in range(40):
            source.objects.create(f"k{i:02d}").upload(b"x")
    seen: list[str] = []

    def stop_at_the_first(name: str) -> None:
        seen.append(name)
        raise _Stop

    with ProcessPoolExecutor(1) as pool, pytest.raises(_Stop):
        sync(
            Location("local", "src-bucket", "", config),
            Location("local", "dst-bucket", "", config),
            executor=pool,
            batch_objects=5,
            max_in_flight=4,
            on_object=stop_at_the_first,
        )
    # the first name reported, whichever batch finished first (the pool may
    # finish a later one first), and no other after it raised
    assert len(seen) == 1 and seen[0] in {f"k{i:02d}" for i in range(40)}
    with CloudProviderFactory().create_provider(ProviderList.LOCAL, config) as provider:
        copied = provider.storage.buckets.get("dst-bucket")
        assert copied is not None
        # the first batch and at most the three then in flight: not all 40
        assert 5 <= len(list(copied.objects)) <= 20


def test_a_failed_copy_stops_every_deletion(tmp_path: Path) -> None:
    memory = CloudProviderFactory().create_provider(ProviderList.MEMORY, {})
    local = CloudProviderFactory().create_provider(ProviderList.LOCAL, _local(tmp_path))
    source = memory.storage.buckets.create("src-bucket")
    source.objects.create("a/b").upload(b"1")  # the local provider cannot hold a/b beside a
    source.objects.create("c").upload(b"2")
    destination = local.storage.buckets.create("dst-bucket")
    destination.objects.create("a").upload(b"stale")
    report = sync(source, destination, delete=True)
    assert not report.ok and [f.name for f in report.failures] == ["a/b"]
    assert report.copied == 1 and report.deleted == 0
    assert destination.objects.get("a") is not None  # not deleted: a copy failed
    with pytest.raises(Exception, match="1 object\\(s\\) failed: a/b"):
        report.raise_for_failures()
    memory.close()
    local.close()


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    memory = CloudProviderFactory().create_provider(ProviderList.MEMORY, {})
    bucket = memory.storage.buckets.create("some-bucket")
    with pytest.raises(InvalidValueException, match="overwrite"):
        copy(bucket, bucket, overwrite="sometimes")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueException, match="executor"):
        sync(bucket, bucket, executor=object())  # type: ignore[arg-type]
    with pytest.raises(InvalidValueException, match="source"):
        sync("s3://bucket", bucket)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueException, match="batch_objects"):
        sync(bucket, bucket, batch_objects=0)
    # a live provider cannot go to another process, and says so
    with pytest.raises(InvalidValueException, match="live provider"):
        pickle.dumps(Location.of(bucket))


def test_a_location_pickles_without_resolved_secrets_and_masks_them() -> None:
    location = Location("aws", "my-bucket", "p/", {"aws_secret_key": "SECRET-VALUE"})
    assert "SECRET-VALUE" not in repr(location)
    restored = pickle.loads(pickle.dumps(location))
    assert (restored.bucket, restored.prefix, dict(restored.config)) == (
        "my-bucket",
        "p/",
        {"aws_secret_key": "SECRET-VALUE"},  # what the user gave, to rebuild the provider
    )


def test_a_sync_records_the_source_etag_from_a_listing_that_gives_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LOCAL's listing gives each object's metadata and etag: the copy
    records them with no HEAD of the source (one sidecar read fewer)."""
    local = CloudProviderFactory().create_provider(ProviderList.LOCAL, _local(tmp_path))
    memory = CloudProviderFactory().create_provider(ProviderList.MEMORY, {})
    source = local.storage.buckets.create("src-bucket")
    for i in range(5):
        source.objects.create(f"k{i}").upload(b"x" * i, metadata={"n": str(i)})
    destination = memory.storage.buckets.create("dst-bucket")
    heads: list[str] = []
    head = local.driver.head_object
    monkeypatch.setattr(local.driver, "head_object", lambda b, k: heads.append(k) or head(b, k))
    report = sync(source, destination, batch_objects=2)
    assert (report.copied, report.ok, heads) == (5, True, [])
    monkeypatch.undo()
    original, copied = source.objects.get("k3"), destination.objects.get("k3")
    assert original is not None and copied is not None and original.etag is not None
    assert copied.metadata == {"n": "3", "bb-src-etag": original.etag}
    assert sync(source, destination).unchanged == 5


def test_a_sync_records_the_source_metadata_from_the_read_where_the_listing_lacks_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A listing without metadata (as S3's): the copy takes the metadata
    from its read's response, not from a HEAD of the source first (a
    request per object), and records the etag the listing saw."""
    import dataclasses

    source_provider = CloudProviderFactory().create_provider(ProviderList.MEMORY, {})
    memory = CloudProviderFactory().create_provider(ProviderList.MEMORY, {})
    source = source_provider.storage.buckets.create("src-bucket")
    for i in range(5):
        source.objects.create(f"k{i}").upload(b"x" * i, metadata={"n": str(i)})
    destination = memory.storage.buckets.create("dst-bucket")
    driver = source_provider.driver
    listing, head = driver.list_objects, driver.head_object

    def without_metadata(*args: object, **kwargs: object) -> object:
        page = listing(*args, **kwargs)  # type: ignore[arg-type]
        items = [dataclasses.replace(info, metadata=None) for info in page.items]
        return dataclasses.replace(page, items=items)

    heads: list[str] = []
    monkeypatch.setattr(driver, "list_objects", without_metadata)
    monkeypatch.setattr(driver, "head_object", lambda b, k: heads.append(k) or head(b, k))
    report = sync(source, destination, batch_objects=2)
    assert (report.copied, report.ok, heads) == (5, True, [])
    original, copied = source.objects.get("k3"), destination.objects.get("k3")
    assert original is not None and copied is not None and original.etag is not None
    assert copied.metadata == {"n": "3", "bb-src-etag": original.etag}
    assert sync(source, destination).unchanged == 5


def test_a_copy_on_a_thread_pool_given_sweeps_no_uploads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads abort what they start, so only work in other processes ends
    with a sweep of the destination's open uploads (on Azure that sweep
    lists every blob of the container)."""
    from concurrent.futures import ThreadPoolExecutor

    memory = CloudProviderFactory().create_provider(ProviderList.MEMORY, {})
    source = memory.storage.buckets.create("src-bucket")
    for i in range(10):
        source.objects.create(f"k{i}").upload(b"x" * i)
    destination = memory.storage.buckets.create("dst-bucket")
    swept: list[str] = []
    real = memory.driver.list_multipart
    monkeypatch.setattr(
        memory.driver, "list_multipart", lambda bucket: swept.append(bucket) or real(bucket)
    )
    with ThreadPoolExecutor(4) as pool:
        report = copy(source, destination, executor=pool, batch_objects=3)
    assert (report.copied, report.aborted_uploads, swept) == (10, 0, [])
