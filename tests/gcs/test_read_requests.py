"""What the lean plane's read sends, and the stream it returns: the
shortcuts of a small read's hot path (drivers/gcs/wire.py's ``_Targeted``
and ``segment``, driver.py's ``_MediaStream``) change nothing on the wire
nor in what a caller sees."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from typing import Any

import pytest

from bucketbridge import Bucket, CloudProvider, PermissionDeniedException
from bucketbridge.dataplane.request import Request, encode
from bucketbridge.drivers.gcs.driver import GcsDriver
from bucketbridge.drivers.gcs.wire import segment
from bucketbridge.drivers.records import ReadOptions
from tests.gcs.test_signing import FailingCredentials

KEYS = [
    "k",
    "plain-key_1.dat",
    "a/b/c.dat",
    "/leading//double/",
    "~tilde.x",
    "with space",
    "percent%2Fencoded",
    "comma,and(parens)",
    "query?and#hash&amp=1",
    "plus+equals=",
    "unicode/é/日本",
    "",
]


@pytest.mark.parametrize("key", KEYS)
def test_a_key_as_a_path_segment_is_what_encode_makes(key: str) -> None:
    assert segment(key) == encode(key)


@pytest.fixture
def sent(gcs: CloudProvider) -> Iterator[list[Request]]:
    """Every request the driver's lean client sends, as it sends it."""
    driver: Any = gcs.driver
    client = driver.wire._client
    seen: list[Request] = []
    send = client.send

    def recording(request: Request, *args: Any, **kwargs: Any) -> Any:
        seen.append(request)
        return send(request, *args, **kwargs)

    client.send = recording
    yield seen
    del client.send


@pytest.mark.parametrize("key", ["a/b/c.dat", "comma,and(parens) é?#"])
def test_a_reads_requests_target_is_its_query_encoded(
    gcs: CloudProvider, gcs_bucket: Bucket, sent: list[Request], key: str
) -> None:
    """The media GET and the lookup write their query from constants encoded
    once: the request line is the one its pairs make, pair by pair."""
    driver: Any = gcs.driver
    data = os.urandom(4096)
    gcs_bucket.objects.create(key).upload(data)
    listed = driver.head_object(gcs_bucket.name, key)
    sent.clear()
    for options, expected in (
        (ReadOptions(listed=listed), data),
        (ReadOptions(), data),
        (ReadOptions(start=1, end=10), data[1:10]),
    ):
        assert b"".join(driver.read_object(gcs_bucket.name, key, options)) == expected
    assert [r.path.rsplit("/", 1)[-1] for r in sent] == [segment(key)] * len(sent)
    assert len(sent) == 5  # the listed read's GET; a lookup and a GET twice
    for request in sent:
        assert request.target() == Request.target(request), request
        assert request.target().startswith(f"{request.path}?")


def test_a_lean_reads_stream_iterates_or_fills_a_buffer(
    gcs: CloudProvider, gcs_bucket: Bucket
) -> None:
    """Its chunks (one iterator, however often asked for) or ``readinto``,
    either one to the end; the connection goes back to the pool after
    either, and a stream closed early reads nothing more."""
    driver: Any = gcs.driver
    data = os.urandom(10_000)
    gcs_bucket.objects.create("k").upload(data)
    listed = driver.head_object(gcs_bucket.name, "k")

    stream = driver.read_object(gcs_bucket.name, "k", ReadOptions(chunk_size=4096, listed=listed))
    chunks = iter(stream)
    assert iter(stream) is chunks
    assert [len(c) for c in chunks] == [4096, 4096, 1808]
    stream.close()

    stream = driver.read_object(gcs_bucket.name, "k", ReadOptions(listed=listed))
    assert stream.info == listed
    buffer = bytearray(6000)
    assert stream.readinto(buffer) == 6000 and buffer == data[:6000]
    assert stream.readinto(memoryview(buffer)) == 4000 and buffer[:4000] == data[6000:]
    assert stream.readinto(buffer) == 0
    stream.close()

    stream = driver.read_object(gcs_bucket.name, "k", ReadOptions(listed=listed))
    stream.close()
    assert stream.readinto(buffer) == 0 and list(stream) == []
    # the connections the reads read to the end were reused, the closed one dropped
    assert b"".join(driver.read_object(gcs_bucket.name, "k", ReadOptions())) == data


def test_a_listed_read_whose_token_cannot_be_had_is_permission_denied(
    gcs: CloudProvider, gcs_bucket: Bucket
) -> None:
    """The media GET a listing named maps the signer's failure as every
    lean request does."""
    gcs_bucket.objects.create("k").upload(b"data")
    listed = gcs.driver.head_object(gcs_bucket.name, "k")
    settings = gcs.driver.settings  # type: ignore[attr-defined]
    driver = GcsDriver(
        dataclasses.replace(settings, anonymous=False, credentials=FailingCredentials())
    )
    try:
        assert driver.wire is not None
        with pytest.raises(PermissionDeniedException, match="could not get an access token"):
            driver.read_object(gcs_bucket.name, "k", ReadOptions(listed=listed))
    finally:
        driver.close()


def test_a_pair_a_signer_adds_is_in_the_target() -> None:
    """The target written ahead is the request's only while its query is
    the one it was written from."""
    from bucketbridge.dataplane.request import Endpoint
    from bucketbridge.drivers.gcs.wire import _Targeted

    query = [("alt", "media"), ("generation", "12")]
    request = _Targeted(
        "GET", Endpoint.parse("http://h:1"), "/p", query, {}, "alt=media&generation=12"
    )
    assert request.target() == "/p?alt=media&generation=12" == Request.target(request)
    request.query.append(("sig", "a b"))
    assert request.target() == "/p?alt=media&generation=12&sig=a%20b"
