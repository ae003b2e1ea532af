"""Swift's multiplexed small reads (drivers/swift/driver.py: SwiftSmallReads)
where Swift differs from the other backends: a token that expires in the
middle of a batch (its 401s go to the blocking read, which renews it), and
manifests, whose GET serves the joined content (an SLO lists its whole size
and is read multiplexed; a DLO lists 0 and is left to the blocking read).
The cases every backend shares are tests/conformance/test_multiplex.py's."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from swiftclient.client import Connection

from bucketbridge import Bucket, CloudProvider, Location, copy
from bucketbridge.dataplane.multiplex import Answer, Exchange, Multiplexer
from bucketbridge.drivers.records import ObjectInfo
from bucketbridge.drivers.swift.driver import SwiftDriver, SwiftSmallReads
from bucketbridge.drivers.swift.wire import SwiftWire
from tests.servers.swift import SwiftServer
from tests.swift.conftest import unique_bucket_name

from .test_config import MakeProvider

Seen = list[tuple[str, int, bool]]
"""(key, status, whether small_result gave a record) for each answer read."""


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Seen:
    """Every answer the small reads judged, and how."""
    judged: Seen = []
    judge = SwiftSmallReads.small_result

    def recorded(
        self: SwiftSmallReads, bucket: str, key: str, listed: ObjectInfo, answer: Answer
    ) -> ObjectInfo | None:
        info = judge(self, bucket, key, listed, answer)
        judged.append((key, answer.status, info is not None))
        return info

    monkeypatch.setattr(SwiftSmallReads, "small_result", recorded)
    return judged


def _down(provider: CloudProvider, name: str, local: CloudProvider) -> tuple[Bucket, Any]:
    target = local.storage.buckets.create(unique_bucket_name())
    with ThreadPoolExecutor(1) as pool:
        report = copy(Location(provider, name, "m/"), Location.of(target), executor=pool)
    return target, report


def _bytes(bucket: Bucket, key: str) -> bytes:
    return b"".join(bucket.objects.create(key).iter_content())


def test_a_token_that_expires_mid_batch_is_renewed_and_the_batch_completes(
    swift_bucket: Bucket,
    swift_server: SwiftServer,
    make_provider: MakeProvider,
    local: CloudProvider,
    seen: Seen,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = {f"m/k{i:02d}": os.urandom(1000 + i) for i in range(12)}
    for key, payload in data.items():
        swift_bucket.objects.create(key).upload(payload)
    provider = make_provider(swift_server.v1_config(multiplex_window=4))
    driver = provider.driver
    assert isinstance(driver, SwiftDriver) and driver.small_reads is not None
    made = SwiftWire.small_read

    def expiring(self: SwiftWire, container: str, name: str) -> Exchange:
        if name == "m/k04":  # the server no longer takes the token from here on
            signer: Any = self._signer
            signer._auth = (signer._auth[0], "expired-token")
        return made(self, container, name)

    monkeypatch.setattr(SwiftWire, "small_read", expiring)
    target, report = _down(provider, swift_bucket.name, local)
    assert report.ok and report.copied == len(data)
    for key, payload in data.items():
        assert _bytes(target, key[2:]) == payload
    statuses = {key: (status, judged) for key, status, judged in seen}
    assert sorted(statuses) == sorted(data)
    assert statuses["m/k00"] == (200, True)  # multiplexed with the first token
    refused = [key for key, (status, judged) in statuses.items() if status == 401]
    assert refused and not any(statuses[key][1] for key in refused)  # the blocking read's
    assert statuses["m/k11"] == (200, True)  # multiplexed again, with the renewed token


def test_small_manifests_are_copied_whole_and_right(
    swift_bucket: Bucket,
    raw: Connection,
    make_provider: MakeProvider,
    swift_server: SwiftServer,
    local: CloudProvider,
    seen: Seen,
) -> None:
    """An SLO of two small segments lists its whole size: read multiplexed
    and copied whole. A DLO lists 0 (its manifest is empty): never
    multiplexed, the blocking read copies its joined content."""
    name = swift_bucket.name
    pieces = [os.urandom(700 + i) for i in range(2)]  # the server allows 2
    for i, piece in enumerate(pieces):
        raw.put_object(name, f"s/{i}", piece)
    manifest = [{"path": f"/{name}/s/{i}", "size_bytes": len(p)} for i, p in enumerate(pieces)]
    raw.put_object(name, "m/slo", json.dumps(manifest), query_string="multipart-manifest=put")
    raw.put_object(name, "m/dlo", b"", headers={"X-Object-Manifest": f"{name}/s/"})
    plain = os.urandom(900)
    raw.put_object(name, "m/plain", plain)
    listed = {obj.name: obj.size for obj in swift_bucket.objects.list(prefix="m/")}
    assert listed == {"m/slo": sum(map(len, pieces)), "m/dlo": 0, "m/plain": len(plain)}

    provider = make_provider(swift_server.config(multiplex_window=4))
    target, report = _down(provider, name, local)
    assert report.ok and report.copied == 3
    whole = b"".join(pieces)
    assert _bytes(target, "slo") == whole
    assert _bytes(target, "dlo") == whole
    assert _bytes(target, "plain") == plain
    assert target.objects.get("dlo").size == len(whole)  # type: ignore[union-attr]
    assert sorted((key, status, judged) for key, status, judged in seen) == [
        ("m/plain", 200, True),
        ("m/slo", 200, True),
    ]  # the DLO was never multiplexed


def test_a_manifest_served_at_another_size_than_listed_goes_to_the_blocking_read(
    swift_bucket: Bucket, raw: Connection, make_provider: MakeProvider, swift_server: SwiftServer
) -> None:
    """A listing whose size is not what the GET serves (a DLO whose segments
    grew since, an object replaced): no record, so nothing is written from it."""
    name = swift_bucket.name
    raw.put_object(name, "s/0", b"a" * 500)
    raw.put_object(name, "m/dlo", b"x" * 10, headers={"X-Object-Manifest": f"{name}/s/"})
    provider = make_provider(swift_server.config(multiplex_window=4))
    small = provider.driver.small_reads  # type: ignore[attr-defined]
    assert isinstance(small, SwiftSmallReads)
    listed = provider.driver.list_objects(name, prefix="m/", marker=None, limit=10).items[0]
    assert listed.key == "m/dlo" and listed.size == 10  # the manifest's own body
    exchange = small.small_read(name, "m/dlo", listed)
    assert exchange is not None
    [(_, answer)] = list(Multiplexer(small.client, 4).run([("m/dlo", exchange)]))
    assert answer is not None and answer.status == 200 and answer.body == b"a" * 500
    assert small.small_result(name, "m/dlo", listed, answer) is None
