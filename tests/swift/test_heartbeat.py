"""Server-side copies on the lean plane go with ``?heartbeat=on``
(bucketbridge/drivers/swift/heartbeat.py): the real Swift answers 202 at
once and the outcome in the body, which is read as the copy's status."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bucketbridge import Bucket, CloudProvider, NotFoundException, PreconditionFailedException
from bucketbridge.drivers.swift import heartbeat
from bucketbridge.errors import ProviderConnectionException


def test_a_copy_is_answered_202_at_once_and_its_outcome_read_from_the_body(
    swift_bucket: Bucket, caplog: pytest.LogCaptureFixture
) -> None:
    source = swift_bucket.objects.create("src").upload(b"hello", metadata={"a": "1"})
    with caplog.at_level(logging.DEBUG, logger="bucketbridge.requests"):
        copied = source.copy_to(swift_bucket, "dst", content_type="text/x-new")
    # one line per answer: "PUT http://.../dst -> 202 in 0.010 s"
    puts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("PUT")]
    assert [m.split(" -> ")[1][:3] for m in puts if "/dst " in m] == ["202"], puts
    assert copied.etag == source.etag and copied.size == 5
    stored = swift_bucket.objects.get("dst")
    assert stored is not None and stored.content_type == "text/x-new"
    assert b"".join(stored.iter_content()) == b"hello"


def test_a_failure_in_the_heartbeat_body_raises(swift: CloudProvider, swift_bucket: Bucket) -> None:
    swift_bucket.objects.create("src").upload(b"hello")
    driver: Any = swift.driver
    wire = driver.wire()
    assert wire is not None
    source = {"x-copy-from": f"/{swift_bucket.name}/src"}
    # the source is read (so the proxy answers 202), then the PUT into a
    # container that does not exist fails: the 404 comes in the body
    with pytest.raises(NotFoundException):
        wire.copy("no-such-container-hb", "dst", source)
    # refused before copying (If-Match against the source): a plain 412
    with pytest.raises(PreconditionFailedException):
        wire.copy(swift_bucket.name, "dst", {**source, "if-match": "0" * 32})


def test_heartbeat_bodies_parse() -> None:
    body = b'   {"Response Status": "201 Created", "Response Body": "",'
    body += b' "Etag": "abc", "Errors": []}'
    outcome = heartbeat.parse(body)
    assert (outcome.status, outcome.headers) == (201, {"etag": "abc"})
    failed = heartbeat.parse(
        b' {"Response Status": "503 Service Unavailable", "Response Body": "no node",'
        b' "Errors": [["/c/o", "503 Service Unavailable"]]}'
    )
    assert (failed.status, failed.reason) == (503, "Service Unavailable: no node")
    with pytest.raises(ProviderConnectionException, match="no status"):
        heartbeat.parse(b"    ")  # the proxy went away mid-copy
