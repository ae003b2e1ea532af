"""Finding and clearing multipart uploads nobody completed (issue 7, item 5),
in process, on every backend. tests/conformance/test_crashes.py leaves one
behind the hard way, with ``kill -9``."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone

import pytest

from bucketbridge import (
    Bucket,
    CloudProvider,
    InvalidValueException,
    MultipartUpload,
    NotFoundException,
)
from tests.conformance.conftest import unenforced, unique_name
from tests.servers.providers import ProviderFactory

PART = b"p" * 1024
# S3 servers report the start in whole seconds, so a time taken here may be
# up to a second after the one reported for an upload started later.
CLOCK_SLACK = timedelta(seconds=2)


def listed(bucket: Bucket) -> list[tuple[str, str]]:
    return [(upload.name, upload.id) for upload in bucket.objects.incomplete_uploads()]


def start(bucket: Bucket, key: str) -> MultipartUpload:
    upload = bucket.objects.create(key).create_multipart_upload()
    upload.upload_part(1, PART)
    return upload


def test_an_open_upload_is_listed_and_its_listed_handle_aborts_it(bucket: Bucket) -> None:
    upload = start(bucket, "open/upload.bin")
    bucket.objects.create("done.txt").upload(b"a completed object is no upload")

    (found,) = bucket.objects.incomplete_uploads()
    assert (found.name, found.id, found.bucket) == ("open/upload.bin", upload.id, bucket)
    assert found.initiated is not None and found.initiated.utcoffset() == timedelta(0)
    assert bucket.objects.get("open/upload.bin") is None
    assert bucket.objects.abort_incomplete_uploads(older_than=10**10) == 0  # 317 years
    with pytest.raises(InvalidValueException, match="upload"):
        found.complete([])  # only the upload's starter knows its content type

    found.abort()
    found.abort()  # again: harmless
    assert listed(bucket) == []
    assert bucket.objects.get("open/upload.bin") is None
    assert [obj.name for obj in bucket.objects] == ["done.txt"]


@pytest.mark.enforced("upload_initiated")
def test_an_upload_reports_when_it_started(bucket: Bucket) -> None:
    before = datetime.now(timezone.utc)
    start(bucket, "timed.bin")
    (found,) = bucket.objects.incomplete_uploads()
    assert found.initiated is not None
    assert before - CLOCK_SLACK <= found.initiated <= datetime.now(timezone.utc) + CLOCK_SLACK


@pytest.mark.enforced("upload_initiated")
def test_older_than_in_seconds_or_as_a_timedelta_picks_by_start_time(bucket: Bucket) -> None:
    old = start(bucket, "old.bin")
    time.sleep(1.1)  # whole seconds apart, even as S3 servers report them
    new = start(bucket, "new.bin")
    old.upload_part(2, PART)  # a part sent later must not make an upload younger
    by_name = {upload.name: upload.initiated for upload in bucket.objects.incomplete_uploads()}
    assert by_name["old.bin"] is not None and by_name["new.bin"] is not None
    assert by_name["old.bin"] < by_name["new.bin"], by_name
    between = by_name["old.bin"] + (by_name["new.bin"] - by_name["old.bin"]) / 2

    assert bucket.objects.abort_incomplete_uploads(older_than=3600) == 0
    assert bucket.objects.abort_incomplete_uploads(older_than=timedelta(hours=1)) == 0
    age = (datetime.now(timezone.utc) - between).total_seconds()
    assert bucket.objects.abort_incomplete_uploads(older_than=age) == 1
    assert listed(bucket) == [("new.bin", new.id)]
    # Long enough after the start, whatever whole second the server reported.
    time.sleep(max(0.0, (by_name["new.bin"] - datetime.now(timezone.utc)).total_seconds()))
    assert bucket.objects.abort_incomplete_uploads(older_than=timedelta(0)) == 1
    assert listed(bucket) == []
    assert bucket.objects.abort_incomplete_uploads() == 0


BAD_AGES = ["x", -1, -0.5, True, math.nan, math.inf, 10**30, timedelta(seconds=-1), [3600]]


def test_bad_older_than_is_refused_naming_it_and_aborts_nothing(bucket: Bucket) -> None:
    upload = start(bucket, "kept.bin")
    for older_than in BAD_AGES:
        with pytest.raises(InvalidValueException, match="older_than") as raised:
            bucket.objects.abort_incomplete_uploads(older_than=older_than)  # type: ignore[arg-type]
        assert raised.value.value is older_than
    assert listed(bucket) == [("kept.bin", upload.id)]


def test_the_uploads_of_a_missing_bucket_are_not_found(
    provider: CloudProvider, bucket: Bucket
) -> None:
    gone = bucket.objects  # the service of a bucket deleted since
    bucket.delete()
    with pytest.raises(NotFoundException, match=bucket.name):
        gone.incomplete_uploads()
    with pytest.raises(NotFoundException, match=bucket.name):
        gone.abort_incomplete_uploads()
    provider.storage.buckets.create(bucket.name)  # for the fixture to delete


def test_a_deleted_bucket_takes_its_open_uploads_along(
    provider: CloudProvider, provider_factory: ProviderFactory
) -> None:
    """As every S3 server does: a bucket of the same name made afterwards
    has none of them, and the old upload cannot complete into it (moto
    answers 500 to a missing upload, retried for seconds: not tried there)."""
    name = unique_name()
    bucket = provider.storage.buckets.create(name)
    upload = bucket.objects.create("k").create_multipart_upload()
    part = upload.upload_part(1, PART)
    bucket.delete()

    again = provider.storage.buckets.create(name)
    try:
        assert listed(again) == []
        if "no_such_upload" not in unenforced(provider_factory):
            with pytest.raises(NotFoundException):
                upload.complete([part])
        assert again.objects.get("k") is None
    finally:
        again.delete(delete_contents=True)
