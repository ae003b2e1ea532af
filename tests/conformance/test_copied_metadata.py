"""One rule for the metadata a copy writes, whichever way it copies: the
source's metadata kept by ``copy_to``, ``copy()`` and ``sync()`` (source
etag recorded or not, inside one provider or across two) passes the check
an upload's does (``checks.check_metadata``): names lower-cased, a value
that could not round-trip refused with InvalidValueException naming it.

The source's odd metadata is written past the public API (a driver call),
as another tool writing to the same store would. On LOCAL, MEMORY and GCS
(which keep names' case and values as given; S3 lower-cases names itself).
"""

from __future__ import annotations

import pytest

from bucketbridge import Bucket, CloudProvider, InvalidValueException, Location, copy, sync
from bucketbridge.drivers.records import Body, WriteOptions
from tests.conformance.conftest import backend_factory
from tests.servers.providers import ProviderFactory


@pytest.fixture(params=["local", "memory", "gcp_fake_gcs"])
def provider_factory(request: pytest.FixtureRequest) -> ProviderFactory:
    return backend_factory(request)


def _put_past_the_checks(bucket: Bucket, key: str, metadata: dict[str, str]) -> None:
    provider: CloudProvider = bucket._provider  # type: ignore[attr-defined]
    body = Body.of_bytes(b"odd metadata")
    provider.driver.put_object(bucket.name, key, body, WriteOptions("text/plain", metadata, False))


def _metadata(bucket: Bucket, key: str) -> dict[str, str]:
    """Its metadata but the source etag ``sync`` may record."""
    found = bucket.objects.get(key)
    assert found is not None, key
    return {name: value for name, value in found.metadata.items() if name != "bb-src-etag"}


def test_a_kept_source_metadata_is_checked_as_an_upload_s(
    bucket: Bucket, memory_bucket: Bucket
) -> None:
    _put_past_the_checks(bucket, "in/mixed", {"Mixed-Case": "v"})
    bucket.objects.get("in/mixed").copy_to(bucket, "inside/mixed")  # type: ignore[union-attr]
    bucket.objects.get("in/mixed").copy_to(memory_bucket, "across/mixed")  # type: ignore[union-attr]
    source = Location.of(bucket, "in/")
    assert copy(source, Location.of(bucket, "copied/")).ok
    assert sync(source, Location.of(bucket, "synced/")).ok
    assert sync(source, Location.of(memory_bucket, "stamped/")).ok
    assert [
        _metadata(bucket, "inside/mixed"),
        _metadata(memory_bucket, "across/mixed"),
        _metadata(bucket, "copied/mixed"),
        _metadata(bucket, "synced/mixed"),
        _metadata(memory_bucket, "stamped/mixed"),
    ] == [{"mixed-case": "v"}] * 5


def test_a_source_metadata_value_that_cannot_round_trip_is_refused_alike(
    bucket: Bucket, memory_bucket: Bucket
) -> None:
    _put_past_the_checks(bucket, "in/padded", {"p": " padded"})
    original = bucket.objects.get("in/padded")
    assert original is not None and original.metadata == {"p": " padded"}
    for target, name in ((bucket, "inside"), (memory_bucket, "across")):
        with pytest.raises(InvalidValueException, match="padded"):
            original.copy_to(target, f"{name}/padded")
    source = Location.of(bucket, "in/")
    for made in (
        copy(source, Location.of(bucket, "copied/")),
        sync(source, Location.of(bucket, "synced/")),
        sync(source, Location.of(memory_bucket, "stamped/")),
    ):
        assert not made.ok and len(made.failures) == 1
        assert "padded" in str(made.failures[0])
    assert [o.name for o in bucket.objects] == ["in/padded"]
    assert list(memory_bucket.objects) == []
