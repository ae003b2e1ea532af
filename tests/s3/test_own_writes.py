"""The ETags a retried create-only S3 write compares with (pure logic; the
behaviour is proven through the fault proxy in tests/conformance/test_faults.py)."""

from __future__ import annotations

import hashlib

from botocore.exceptions import ClientError

from bucketbridge.drivers.records import Body, PartInfo
from bucketbridge.drivers.s3.own_writes import (
    body_etag,
    multipart_etag,
    retried_into_precondition,
)


def test_body_etag_is_the_md5_of_the_whole_body_from_its_start() -> None:
    body = Body.of_bytes(b"x" * 10_000_000)
    body.seek(1234)  # wherever the SDK left it
    assert body_etag(body) == hashlib.md5(b"x" * 10_000_000).hexdigest()


def test_multipart_etag_is_the_md5_of_the_parts_md5s_and_their_count() -> None:
    parts = [b"a" * 10, b"b" * 3]
    tokens = [f'"{hashlib.md5(part).hexdigest()}"' for part in parts]
    expected = hashlib.md5(b"".join(hashlib.md5(part).digest() for part in parts)).hexdigest()
    infos = [PartInfo(n, token, 1) for n, token in enumerate(tokens, start=1)]
    assert multipart_etag(infos) == f"{expected}-2"


def test_a_part_etag_that_is_no_md5_gives_no_multipart_etag() -> None:
    assert multipart_etag([PartInfo(1, '"not-an-md5"', 1)]) is None


def _error(status: int, retries: int) -> ClientError:
    metadata = {"HTTPStatusCode": status, "RetryAttempts": retries}
    return ClientError({"Error": {"Code": "X"}, "ResponseMetadata": metadata}, "PutObject")


def test_only_a_412_after_a_retry_may_be_our_own_write() -> None:
    assert retried_into_precondition(_error(412, 1))
    assert not retried_into_precondition(_error(412, 0))  # the object was there before
    assert not retried_into_precondition(_error(503, 2))
