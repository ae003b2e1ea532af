"""Small reads multiplexed over https against a real server: SeaweedFS behind
the fault proxy, which speaks TLS to the provider (a certificate of a CA
made for the run, which the provider trusts by ``ca_bundle``).

tests/dataplane/test_multiplex.py proves the TLS reading on a test server;
here a ``copy()`` on one thread keeps the window of reads in flight over
TLS connections to the real server, and a connection reset in the middle
of an answer ends as the blocking read ends it: the object copied whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bucketbridge import Bucket, CloudProvider, Location, copy
from tests.faults.proxy import Delay, FaultProxy, Request, ResetResponse
from tests.servers import certs
from tests.servers.seaweedfs import S3Server

KEYS = [f"m/k{i:02d}" for i in range(12)]


@pytest.fixture
def tls_proxy(seaweedfs_server: S3Server, tmp_path: Path) -> Iterator[FaultProxy]:
    upstream = urlsplit(seaweedfs_server.endpoint_url)
    assert upstream.hostname is not None and upstream.port is not None
    made = certs.make(tmp_path)
    with FaultProxy((upstream.hostname, upstream.port), tls=made.server) as proxy:
        yield proxy
    assert proxy.errors == []


@pytest.fixture
def source(seaweed_bucket: Bucket) -> dict[str, bytes]:
    data = {key: os.urandom(4096 + i) for i, key in enumerate(KEYS)}
    for key, payload in data.items():
        seaweed_bucket.objects.create(key).upload(payload)
    return data


@pytest.fixture
def over_tls(
    seaweedfs_server: S3Server,
    tls_proxy: FaultProxy,
    make_provider: Any,
    tmp_path: Path,
) -> CloudProvider:
    provider: CloudProvider = make_provider(
        seaweedfs_server.config(
            s3_endpoint_url=tls_proxy.url,
            ca_bundle=str(tmp_path / "ca.pem"),  # tls_proxy's certs.make
            multiplex_window=4,
        )
    )
    return provider


def _reads(bucket: str) -> Any:
    return lambda request: request.method == "GET" and f"/{bucket}/m/" in request.target


def _copy(over_tls: CloudProvider, bucket: str, local: CloudProvider) -> tuple[Bucket, Any]:
    target = local.storage.buckets.create("down")
    with ThreadPoolExecutor(1) as pool:
        report = copy(Location(over_tls, bucket, "m/"), Location.of(target), executor=pool)
    return target, report


def _assert_copied(target: Bucket, source: dict[str, bytes]) -> None:
    for key, payload in source.items():
        assert b"".join(target.objects.create(key[2:]).iter_content()) == payload


def test_one_thread_keeps_the_window_in_flight_over_tls(
    over_tls: CloudProvider,
    tls_proxy: FaultProxy,
    seaweed_bucket: Bucket,
    source: dict[str, bytes],
    local: CloudProvider,
) -> None:
    assert over_tls.driver.small_reads is not None  # type: ignore[attr-defined]
    tls_proxy.add(_reads(seaweed_bucket.name), Delay(0.05))
    tls_proxy.reset_counts()
    target, report = _copy(over_tls, seaweed_bucket.name, local)
    assert report.ok and report.copied == len(source)
    assert tls_proxy.most_in_flight == 4  # one thread, the window of 4, over TLS
    _assert_copied(target, source)


def test_a_reset_mid_answer_over_tls_is_read_again_whole(
    over_tls: CloudProvider,
    tls_proxy: FaultProxy,
    seaweed_bucket: Bucket,
    source: dict[str, bytes],
    local: CloudProvider,
) -> None:
    broken = KEYS[3]

    def match(request: Request) -> bool:
        return request.method == "GET" and request.target.split("?")[0].endswith(broken)

    rule = tls_proxy.add(match, ResetResponse(after=100), times=1)
    tls_proxy.add(_reads(seaweed_bucket.name), Delay(0.05))  # earlier rules win
    tls_proxy.reset_counts()
    target, report = _copy(over_tls, seaweed_bucket.name, local)
    assert rule.matched >= 2  # the reset answer, then the blocking read's
    assert tls_proxy.most_in_flight == 4  # the reset hit the multiplexed reads
    assert report.ok and report.copied == len(source)
    _assert_copied(target, source)


def _puts(bucket: str) -> Any:
    return lambda request: request.method == "PUT" and f"/{bucket}/up/" in request.target


@pytest.mark.parametrize("lost", [False, True], ids=["whole", "answer-lost"])
def test_puts_up_keep_the_window_in_flight_over_tls(
    over_tls: CloudProvider,
    tls_proxy: FaultProxy,
    seaweed_bucket: Bucket,
    local: CloudProvider,
    lost: bool,
) -> None:
    """The write side (``small_writes``): a copy up on one thread keeps 4
    PUTs in flight over TLS; one whose answer is lost after the server
    stored it is put again, create-only, and counted as ours."""
    assert over_tls.driver.small_writes is not None  # type: ignore[attr-defined]
    data = {f"k{i:02d}": os.urandom(4096 + i) for i in range(12)}
    origin = local.storage.buckets.create("upsource")
    for name, payload in data.items():
        origin.objects.create(name).upload(payload)
    rule = None
    if lost:

        def match(request: Request) -> bool:
            return request.method == "PUT" and request.target.endswith("/up/k03")

        rule = tls_proxy.add(match, ResetResponse(after=None), times=1)
    tls_proxy.add(_puts(seaweed_bucket.name), Delay(0.05))
    tls_proxy.reset_counts()
    with ThreadPoolExecutor(1) as pool:
        report = copy(
            Location.of(origin),
            Location(over_tls, seaweed_bucket.name, "up/"),
            executor=pool,
            overwrite="never",
        )
    assert report.ok and report.copied == len(data) and report.skipped == 0
    assert tls_proxy.most_in_flight == 4
    if rule is not None:
        assert rule.matched >= 2  # the lost answer, then the blocking put's 412, found ours
    for name, payload in data.items():
        assert b"".join(seaweed_bucket.objects.create("up/" + name).iter_content()) == payload


def test_boto_s_ca_bundle_variable_is_trusted_where_no_bundle_is_named(
    seaweedfs_server: S3Server,
    tls_proxy: FaultProxy,
    make_provider: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``AWS_CA_BUNDLE``, which boto3 alone honours, holds for the lean plane
    and the SDK alike (the SDK's control call, the lean plane's put)."""
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "ca.pem"))  # tls_proxy's certs.make
    provider: CloudProvider = make_provider(seaweedfs_server.config(s3_endpoint_url=tls_proxy.url))
    bucket = provider.storage.buckets.create(f"envca-{os.urandom(4).hex()}")
    try:
        bucket.objects.create("k").upload(b"x")
        assert b"".join(bucket.objects.create("k").iter_content()) == b"x"
    finally:
        bucket.delete(delete_contents=True)
