"""Small writes to Swift are put create-first (``If-None-Match: *``;
``NEW_KEY_FIRST`` in bucketbridge/drivers/swift/driver.py): a new key costs
one PUT and no HEAD, while a taken key is looked at for an SLO, replaced,
and the SLO's segments retired -- on the blocking put and on a copy's
multiplexed puts (``SwiftSmallWrites``) alike. The cases every backend
shares (faults, windows, create-only skips) are
tests/conformance/test_multiplex_writes.py's."""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from swiftclient.client import Connection

from bucketbridge import Bucket, CloudProvider, Location, TransferConfig, copy
from bucketbridge.dataplane.client import HttpClient
from bucketbridge.drivers.records import Body, WriteOptions
from bucketbridge.drivers.swift.driver import NEW_KEY_FIRST
from bucketbridge.errors import PreconditionFailedException
from tests.swift.conftest import live_segments, segment_headers

MiB = 1024 * 1024
LARGE = TransferConfig(threshold=5 * MiB, part_size=5 * MiB, max_concurrency=3)


def _lean_requests(monkeypatch: pytest.MonkeyPatch, swift: CloudProvider) -> Counter[str]:
    """The methods of the requests the driver's lean client sends one at a
    time (the multiplexer's go around it: see _multiplexed_puts)."""
    client: HttpClient = swift.driver._http  # type: ignore[attr-defined]
    sent: Counter[str] = Counter()
    send = client.send

    def counted(request: Any, *args: Any, **kwargs: Any) -> Any:
        sent[request.method] += 1
        return send(request, *args, **kwargs)

    monkeypatch.setattr(client, "send", counted)
    return sent


def _an_slo(bucket: Bucket, raw: Connection, key: str) -> set[str]:
    """A large object at ``key`` (an SLO of 3 segments); its live segments."""
    bucket.objects.create(key).upload(os.urandom(11 * MiB), LARGE)
    segments = set(live_segments(raw, bucket))
    assert segments
    return segments


def test_a_small_write_to_a_new_key_is_one_put_and_no_head(
    swift: CloudProvider, swift_bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = _lean_requests(monkeypatch, swift)
    obj = swift_bucket.objects.create("new.txt")
    obj.upload(b"x" * 4096)
    assert sent == Counter({"PUT": 1})
    assert b"".join(obj.iter_content()) == b"x" * 4096


def test_a_small_write_over_a_plain_object_replaces_it(
    swift: CloudProvider, swift_bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The create-first PUT's 412, then the HEAD that finds no SLO, then the
    PUT that replaces."""
    obj = swift_bucket.objects.create("there.txt")
    obj.upload(b"old")
    sent = _lean_requests(monkeypatch, swift)
    obj.upload(b"new", metadata={"k": "v"})
    assert sent == Counter({"PUT": 2, "HEAD": 1})
    found = swift_bucket.objects.get("there.txt")
    assert found is not None and found.metadata == {"k": "v"}
    assert b"".join(found.iter_content()) == b"new"


@pytest.mark.parametrize("size", [3, NEW_KEY_FIRST, NEW_KEY_FIRST + 1])
def test_a_small_write_over_an_slo_retires_its_segments(
    swift: CloudProvider, swift_bucket: Bucket, raw: Connection, size: int
) -> None:
    """Either side of NEW_KEY_FIRST (create-first, then the look for an
    SLO; or the look alone): the SLO's segments retire, the new bytes read."""
    old_segments = _an_slo(swift_bucket, raw, "big.bin")
    payload = os.urandom(size)
    swift_bucket.objects.create("big.bin").upload(payload)
    assert live_segments(raw, swift_bucket) == []
    stored = segment_headers(raw, swift_bucket)
    assert old_segments <= set(stored)  # retired (X-Delete-At), not deleted at once
    assert b"".join(swift_bucket.objects.create("big.bin").iter_content()) == payload


def test_a_create_only_small_write_over_an_object_is_refused_and_leaves_it(
    swift: CloudProvider, swift_bucket: Bucket
) -> None:
    swift_bucket.objects.create("kept.txt").upload(b"first")
    with pytest.raises(PreconditionFailedException, match=r"kept\.txt"):
        swift.driver.put_object(
            swift_bucket.name,
            "kept.txt",
            Body.of_bytes(b"second"),
            WriteOptions("text/plain", create_only=True),
        )
    assert b"".join(swift_bucket.objects.create("kept.txt").iter_content()) == b"first"


def test_a_copy_up_puts_new_keys_once_and_replaces_an_slo_among_them(
    swift: CloudProvider,
    swift_bucket: Bucket,
    raw: Connection,
    local: CloudProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch of small objects copied up on one thread (multiplexed): the
    new keys need no HEAD; the one key an SLO holds is found taken (412),
    looked at, replaced, and its segments retired."""
    assert swift.driver.small_writes is not None  # type: ignore[attr-defined]
    _an_slo(swift_bucket, raw, "k3")
    source = local.storage.buckets.create("src")
    data = {f"k{n}": os.urandom(1000 + n) for n in range(8)}
    for key, payload in data.items():
        source.objects.create(key).upload(payload)
    sent = _lean_requests(monkeypatch, swift)
    with ThreadPoolExecutor(1) as pool:
        report = copy(Location.of(source), Location.of(swift_bucket), executor=pool)
    assert report.ok and report.copied == len(data)
    # the blocking put of the taken key alone: its HEAD and its PUT
    assert sent["HEAD"] == 1 and sent["PUT"] == 1
    assert live_segments(raw, swift_bucket) == []
    for key, payload in data.items():
        assert b"".join(swift_bucket.objects.create(key).iter_content()) == payload
