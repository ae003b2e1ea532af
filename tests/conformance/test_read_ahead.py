"""Iterating a bucket reads a page ahead where the driver can
(``ListsAhead``): the listing is still exact, and stopping early leaves no
thread or connection behind. Pages of 3 here, so a few keys make several."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading

from bucketbridge import CloudProvider
from bucketbridge.directories import walk_objects
from bucketbridge.resources import Bucket

from .conftest import ProviderFactory
from .test_objects import assert_listed

NAMES = sorted(["a", "a b", "a&b<c>", "b/1", "b/2", "c", "d%20", "e", "zü"])


def small_pages(provider: CloudProvider) -> None:
    provider.features = dataclasses.replace(provider.features, list_page_size=3)


def ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "bucketbridge-list-ahead"]


def open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # the listing's own, closed since
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def test_iteration_lists_every_page_exactly(
    provider: CloudProvider, bucket: Bucket, provider_factory: ProviderFactory
) -> None:
    for name in NAMES:
        bucket.objects.create(name).upload(b"x")
    small_pages(provider)
    assert_listed([o.name for o in bucket.objects], NAMES, provider_factory)
    walked = walk_objects(provider.driver, provider.features, bucket.name, "b/")
    assert_listed([info.key for info in walked], ["b/1", "b/2"], provider_factory)
    # the records are the ones a page of list() makes (its own decoder)
    listed = {o.name: o._info for o in bucket.objects.list(limit=100)}
    assert {o.name: o._info for o in bucket.objects} == listed


def test_a_stopped_iteration_leaves_no_thread_or_connection(
    provider: CloudProvider, bucket: Bucket
) -> None:
    for name in NAMES:
        bucket.objects.create(name).upload(b"x")
    small_pages(provider)
    for _ in bucket.objects:
        break
    sockets = open_sockets()
    for _ in range(4):  # a connection held by each would add one a time
        for obj in bucket.objects:
            assert obj.name == NAMES[0]
            break
        assert not ahead_threads()
    assert open_sockets() <= sockets
    assert [o.name for o in bucket.objects][:1] == NAMES[:1]


def test_iteration_under_a_concurrent_writer_lists_each_lasting_key_once(
    provider: CloudProvider, bucket: Bucket
) -> None:
    """Keys written and deleted while the walk runs may or may not be seen;
    those there throughout are each seen exactly once, in order."""
    for name in NAMES:
        bucket.objects.create(name).upload(b"x")
    small_pages(provider)
    stop = threading.Event()

    def churn() -> None:
        i = 0
        while not stop.is_set():
            bucket.objects.create(f"b/1-{i}").upload(b"y")  # sorts inside the walk
            bucket.objects.get(f"b/1-{i}").delete()  # type: ignore[union-attr]
            i += 1

    writer = threading.Thread(target=churn)
    writer.start()
    try:
        seen = [o.name for o in bucket.objects]
    finally:
        stop.set()
        writer.join()
    lasting = [name for name in seen if name in NAMES]
    assert lasting == NAMES
    assert len(set(seen)) == len(seen)
