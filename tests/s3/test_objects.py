"""Object writes on SeaweedFS where S3 needs care from the driver: emptying a
bucket in batches. Pinned reads and progress on a single put are checked on
every provider in tests/conformance/test_objects.py."""

from __future__ import annotations

from bucketbridge import CloudProvider


def test_emptying_a_bucket_takes_one_request_per_thousand_objects(
    seaweed: CloudProvider,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.s3.conftest import unique_bucket_name

    bucket = seaweed.storage.buckets.create(unique_bucket_name())
    names = [f"k/{i:04d}" for i in range(1005)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: bucket.objects.create(name).upload(b"x"), names))
    calls: list[str] = []
    events = seaweed.driver._client.meta.events  # type: ignore[attr-defined]

    def count(model: object, **_: object) -> None:
        calls.append(model.name)  # type: ignore[attr-defined]

    events.register("before-call.s3", count)
    try:
        bucket.delete(delete_contents=True)
    finally:
        events.unregister("before-call.s3", count)
    assert calls.count("DeleteObjects") == 2
    assert "DeleteObject" not in calls
    assert seaweed.storage.buckets.get(bucket.name) is None
