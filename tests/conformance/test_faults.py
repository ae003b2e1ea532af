"""Faults between the library and a real server, on every network backend.

A fault proxy (tests/faults/) sits between the provider and the backend's
session server. Transient faults must be retried with identical bytes as
the result; persistent ones must end in one ProviderConnectionException that
names the endpoint, within a bounded time and a bounded number of requests,
and lose nothing: no partial object at the key, an existing destination
file unchanged, no incomplete multipart upload left behind. Two Ceph RGW
habits are emulated: If-None-Match ignored on multipart completion, and
listing times with milliseconds that its HEAD does not show.

Request counts are the proxy's: how many requests each rule matched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bucketbridge import (
    Bucket,
    CloudProvider,
    CloudProviderFactory,
    PreconditionFailedException,
    ProviderConnectionException,
    TransferConfig,
)
from bucketbridge.drivers.records import ReadOptions
from bucketbridge.reads import open_read
from tests.conformance.conftest import unique_name
from tests.faults.backends import FAULT_BACKENDS, Unsupported
from tests.faults.fixtures import ProxiedBackend
from tests.faults.proxy import (
    Match,
    Request,
    ResetRequest,
    ResetResponse,
    RewriteBody,
    Stall,
    Truncate,
)

MiB = 1024 * 1024
CONCURRENCY = 2
SMALL = TransferConfig(threshold=5 * MiB, part_size=5 * MiB, max_concurrency=CONCURRENCY)
ATTEMPTS = 3
RETRYING = {"max_attempts": ATTEMPTS, "read_timeout": 10.0, "connect_timeout": 2.0}
READ_TIMEOUT = 1.0
STALL_ATTEMPTS = 2
IMPATIENT = {"max_attempts": STALL_ATTEMPTS, "read_timeout": READ_TIMEOUT, "connect_timeout": 1.0}
GAVE_UP_WITHIN = 20.0
"""Seconds a persistent fault may take to fail: generous, but not minutes."""

KEY = "dir/faulted.bin"


@pytest.fixture(scope="module")
def _buckets() -> Iterator[dict[str, tuple[CloudProvider, Bucket]]]:
    """One bucket per backend for this module, made and removed straight on
    the server: SeaweedFS makes a collection of volumes per bucket, too slow
    to do for every test."""
    made: dict[str, tuple[CloudProvider, Bucket]] = {}
    yield made
    for provider, bucket in made.values():
        bucket.objects.abort_incomplete_uploads()
        bucket.delete(delete_contents=True)
        provider.close()


@pytest.fixture
def bucket_name(
    faulty: ProxiedBackend,
    request: pytest.FixtureRequest,
    _buckets: dict[str, tuple[CloudProvider, Bucket]],
) -> Iterator[str]:
    """The backend's bucket, emptied after the test (objects and uploads)."""
    if faulty.name not in _buckets:
        backend = FAULT_BACKENDS[faulty.name].server
        server = request.getfixturevalue(backend.server_fixture)
        provider = CloudProviderFactory().create_provider(backend.provider_id, server.config())
        _buckets[faulty.name] = (provider, provider.storage.buckets.create(unique_name("faults")))
    _, bucket = _buckets[faulty.name]
    yield bucket.name
    bucket.objects.abort_incomplete_uploads()
    for obj in list(bucket.objects):
        obj.delete()


def _through_proxy(faulty: ProxiedBackend, name: str, **config: object) -> Bucket:
    bucket = faulty.provider(**{**RETRYING, **config}).storage.buckets.get(name)
    assert bucket is not None
    return bucket


def _stored(faulty: ProxiedBackend, name: str, key: str = KEY) -> bytes | None:
    """The object's bytes as the server holds them, read past the proxy."""
    bucket = faulty.direct().storage.buckets.get(name)
    assert bucket is not None
    obj = bucket.objects.get(key)
    return None if obj is None else b"".join(obj.iter_content())


def _incomplete_uploads(faulty: ProxiedBackend, name: str) -> list[str]:
    """Multipart uploads still open in the bucket, asked past the proxy (and
    past a client that throttling slowed down)."""
    bucket = faulty.direct().storage.buckets.get(name)
    assert bucket is not None
    return [upload.name for upload in bucket.objects.incomplete_uploads()]


def _put_directly(faulty: ProxiedBackend, name: str, data: bytes, key: str = KEY) -> None:
    bucket = faulty.direct().storage.buckets.get(name)
    assert bucket is not None
    bucket.objects.create(key).upload(data, SMALL)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(bucket: Bucket, how: str, destination: Path) -> bytes:
    obj = bucket.objects.get(KEY)
    assert obj is not None
    if how == "iter_content":
        return b"".join(obj.iter_content())
    obj.download_to_file(str(destination), SMALL)
    return destination.read_bytes()


READS = {
    # how -> (object size, GET requests a whole read takes)
    "single": (2 * MiB, 1),  # below the threshold: one GET
    "parallel": (6 * MiB, 2),  # two ranged GETs (5 MiB and 1 MiB) at once
    "iter_content": (2 * MiB, 1),
}


# --- transient faults: retried, identical bytes ----------------------------------------


@pytest.mark.parametrize("how", sorted(READS))
def test_a_reset_mid_response_is_resumed(
    faulty: ProxiedBackend, bucket_name: str, tmp_path: Path, how: str
) -> None:
    size, gets = READS[how]
    data = os.urandom(size)
    _put_directly(faulty, bucket_name, data)
    resets = 2 if how == "parallel" else 1
    rule = faulty.proxy.add(
        faulty.wire.read(bucket_name, KEY), ResetResponse(after=256 * 1024), times=resets
    )
    got = _read(_through_proxy(faulty, bucket_name), how, tmp_path / "out.bin")
    assert _digest(got) == _digest(data)
    assert (rule.fired, rule.matched) == (resets, gets + resets)  # one resumed GET per reset


def test_a_truncated_body_is_resumed(
    faulty: ProxiedBackend, bucket_name: str, tmp_path: Path
) -> None:
    data = os.urandom(2 * MiB)
    _put_directly(faulty, bucket_name, data)
    rule = faulty.proxy.add(faulty.wire.read(bucket_name, KEY), Truncate(after=MiB + 5), times=1)
    got = _read(_through_proxy(faulty, bucket_name), "single", tmp_path / "out.bin")
    assert _digest(got) == _digest(data)
    assert rule.matched == 2


def test_a_truncated_body_read_into_a_buffer_is_resumed(
    faulty: ProxiedBackend, bucket_name: str
) -> None:
    """The lean plane's readinto path (ObjectStream.readinto): a body that
    ends early with a clean close is noticed, not taken for its end."""
    data = os.urandom(2 * MiB)
    _put_directly(faulty, bucket_name, data)
    rule = faulty.proxy.add(faulty.wire.read(bucket_name, KEY), Truncate(after=MiB + 5), times=1)
    driver = faulty.provider(**RETRYING).driver
    stream = open_read(driver, bucket_name, KEY, ReadOptions(), ATTEMPTS)
    buffer = bytearray(len(data) + 1)
    view = memoryview(buffer)
    filled = 0
    try:
        while count := stream.readinto(view[filled : filled + 256 * 1024]):
            filled += count
    finally:
        stream.close()
    assert filled == len(data) and _digest(bytes(buffer[:filled])) == _digest(data)
    assert rule.matched == 2


def test_a_put_answered_slow_down_is_retried(faulty: ProxiedBackend, bucket_name: str) -> None:
    data = os.urandom(MiB)
    rule = faulty.proxy.add(faulty.wire.put(bucket_name, KEY), faulty.wire.error(503), times=1)
    _through_proxy(faulty, bucket_name).objects.create(KEY).upload(data, SMALL)
    assert _stored(faulty, bucket_name) == data
    assert rule.matched == 2


@pytest.mark.parametrize(
    "fault",
    ["slow-down", "reset-mid-request"],
)
def test_a_failed_part_upload_is_retried(
    faulty: ProxiedBackend, bucket_name: str, fault: str
) -> None:
    data = os.urandom(6 * MiB)  # parts of 5 and 1 MiB
    action = faulty.wire.error(503) if fault == "slow-down" else ResetRequest(after=64 * 1024)
    rule = faulty.proxy.add(faulty.wire.part(bucket_name, KEY), action, times=1)
    bucket = _through_proxy(faulty, bucket_name)
    bucket.objects.create(KEY).upload(data, SMALL)
    assert _stored(faulty, bucket_name) == data
    assert rule.matched == 2 + 1
    assert _incomplete_uploads(faulty, bucket_name) == []


@pytest.mark.parametrize(("target", "size"), [("put", MiB), ("complete", 6 * MiB)])
def test_a_create_only_upload_whose_response_was_lost_succeeds(
    faulty: ProxiedBackend, bucket_name: str, target: str, size: int
) -> None:
    """The server stored the object but its answer was lost: the SDK's retry
    meets the object, and a create-only write gets 412 for its own bytes."""
    data = os.urandom(size)
    matcher = faulty.wire.put if target == "put" else faulty.wire.complete
    rule = faulty.proxy.add(matcher(bucket_name, KEY), ResetResponse(after=None), times=1)
    obj = _through_proxy(faulty, bucket_name).objects.create(KEY)
    obj.upload(data, SMALL, overwrite=False)
    assert rule.matched == 2  # sent, answer lost, sent again
    assert _stored(faulty, bucket_name) == data and obj.size == size
    assert _incomplete_uploads(faulty, bucket_name) == []


def test_a_rewrite_of_the_same_bytes_whose_answer_was_lost_stores_its_metadata(
    faulty: ProxiedBackend, bucket_name: str
) -> None:
    """The same bytes written again with new metadata, the first answer
    lost: the retry may meet an object holding those bytes, which is not
    this write's (its metadata is the old one). Swift's small writes are
    sent create-first; its retry's 412 must not pass for this write's own
    first copy, as a create-only write's may."""
    data = os.urandom(4096)
    direct = faulty.direct().storage.buckets.get(bucket_name)
    assert direct is not None
    direct.objects.create(KEY).upload(data, metadata={"version": "1"})
    rule = faulty.proxy.add(faulty.wire.put(bucket_name, KEY), ResetResponse(after=None), times=1)
    obj = _through_proxy(faulty, bucket_name).objects.create(KEY)
    obj.upload(data, metadata={"version": "2"})
    assert rule.fired == 1
    stored = direct.objects.get(KEY)
    assert stored is not None and stored.metadata == {"version": "2"}
    assert b"".join(stored.iter_content()) == data


@pytest.mark.parametrize("data_plane", ["lean", "sdk"])
def test_a_multipart_start_whose_response_was_lost_leaves_no_upload_open(
    faulty: ProxiedBackend, bucket_name: str, data_plane: str
) -> None:
    """The server made the upload but its answer was lost: the retried start
    makes a second one, and the first must not stay open for good."""
    start = faulty.wire.start
    if isinstance(start, Unsupported):
        pytest.skip(start.reason)
    # an upload of a longer key, open beside it: not the start's to abort
    direct = faulty.direct().storage.buckets.get(bucket_name)
    assert direct is not None
    neighbour = direct.objects.create(KEY + ".other").create_multipart_upload()
    neighbour.upload_part(1, b"a part, so that every provider lists the upload")
    data = os.urandom(6 * MiB)
    rule = faulty.proxy.add(start(bucket_name, KEY), ResetResponse(after=None), times=1)
    bucket = _through_proxy(faulty, bucket_name, data_plane=data_plane)
    bucket.objects.create(KEY).upload(data, SMALL)
    assert (rule.fired, rule.matched) == (1, 2)  # sent, answer lost, sent again
    assert _stored(faulty, bucket_name) == data
    assert _incomplete_uploads(faulty, bucket_name) == [KEY + ".other"]


@pytest.mark.parametrize("data_plane", ["lean", "sdk"])
def test_a_plain_upload_whose_completion_answer_was_lost_succeeds(
    faulty: ProxiedBackend, bucket_name: str, data_plane: str
) -> None:
    """As the create-only case above, for an upload that may overwrite: the
    retried completion meets an upload already completed."""
    data = os.urandom(6 * MiB)
    rule = faulty.proxy.add(
        faulty.wire.complete(bucket_name, KEY), ResetResponse(after=None), times=1
    )
    obj = _through_proxy(faulty, bucket_name, data_plane=data_plane).objects.create(KEY)
    obj.upload(data, SMALL)
    assert (rule.fired, rule.matched) == (1, 2)
    assert _stored(faulty, bucket_name) == data and obj.size == len(data)
    assert _incomplete_uploads(faulty, bucket_name) == []


# --- persistent faults: one clear error, bounded, nothing lost ----------------------


@pytest.mark.parametrize("how", sorted(READS))
def test_a_persistent_reset_mid_response_fails_once_and_keeps_the_destination(
    faulty: ProxiedBackend, bucket_name: str, tmp_path: Path, how: str
) -> None:
    size, _ = READS[how]
    _put_directly(faulty, bucket_name, os.urandom(size))
    destination = tmp_path / "out.bin"
    destination.write_bytes(b"the file that was here before")
    rule = faulty.proxy.add(faulty.wire.read(bucket_name, KEY), ResetResponse(after=256 * 1024))
    bucket = _through_proxy(faulty, bucket_name)
    started = time.monotonic()
    with pytest.raises(ProviderConnectionException) as failure:
        _read(bucket, how, destination)
    assert time.monotonic() - started < GAVE_UP_WITHIN
    assert faulty.endpoint in str(failure.value)
    # Each GET broke after its headers, so the SDK never retried it: the
    # library's resumes are the only retries, max_attempts per range.
    if how == "parallel":
        assert ATTEMPTS <= rule.matched <= CONCURRENCY * ATTEMPTS
    else:
        assert rule.matched == ATTEMPTS
    assert destination.read_bytes() == b"the file that was here before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_resumes_and_sdk_retries_add_up_and_do_not_multiply(
    faulty: ProxiedBackend, bucket_name: str, tmp_path: Path
) -> None:
    """The worst mix: every GET breaks mid-body until the library's last
    resume, whose requests then break before any response, which the SDK
    retries. The resumes and the SDK's attempts add up (2 x max_attempts - 1
    requests); neither is run inside the other (max_attempts squared)."""
    _put_directly(faulty, bucket_name, os.urandom(2 * MiB))
    reads = faulty.wire.read(bucket_name, KEY)
    mid_body = faulty.proxy.add(reads, ResetResponse(after=256 * 1024), times=ATTEMPTS - 1)
    faulty.proxy.add(reads, ResetRequest())
    with pytest.raises(ProviderConnectionException) as failure:
        _read(_through_proxy(faulty, bucket_name), "single", tmp_path / "out.bin")
    assert faulty.endpoint in str(failure.value)
    assert mid_body.matched == (ATTEMPTS - 1) + ATTEMPTS < ATTEMPTS**2


@pytest.mark.parametrize(
    ("target", "fault", "size"),
    [
        # a 500, not a 503: the SDK's backoff after throttling (up to 1 s, then
        # 2 s) would add seconds for nothing; the transient tests cover 503
        ("put", "internal-error", MiB),
        ("part", "reset-mid-request", 6 * MiB),
    ],
    ids=["put-internal-error", "part-reset-mid-request"],
)
def test_a_persistently_failing_upload_fails_once_and_leaves_nothing(
    faulty: ProxiedBackend, bucket_name: str, target: str, fault: str, size: int
) -> None:
    action = faulty.wire.error(500) if fault == "internal-error" else ResetRequest(after=64 * 1024)
    matcher = faulty.wire.put if target == "put" else faulty.wire.part
    rule = faulty.proxy.add(matcher(bucket_name, KEY), action)
    bucket = _through_proxy(faulty, bucket_name)
    started = time.monotonic()
    with pytest.raises(ProviderConnectionException) as failure:
        bucket.objects.create(KEY).upload(os.urandom(size), SMALL)
    assert time.monotonic() - started < GAVE_UP_WITHIN
    assert faulty.endpoint in str(failure.value)
    # The SDK retries each request max_attempts times; the parts in flight
    # when the first gives up finish failing, and the upload is aborted.
    if target == "put":
        assert rule.matched == ATTEMPTS
    else:
        assert ATTEMPTS <= rule.matched <= CONCURRENCY * ATTEMPTS
    assert _stored(faulty, bucket_name) is None
    assert _incomplete_uploads(faulty, bucket_name) == []


@pytest.mark.parametrize("data_plane", ["lean", "sdk"])
def test_a_multipart_start_whose_answers_are_always_lost_fails_and_leaves_no_upload(
    faulty: ProxiedBackend, bucket_name: str, data_plane: str, request: pytest.FixtureRequest
) -> None:
    """Every copy of the start may have made an upload on the server, and
    the caller received none of their ids: none may stay open."""
    start = faulty.wire.start
    if isinstance(start, Unsupported):
        pytest.skip(start.reason)
    if faulty.name == "s3_moto":
        # the window is placed on the server's clock, which moto's listing does not show
        reason = "moto answers Initiated 2010-11-10 for every upload (tests/servers/moto.py)"
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    rule = faulty.proxy.add(start(bucket_name, KEY), ResetResponse(after=None))
    bucket = _through_proxy(faulty, bucket_name, data_plane=data_plane)
    started = time.monotonic()
    with pytest.raises(ProviderConnectionException) as failure:
        bucket.objects.create(KEY).upload(os.urandom(6 * MiB), SMALL)
    assert time.monotonic() - started < GAVE_UP_WITHIN
    assert faulty.endpoint in str(failure.value)
    assert rule.matched >= ATTEMPTS
    assert _stored(faulty, bucket_name) is None
    assert _incomplete_uploads(faulty, bucket_name) == []


@pytest.mark.parametrize(
    ("after", "data_plane"),
    [(None, "lean"), (256 * 1024, "lean"), (256 * 1024, "sdk")],
    ids=["before-response", "mid-body", "mid-body-sdk"],
)
def test_a_stalled_read_fails_within_the_read_timeout(
    faulty: ProxiedBackend,
    bucket_name: str,
    tmp_path: Path,
    after: int | None,
    data_plane: str,
    request: pytest.FixtureRequest,
) -> None:
    defect = faulty.wire.known_defects.get("stalled-read-mid-body")
    if after is not None and data_plane == "sdk" and defect:
        request.applymarker(pytest.mark.xfail(reason=defect, strict=True))
    _put_directly(faulty, bucket_name, os.urandom(MiB))
    destination = tmp_path / "out.bin"
    destination.write_bytes(b"kept")
    rule = faulty.proxy.add(faulty.wire.read(bucket_name, KEY), Stall(after=after))
    bucket = _through_proxy(faulty, bucket_name, **IMPATIENT, data_plane=data_plane)
    started = time.monotonic()
    with pytest.raises(ProviderConnectionException) as failure:
        _read(bucket, "single", destination)
    elapsed = time.monotonic() - started
    # Each attempt waits out the read timeout; the SDK's backoff between
    # them is at most a second or two here.
    assert READ_TIMEOUT * STALL_ATTEMPTS <= elapsed < READ_TIMEOUT * STALL_ATTEMPTS + 8
    assert faulty.endpoint in str(failure.value)
    assert rule.matched == STALL_ATTEMPTS
    assert destination.read_bytes() == b"kept"


# --- servers that behave like Ceph RGW ---------------------------------------------


def test_create_only_multipart_upload_is_refused_where_the_server_ignores_if_none_match(
    faulty: ProxiedBackend, bucket_name: str
) -> None:
    wire = faulty.wire
    ignored = faulty.proxy.add(
        wire.complete(bucket_name, KEY), faulty.strip(wire.create_only_header)
    )
    bucket = _through_proxy(faulty, bucket_name)
    first = os.urandom(6 * MiB)
    bucket.objects.create(KEY).upload(first, SMALL, overwrite=False)
    assert ignored.matched == 1  # the completion went through, stripped of its condition
    with pytest.raises(PreconditionFailedException):
        bucket.objects.create(KEY).upload(os.urandom(6 * MiB), SMALL, overwrite=False)
    stored = _stored(faulty, bucket_name)
    assert stored is not None and _digest(stored) == _digest(first)
    assert _incomplete_uploads(faulty, bucket_name) == []


def test_listing_times_with_milliseconds_match_head(
    faulty: ProxiedBackend, bucket_name: str
) -> None:
    change = faulty.wire.listing_in_milliseconds
    if isinstance(change, Unsupported):
        pytest.skip(change.reason)
    _put_directly(faulty, bucket_name, b"some bytes")
    rewritten = faulty.proxy.add(faulty.wire.listing(bucket_name), RewriteBody(change))
    bucket = _through_proxy(faulty, bucket_name)
    listed = [obj for obj in bucket.objects.list() if obj.name == KEY]
    got = bucket.objects.get(KEY)
    found = bucket.objects.find(name=KEY)
    assert rewritten.fired >= 1
    assert len(listed) == 1 and got is not None and len(found) == 1
    assert listed[0].last_modified == got.last_modified == found[0].last_modified


LISTED = [f"listed/{i}" for i in range(5)]
CONTINUED = ("marker", "pageToken", "continuation-token", "start-after")
"""Query parameters that make a listing request one for a later page."""


def _later_pages(faulty: ProxiedBackend, bucket_name: str) -> Match:
    first = faulty.wire.listing(bucket_name)

    def later(request: Request) -> bool:
        return (first.where is None or first.where(request)) and any(
            name in request.query for name in CONTINUED
        )

    return dataclasses.replace(first, where=later)


def _walk_in_pages_of_two(faulty: ProxiedBackend, bucket_name: str) -> Iterator[str]:
    for key in LISTED:
        _put_directly(faulty, bucket_name, b"x", key=key)
    provider = faulty.provider(**RETRYING)
    provider.features = dataclasses.replace(provider.features, list_page_size=2)
    bucket = provider.storage.buckets.get(bucket_name)
    assert bucket is not None
    return (obj.name for obj in bucket.objects)


def test_a_later_listing_page_reset_once_is_retried_and_the_walk_is_exact(
    faulty: ProxiedBackend, bucket_name: str
) -> None:
    """Pages of two, each later one read ahead (``ListsAhead``) or in turn."""
    reset = faulty.proxy.add(_later_pages(faulty, bucket_name), ResetResponse(after=None), times=1)
    assert list(_walk_in_pages_of_two(faulty, bucket_name)) == LISTED
    assert reset.fired == 1
    assert not [t for t in threading.enumerate() if t.name == "bucketbridge-list-ahead"]


def test_a_later_listing_page_that_keeps_failing_raises_where_the_walk_reaches_it(
    faulty: ProxiedBackend, bucket_name: str
) -> None:
    faulty.proxy.add(_later_pages(faulty, bucket_name), ResetResponse(after=None))
    seen: list[str] = []
    with pytest.raises(ProviderConnectionException):
        for name in _walk_in_pages_of_two(faulty, bucket_name):
            seen.append(name)
    assert seen == LISTED[:2]
    assert not [t for t in threading.enumerate() if t.name == "bucketbridge-list-ahead"]
