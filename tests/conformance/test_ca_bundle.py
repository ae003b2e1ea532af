"""``ca_bundle``: one CA bundle named once, trusted over https by every
network provider, on the lean data plane and in the SDK alike.

Each backend's server sits behind the fault proxy speaking https with a
certificate of a CA made for the test (``faulty_tls``). With that CA named,
a bucket is made (the SDK's call), small objects are put and read back
(the lean plane's), and a batch is copied down on one thread with four reads
in flight at once (the multiplexer over TLS, checked against the bundle).
With another CA named, or none (the system's, which know nothing of this
one), the first request of each plane is refused with the library's clear
error; and a bundle that cannot be loaded is refused when the provider is
made, naming the key and the path.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bucketbridge import Bucket, CloudProvider, Location, copy
from bucketbridge.errors import BucketBridgeException, InvalidConfigurationException
from tests.conformance.conftest import unique_name
from tests.faults.fixtures import ProxiedBackend
from tests.faults.proxy import Delay
from tests.servers import certs

KEYS = [f"m/k{i:02d}" for i in range(8)]
WINDOW = 4


def _bundle(faulty_tls: ProxiedBackend) -> str:
    assert faulty_tls.ca_file is not None
    return str(faulty_tls.ca_file)


def test_every_call_trusts_the_bundle_named(
    faulty_tls: ProxiedBackend, local: CloudProvider
) -> None:
    provider = faulty_tls.provider(ca_bundle=_bundle(faulty_tls), multiplex_window=WINDOW)
    bucket = provider.storage.buckets.create(unique_name("tls"))
    try:
        data = {key: os.urandom(4096 + i) for i, key in enumerate(KEYS)}
        for key, payload in data.items():
            bucket.objects.create(key).upload(payload)
        assert sorted(obj.name for obj in bucket.objects) == KEYS
        first = bucket.objects.get(KEYS[0])
        assert first is not None and b"".join(first.iter_content()) == data[KEYS[0]]
        for key in KEYS:
            faulty_tls.proxy.add(faulty_tls.wire.read(bucket.name, key), Delay(0.05))
        faulty_tls.proxy.reset_counts()
        target = local.storage.buckets.create(unique_name("down"))
        with ThreadPoolExecutor(1) as pool:
            report = copy(Location.of(bucket, "m/"), Location.of(target), executor=pool)
        assert report.ok and report.copied == len(KEYS)
        if getattr(provider.driver, "small_reads", None) is not None:
            assert faulty_tls.proxy.most_in_flight == WINDOW  # multiplexed over TLS
        for key, payload in data.items():
            assert b"".join(target.objects.create(key[2:]).iter_content()) == payload
    finally:
        bucket.delete(delete_contents=True)


@pytest.mark.parametrize("trusted", ["another CA", "the system's CAs"])
def test_a_certificate_the_bundle_does_not_vouch_for_is_refused(
    faulty_tls: ProxiedBackend, tmp_path: Path, trusted: str
) -> None:
    config: dict[str, object] = {"max_attempts": 1}
    if trusted == "another CA":
        config["ca_bundle"] = str(certs.make(tmp_path).ca_file)
    provider = faulty_tls.provider(**config)
    with pytest.raises(BucketBridgeException, match=r"(?i)certificate"):
        provider.storage.buckets.create(unique_name("tls"))  # the SDK's call
    with pytest.raises(BucketBridgeException, match=r"(?i)certificate"):
        # a read by key, no lookup first: the lean plane's GET
        b"".join(Bucket(provider, "any-bucket").objects.create("k").iter_content())


def test_a_bundle_that_cannot_be_loaded_is_refused_when_the_provider_is_made(
    faulty_tls: ProxiedBackend, tmp_path: Path
) -> None:
    not_pem = tmp_path / "not-a-bundle.pem"
    not_pem.write_text("no certificate here\n")
    for path in (str(tmp_path / "missing.pem"), str(not_pem)):
        with pytest.raises(InvalidConfigurationException) as refused:
            faulty_tls.provider(ca_bundle=path)
        assert "'ca_bundle'" in str(refused.value) and path in str(refused.value)


def test_checking_turned_off_wins_over_a_bundle_on_s3(
    faulty_tls: ProxiedBackend, tmp_path: Path
) -> None:
    """``s3_validate_certs=False`` trusts any certificate, whatever CA is named."""
    if not faulty_tls.name.startswith("s3"):
        pytest.skip("s3_validate_certs is S3's setting")
    other = str(certs.make(tmp_path).ca_file)
    provider = faulty_tls.provider(ca_bundle=other, s3_validate_certs=False)
    bucket = provider.storage.buckets.create(unique_name("tls"))
    try:
        bucket.objects.create("k").upload(b"x")
        assert [obj.name for obj in bucket.objects] == ["k"]
    finally:
        bucket.delete(delete_contents=True)
