"""A batch of small puts to GCS, multiplexed, where one object carries
metadata GCS refuses (the driver's reserved etag key): that object fails
alone, with the blocking put's error, and every other one is copied."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bucketbridge import Bucket, CloudProvider, Location, copy
from bucketbridge.drivers.gcs.uploads import ETAG_METADATA_KEY


def test_an_object_the_driver_refuses_fails_alone(
    gcs: CloudProvider, gcs_bucket: Bucket, local: CloudProvider
) -> None:
    assert gcs.driver.small_writes is not None  # type: ignore[attr-defined]
    source = local.storage.buckets.create("src")
    for n in range(6):
        source.objects.create(f"k{n}").upload(b"x" * 100, metadata={"n": str(n)})
    source.objects.create("bad").upload(b"y", metadata={ETAG_METADATA_KEY: "forged"})
    with ThreadPoolExecutor(1) as pool:
        report = copy(Location.of(source), Location.of(gcs_bucket), executor=pool)
    assert report.copied == 6
    assert [failure.name for failure in report.failures] == ["bad"]
    assert "reserved" in report.failures[0].error
    assert sorted(obj.name for obj in gcs_bucket.objects) == [f"k{n}" for n in range(6)]
