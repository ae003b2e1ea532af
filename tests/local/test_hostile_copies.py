"""``copy()``/``sync()`` attacked between the listing and the read (a hostile
review): a source object deleted meanwhile is a failure naming it, with
nothing written for it and, for a sync, nothing deleted; one replaced
meanwhile is copied inside the provider (LOCAL to LOCAL: a kernel copy
after a HEAD, not the streamed read tests/local/test_batch_copies.py
covers) as the revision copied: its bytes, type, metadata and stamp."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from bucketbridge import Bucket, CloudProvider, copy, sync
from bucketbridge.sync import SOURCE_ETAG_KEY


def _fill(bucket: Bucket) -> None:
    for i in range(3):
        bucket.objects.create(f"in/k{i}").upload(
            os.urandom(1000), content_type="application/x-old", metadata={"n": str(i)}
        )


def _before_the_first_look(provider: CloudProvider, bucket: str, act: Callable[[], None]) -> None:
    """Run ``act`` once, before the copy first reads or heads ``in/k1`` of
    ``bucket`` (a streamed copy reads it, one inside the provider heads it)."""
    driver: Any = provider.driver
    done: list[bool] = []

    def hooked(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(bucket_name: str, key: str, *args: Any) -> Any:
            if (bucket_name, key) == (bucket, "in/k1") and not done:
                done.append(True)
                act()
            return real(bucket_name, key, *args)

        return call

    driver.read_object = hooked(driver.read_object)
    driver.head_object = hooked(driver.head_object)


@pytest.mark.parametrize("run", ["copy", "sync"])
@pytest.mark.parametrize("inside", [True, False], ids=["inside", "streamed"])
def test_a_source_deleted_after_its_listing_fails_alone_and_stops_the_deletes(
    local: CloudProvider, memory: CloudProvider, run: str, inside: bool
) -> None:
    origin = local.storage.buckets.create("origin")
    target = (local if inside else memory).storage.buckets.create("target")
    _fill(origin)
    target.objects.create("in/stale").upload(b"not in the source")
    _before_the_first_look(local, "origin", lambda: origin.objects.create("in/k1").delete())
    report = copy(origin, target) if run == "copy" else sync(origin, target, delete=True)
    assert (report.copied, len(report.failures)) == (2, 1)
    assert report.failures[0].name == "in/k1" and "not found" in str(report.failures[0])
    assert report.deleted == 0
    assert sorted(o.name for o in target.objects) == ["in/k0", "in/k2", "in/stale"]


@pytest.mark.parametrize("run", ["copy", "sync"])
def test_a_source_replaced_after_its_listing_is_copied_inside_as_the_revision_copied(
    local: CloudProvider, run: str
) -> None:
    origin = local.storage.buckets.create("origin")
    target = local.storage.buckets.create("target")
    _fill(origin)
    fresh = os.urandom(2000)
    _before_the_first_look(
        local,
        "origin",
        lambda: origin.objects.create("in/k1").upload(
            fresh, content_type="text/x-new", metadata={"n": "new"}
        ),
    )
    report = copy(origin, target) if run == "copy" else sync(origin, target)
    assert (report.copied, report.ok) == (3, True)
    source, copied = origin.objects.get("in/k1"), target.objects.get("in/k1")
    assert source is not None and copied is not None
    assert b"".join(copied.iter_content()) == fresh
    assert copied.content_type == "text/x-new"
    stamp = {SOURCE_ETAG_KEY: source.etag} if run == "sync" else {}
    assert copied.metadata == {"n": "new", **stamp}
    if run == "sync":
        assert sync(origin, target).unchanged == 3
