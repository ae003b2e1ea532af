"""How ``copy()`` and ``sync()`` cut their work into batches (bucketbridge/sync.py),
on the memory driver: full-size batches until the end of the listing is in
sight, then smaller ones on threads, and no destination listing where it
could change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bucketbridge import CloudProvider, CloudProviderFactory, Location, ProviderList, copy, sync
from bucketbridge.config import DEFAULT_MULTIPLEX_WINDOW
from bucketbridge.copying import MULTIPLEX_LIMIT
from bucketbridge.drivers.memory import MemoryDriver
from bucketbridge.drivers.records import ObjectInfo, Page
from bucketbridge.sync import BatchResult, _Weigher

OBJECTS = 300


class _Listings(MemoryDriver):
    """The memory driver, the buckets it was asked to list recorded."""

    def __init__(self) -> None:
        super().__init__(server_url=None)
        self.listed: list[str] = []

    def list_objects(
        self, bucket: str, *, prefix: str | None, marker: str | None, limit: int
    ) -> Page[ObjectInfo]:
        self.listed.append(bucket)
        return super().list_objects(bucket, prefix=prefix, marker=marker, limit=limit)


@pytest.fixture
def provider() -> Iterator[CloudProvider]:
    made = CloudProviderFactory().create_provider(ProviderList.MEMORY, {})
    with CloudProvider("memory", {}, made.settings, _Listings()) as provider:
        source = provider.storage.buckets.create("source")
        for index in range(OBJECTS):
            source.objects.create(f"k{index:04d}").upload(b"x")
        provider.storage.buckets.create("target")
        yield provider
    made.close()


def test_the_last_batches_on_threads_are_cut_smaller(provider: CloudProvider) -> None:
    batches: list[BatchResult] = []
    with ThreadPoolExecutor(4) as pool:  # 8 batches in flight
        report = copy(
            Location(provider, "source"),
            Location(provider, "target"),
            executor=pool,
            batch_objects=20,
            on_batch=batches.append,
        )
    assert report.ok and report.copied == OBJECTS
    names = sorted(name for batch in batches for name in batch.copied)
    assert names == [f"k{index:04d}" for index in range(OBJECTS)]  # each once
    sizes = sorted((len(batch.copied) for batch in batches), reverse=True)
    # full-size while more than 8 full batches were left, then shares of
    # what was left, down to an eighth of the size (3); only the remainder
    # cut last may be smaller
    assert sizes[:5] == [20] * 5 and sizes[-2] == 3
    assert len(batches) < 2 * OBJECTS // 20


def test_other_executors_get_full_size_batches(provider: CloudProvider) -> None:
    """A batch on another executor ships and sets up apart: none are cut
    smaller than asked (the last holds what is left)."""
    from concurrent.futures import Executor, Future

    class Inline(Executor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            future: Future[object] = Future()
            future.set_result(fn(*args, **kwargs))
            return future

    batches: list[BatchResult] = []
    copy(
        Location(provider, "source"),
        Location(provider, "target"),
        executor=Inline(),
        batch_objects=40,
        on_batch=batches.append,
    )
    assert sorted(len(batch.copied) for batch in batches) == [20] + [40] * 7


def test_copy_always_does_not_list_the_destination(provider: CloudProvider) -> None:
    driver = provider.driver
    assert isinstance(driver, _Listings)
    copy(Location(provider, "source"), Location(provider, "target"))
    assert set(driver.listed) == {"source"}
    driver.listed.clear()
    again = sync(Location(provider, "source"), Location(provider, "target"))
    assert again.unchanged == OBJECTS and set(driver.listed) == {"source", "target"}
    driver.listed.clear()
    never = copy(Location(provider, "source"), Location(provider, "target"), overwrite="never")
    assert never.skipped == OBJECTS and set(driver.listed) == {"source", "target"}


def test_a_pool_of_16_runs_one_batch_of_small_objects_at_a_time() -> None:
    """With the default window, a batch of small objects on a 16-thread
    pool weighs the whole width: its reads share one thread's multiplexer
    rather than two threads of half the window handing the GIL to each
    other (bench/profile_batch.py --windows 16,8: a quarter less client CPU
    an object). A pool twice as wide runs two."""
    for workers, batches in ((16, 1), (32, 2)):
        width = 2 * workers  # copy()'s max_in_flight, unset
        weight = _Weigher(DEFAULT_MULTIPLEX_WINDOW, MULTIPLEX_LIMIT, width, workers)(None)
        assert width // weight == batches, (workers, DEFAULT_MULTIPLEX_WINDOW)
