"""Small reads multiplexed on one thread (bucketbridge/dataplane/multiplex.py),
on every network backend whose driver offers them (``small_reads``).

A fault proxy (tests/faults/) sits between the provider and the server: it
holds the reads a little (``Delay``) and counts the requests it handles at
once, which is how these tests see that a copy on one thread keeps several
reads in flight (a silent fall back to one read at a time fails them), and
that the window bounds them. Faults on one object (a reset mid-body, a
stall, an error answer) must end as the blocking read ends them: the object
copied whole after a retry, or failed alone with the blocking read's own
message, never half-written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bucketbridge import Bucket, CloudProvider, Location, SyncReport, copy
from bucketbridge.dataplane.multiplex import Answer, Multiplexer
from bucketbridge.sync import DEFAULT_BATCH_OBJECTS, Batch, Entry, run_batch
from tests.conformance.conftest import unique_name
from tests.faults.fixtures import ProxiedBackend
from tests.faults.proxy import Delay, ResetResponse, Stall

SIZE = 4096
KEYS = [f"m/k{i:02d}" for i in range(12)]
HELD = 0.05
MULTIPLEXED = {"azure_azurite", "gcp_fake_gcs", "openstack_swift", "s3_moto", "s3_seaweedfs"}
"""The backends whose driver offers small reads (the others skip, until theirs does)."""


@pytest.fixture
def source(faulty: ProxiedBackend) -> Iterator[tuple[str, dict[str, bytes]]]:
    """A bucket of 12 small objects, made straight on the server; skipped
    where the driver offers no small reads."""
    direct = faulty.direct()
    offered = getattr(direct.driver, "small_reads", None) is not None
    assert offered == (faulty.name in MULTIPLEXED)
    if not offered:
        pytest.skip(f"{faulty.name}: the driver offers no small reads")
    bucket = direct.storage.buckets.create(unique_name("mux"))
    data = {key: os.urandom(SIZE + i) for i, key in enumerate(KEYS)}
    for key, payload in data.items():
        bucket.objects.create(key).upload(payload)
    yield bucket.name, data
    bucket.delete(delete_contents=True)


def _down(
    faulty: ProxiedBackend,
    name: str,
    local: CloudProvider,
    threads: int = 1,
    batch_objects: int = DEFAULT_BATCH_OBJECTS,
    **config: object,
) -> tuple[Bucket, SyncReport]:
    """``copy()`` of the source into a new LOCAL bucket on ``threads``
    threads, through a provider made with ``config``."""
    target = local.storage.buckets.create(unique_name("down"))
    origin = Location(faulty.provider(**config), name, "m/")
    with ThreadPoolExecutor(threads) as pool:
        report = copy(origin, Location.of(target), executor=pool, batch_objects=batch_objects)
    return target, report


def _bytes(bucket: Bucket, key: str) -> bytes:
    return b"".join(bucket.objects.create(key).iter_content())


def _delay_reads(faulty: ProxiedBackend, name: str, seconds: float = HELD) -> None:
    for key in KEYS:
        faulty.proxy.add(faulty.wire.read(name, key), Delay(seconds))


def test_answers_come_as_they_complete_at_most_the_window_in_flight(
    faulty: ProxiedBackend, source: tuple[str, dict[str, bytes]]
) -> None:
    name, data = source
    driver = faulty.provider().driver
    small = getattr(driver, "small_reads", None)
    assert small is not None
    listed = {key: driver.head_object(name, key) for key in data}
    faulty.proxy.add(faulty.wire.read(name, KEYS[0]), Delay(0.6))  # earlier rules win
    _delay_reads(faulty, name)
    faulty.proxy.reset_counts()
    exchanges = ((key, small.small_read(name, key, listed[key])) for key in KEYS)
    answers: list[tuple[str, Answer | None]] = list(Multiplexer(small.client, 4).run(exchanges))
    order = [key for key, _ in answers]
    assert sorted(order) == sorted(KEYS)
    assert order.index(KEYS[0]) >= 3  # the slow first read held none of the others back
    for key, answer in answers:
        assert answer is not None and answer.status < 300
        assert answer.body == data[key]
        assert small.small_result(name, key, listed[key], answer) is not None
    assert faulty.proxy.most_in_flight == 4
    assert faulty.proxy.most_open <= 4 + 1  # the window, and the lookups' connection


@pytest.mark.parametrize("window", [1, 4])
def test_copy_on_one_thread_keeps_the_window_in_flight(
    faulty: ProxiedBackend,
    source: tuple[str, dict[str, bytes]],
    local: CloudProvider,
    window: int,
) -> None:
    """The batch path reads through the multiplexer: one thread, ``window``
    reads at once."""
    name, data = source
    _delay_reads(faulty, name)
    faulty.proxy.reset_counts()
    target, report = _down(faulty, name, local, multiplex_window=window)
    assert report.ok and report.copied == len(data)
    assert faulty.proxy.most_in_flight == window
    for key, payload in data.items():
        assert _bytes(target, key[2:]) == payload


def test_threads_share_the_reads_in_flight(
    faulty: ProxiedBackend, source: tuple[str, dict[str, bytes]], local: CloudProvider
) -> None:
    """4 threads and a window of 4: at most about 4 reads in flight in all
    (as 4 threads reading one object each would have), not 4 batches of 4."""
    name, data = source
    _delay_reads(faulty, name)
    faulty.proxy.reset_counts()
    _, report = _down(faulty, name, local, threads=4, batch_objects=2, multiplex_window=4)
    assert report.ok and report.copied == len(data)
    assert 1 < faulty.proxy.most_in_flight <= 4


def test_a_pool_of_16_reads_one_batch_at_a_time_with_the_default_window(
    faulty: ProxiedBackend, source: tuple[str, dict[str, bytes]], local: CloudProvider
) -> None:
    """16 threads and the default window (16): a batch of small objects
    weighs the whole pool, so its reads are multiplexed on one thread and
    the next batch waits for it, rather than two threads of half the window
    handing the GIL to each other (bench/results.md, session 14). Batches of
    4: 4 reads in flight at most; with a window of 8, two batches ran at once."""
    name, data = source
    _delay_reads(faulty, name)
    faulty.proxy.reset_counts()
    _, report = _down(faulty, name, local, threads=16, batch_objects=4)
    assert report.ok and report.copied == len(data)
    assert faulty.proxy.most_in_flight == 4


@pytest.mark.parametrize("times", [1, None])
def test_a_reset_mid_body_falls_back_to_the_blocking_read(
    faulty: ProxiedBackend,
    source: tuple[str, dict[str, bytes]],
    local: CloudProvider,
    times: int | None,
) -> None:
    """Cut once, the object is read again the blocking way and copied whole;
    cut every time, it fails alone and nothing of it is written."""
    name, data = source
    cut = KEYS[3]
    rule = faulty.proxy.add(faulty.wire.read(name, cut), ResetResponse(after=100), times=times)
    _delay_reads(faulty, name)
    faulty.proxy.reset_counts()
    target, report = _down(faulty, name, local, multiplex_window=4, max_attempts=2)
    assert faulty.proxy.most_in_flight >= 2  # multiplexed on the one thread
    if times == 1:
        assert report.ok and report.copied == len(data)
        assert rule.fired == 1 and rule.matched >= 2  # the multiplexed GET, then the blocking one
    else:
        failures = report.failures
        assert [failure.name for failure in failures] == [cut[2:]]
        assert target.objects.get(cut[2:]) is None
    for key, payload in data.items():
        if key != cut or times == 1:
            assert _bytes(target, key[2:]) == payload


def test_a_stalled_read_times_out_and_falls_back(
    faulty: ProxiedBackend, source: tuple[str, dict[str, bytes]], local: CloudProvider
) -> None:
    name, data = source
    stalled = KEYS[7]
    rule = faulty.proxy.add(faulty.wire.read(name, stalled), Stall(after=10, seconds=30), times=1)
    started = time.monotonic()
    target, report = _down(faulty, name, local, multiplex_window=4, read_timeout=1.0)
    assert report.ok and report.copied == len(data)
    assert rule.fired == 1 and rule.matched == 2
    assert time.monotonic() - started < 10
    assert _bytes(target, stalled[2:]) == data[stalled]


@pytest.mark.parametrize("fault", ["deleted", 403, 503])
def test_an_error_among_them_fails_as_the_blocking_read_fails(
    faulty: ProxiedBackend,
    source: tuple[str, dict[str, bytes]],
    local: CloudProvider,
    fault: str | int,
) -> None:
    """An object deleted since the listing (404), one the server refuses
    (403), one it keeps answering 503 (retried on the blocking path) fail
    alone, with the blocking read's own message."""
    name, data = source
    bad = KEYS[5]
    origin = faulty.provider()
    listing = origin.driver.list_objects(name, prefix="m/", marker=None, limit=100)
    entries = tuple(
        Entry(info.key[2:], info.size, info.etag, False, info.metadata, info)
        for info in listing.items
    )
    if fault == "deleted":
        faulty.direct().storage.buckets.get(name).objects.create(bad).delete()  # type: ignore[union-attr]
    else:
        assert isinstance(fault, int)
        faulty.proxy.add(faulty.wire.read(name, bad), faulty.wire.error(fault))
    failures = {}
    for window in (4, 1):  # multiplexed, then the blocking read
        target = local.storage.buckets.create(unique_name("down"))
        batch = Batch(
            Location(faulty.provider(multiplex_window=window, max_attempts=2), name, "m/"),
            Location.of(target),
            entries,
            (),
            "always",
            False,
            None,
        )
        result = run_batch(batch)
        assert sorted(result.copied) == sorted(key[2:] for key in data if key != bad)
        assert [failure.name for failure in result.failures] == [bad[2:]]
        failures[window] = result.failures[0].error
        assert target.objects.get(bad[2:]) is None
    assert failures[4] == failures[1]
