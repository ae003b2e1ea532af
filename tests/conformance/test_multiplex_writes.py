"""Small puts multiplexed on one thread (``SmallWrites``, see
bucketbridge/drivers/base.py), on every network backend whose driver offers
them: a batch copied up from LOCAL keeps several puts in flight.

A fault proxy (tests/faults/) sits between the provider and the server: it
holds the puts a little (``Delay``) and counts the requests it handles at
once, which is how these tests see that a copy on one thread keeps several
puts in flight (a silent fall back to one put at a time fails them). Faults
on one put (a reset before the answer, after the server stored the object;
a 503) end as the blocking put ends them: the object stored whole after a
retry, or failed alone with the blocking put's own message -- and a
create-only put whose stored first copy's answer was lost is not told the
object already existed (a false 412).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bucketbridge import Bucket, CloudProvider, Location, copy
from bucketbridge.sync import Batch, Entry, run_batch
from tests.conformance.conftest import unique_name
from tests.faults.fixtures import ProxiedBackend
from tests.faults.proxy import Delay, ResetRequest, ResetResponse

SIZE = 4096
NAMES = [f"k{i:02d}" for i in range(12)]
HELD = 0.05
MULTIPLEXED = {"azure_azurite", "gcp_fake_gcs", "s3_moto", "s3_seaweedfs", "openstack_swift"}
"""The backends whose driver offers small writes: every network backend."""


@pytest.fixture
def source(local: CloudProvider) -> tuple[Bucket, dict[str, bytes]]:
    """A LOCAL bucket of 12 small objects under ``m/``."""
    bucket = local.storage.buckets.create(unique_name("src"))
    data = {name: os.urandom(SIZE + i) for i, name in enumerate(NAMES)}
    for name, payload in data.items():
        bucket.objects.create("m/" + name).upload(payload)
    return bucket, data


@pytest.fixture
def target(faulty: ProxiedBackend) -> Iterator[str]:
    """An empty bucket on the server; skipped where the driver offers no
    small writes."""
    direct = faulty.direct()
    offered = getattr(direct.driver, "small_writes", None) is not None
    assert offered == (faulty.name in MULTIPLEXED)
    if not offered:
        pytest.skip(f"{faulty.name}: the driver offers no small writes")
    bucket = direct.storage.buckets.create(unique_name("up"))
    yield bucket.name
    bucket.delete(delete_contents=True)


def _up(
    faulty: ProxiedBackend, source: Bucket, name: str, overwrite: str = "always", **config: object
) -> object:
    with ThreadPoolExecutor(1) as pool:
        return copy(
            Location.of(source, "m/"),
            Location(faulty.provider(**config), name),
            executor=pool,
            overwrite=overwrite,
        )


def _delay_puts(faulty: ProxiedBackend, name: str) -> None:
    for key in NAMES:
        faulty.proxy.add(faulty.wire.put(name, key), Delay(HELD))


def _assert_whole(faulty: ProxiedBackend, name: str, data: dict[str, bytes]) -> None:
    bucket = faulty.direct().storage.buckets.get(name)
    assert bucket is not None
    for key, payload in data.items():
        assert b"".join(bucket.objects.create(key).iter_content()) == payload


@pytest.mark.parametrize("window", [1, 4])
def test_copy_up_on_one_thread_keeps_the_window_in_flight(
    faulty: ProxiedBackend, source: tuple[Bucket, dict[str, bytes]], target: str, window: int
) -> None:
    bucket, data = source
    _delay_puts(faulty, target)
    faulty.proxy.reset_counts()
    report = _up(faulty, bucket, target, multiplex_window=window)
    assert report.ok and report.copied == len(data)  # type: ignore[attr-defined]
    assert faulty.proxy.most_in_flight == window
    _assert_whole(faulty, target, data)


@pytest.mark.parametrize(
    "fault",
    [ResetResponse(after=None), ResetRequest(after=100)],
    ids=["answer-lost", "request-cut"],
)
@pytest.mark.parametrize("overwrite", ["always", "never"])
def test_a_reset_put_is_put_again_and_every_object_is_whole(
    faulty: ProxiedBackend,
    source: tuple[Bucket, dict[str, bytes]],
    target: str,
    fault: ResetResponse | ResetRequest,
    overwrite: str,
) -> None:
    """Cut once, the put is sent again the blocking way. Where the server
    had stored the object (its answer lost), a create-only retry meets it:
    the object is ours, copied, not skipped (no false 412)."""
    bucket, data = source
    cut = NAMES[3]
    rule = faulty.proxy.add(faulty.wire.put(target, cut), fault, times=1)
    _delay_puts(faulty, target)
    faulty.proxy.reset_counts()
    report = _up(faulty, bucket, target, overwrite, multiplex_window=4, max_attempts=2)
    assert faulty.proxy.most_in_flight >= 2  # multiplexed on the one thread
    assert report.ok and report.copied == len(data), report  # type: ignore[attr-defined]
    assert report.skipped == 0  # type: ignore[attr-defined]
    assert rule.fired == 1 and rule.matched >= 2  # the multiplexed PUT, then the blocking one
    _assert_whole(faulty, target, data)


def test_a_lost_answer_every_time_fails_the_object_alone(
    faulty: ProxiedBackend, source: tuple[Bucket, dict[str, bytes]], target: str
) -> None:
    bucket, data = source
    cut = NAMES[5]
    faulty.proxy.add(faulty.wire.put(target, cut), ResetRequest(after=100))
    report = _up(faulty, bucket, target, multiplex_window=4, max_attempts=2)
    failures = report.failures  # type: ignore[attr-defined]
    assert [failure.name for failure in failures] == [cut]
    direct = faulty.direct().storage.buckets.get(target)
    assert direct is not None and direct.objects.get(cut) is None  # nothing half-written
    _assert_whole(faulty, target, {k: v for k, v in data.items() if k != cut})


@pytest.mark.parametrize("times", [1, None])
def test_a_503_is_retried_on_the_blocking_path(
    faulty: ProxiedBackend,
    source: tuple[Bucket, dict[str, bytes]],
    target: str,
    times: int | None,
) -> None:
    """Once: put again and stored. Every time: failed alone, with the
    blocking put's own message (the same as a window of 1 gives)."""
    bucket, data = source
    bad = NAMES[7]
    rule = faulty.proxy.add(faulty.wire.put(target, bad), faulty.wire.error(503), times=times)
    if times == 1:
        _delay_puts(faulty, target)
        faulty.proxy.reset_counts()
        report = _up(faulty, bucket, target, multiplex_window=4, max_attempts=2)
        assert faulty.proxy.most_in_flight >= 2
        assert report.ok and report.copied == len(data)  # type: ignore[attr-defined]
        assert rule.fired == 1 and rule.matched == 2
        _assert_whole(faulty, target, data)
        return
    messages = {}
    for window in (4, 1):  # multiplexed, then the blocking put
        report = _up(faulty, bucket, target, multiplex_window=window, max_attempts=2)
        failures = report.failures  # type: ignore[attr-defined]
        assert [failure.name for failure in failures] == [bad]
        messages[window] = failures[0].error
    assert messages[4] == messages[1]
    _assert_whole(faulty, target, {k: v for k, v in data.items() if k != bad})


def test_a_create_only_put_that_meets_an_object_is_skipped(
    faulty: ProxiedBackend,
    source: tuple[Bucket, dict[str, bytes]],
    target: str,
    local: CloudProvider,
) -> None:
    """An object made at the key after the listing: the multiplexed put's
    412 is the blocking put's (skipped under ``overwrite="never"``), and the
    object there is left as it is."""
    bucket, data = source
    there = NAMES[2]
    direct = faulty.direct().storage.buckets.get(target)
    assert direct is not None
    direct.objects.create(there).upload(b"someone else's")
    listing = local.driver.list_objects(bucket.name, prefix="m/", marker=None, limit=100)
    entries = tuple(
        Entry(info.key[2:], info.size, info.etag, False, info.metadata, info)
        for info in listing.items
    )
    origin = Location.of(bucket, "m/")
    destination = Location(faulty.provider(multiplex_window=4), target)
    result = run_batch(Batch(origin, destination, entries, (), "never", False, None))
    assert result.skipped == [there] and not result.failures
    assert sorted(result.copied) == sorted(name for name in NAMES if name != there)
    assert b"".join(direct.objects.create(there).iter_content()) == b"someone else's"
    _assert_whole(faulty, target, {k: v for k, v in data.items() if k != there})
