"""Error mapping against real endpoints: SeaweedFS for S3's own error codes,
a closed port for connection refused, and a small HTTP server on loopback that
answers 503 SlowDown to everything (no S3 server can be made to do that on
demand), for the retry-then-give-up path."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from bucketbridge import (
    Bucket,
    CloudProvider,
    DuplicateResourceException,
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
    ProviderConnectionException,
)
from bucketbridge.drivers.s3.errors import ErrorResponse, S3ResponseError
from tests.s3.conftest import unique_bucket_name
from tests.servers.process import free_ports
from tests.servers.seaweedfs import S3Server

MiB = 1024 * 1024


class _SlowDownHandler(http.server.BaseHTTPRequestHandler):
    requests_seen = 0
    lock = threading.Lock()

    def _refuse(self) -> None:
        with self.lock:
            type(self).requests_seen += 1
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
            b"<Message>Please reduce your request rate.</Message></Error>"
        )
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _refuse  # noqa: N815 (http.server's names)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def slow_down_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowDownHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _SlowDownHandler.requests_seen = 0
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_connection_refused_names_the_endpoint(
    make_provider: Callable[[dict[str, Any]], CloudProvider],
) -> None:
    (port,) = free_ports(1)  # nothing listens there
    endpoint = f"http://127.0.0.1:{port}"
    provider = make_provider(
        {"aws_access_key": "AKIDX", "aws_secret_key": "secret", "s3_endpoint_url": endpoint}
    )
    with pytest.raises(ProviderConnectionException) as failed:
        provider.storage.buckets.list()
    message = str(failed.value)
    assert endpoint in message and "refused" in message
    assert "\n" not in message
    assert isinstance(failed.value.__cause__, EndpointConnectionError)


CAUSES = {"lean": S3ResponseError, "sdk": ClientError}
"""The error each data plane chains as the cause of a refusal."""


@pytest.mark.parametrize("plane", sorted(CAUSES))
def test_slow_down_is_retried_then_reported(
    slow_down_endpoint: str, make_provider: Callable[[dict[str, Any]], CloudProvider], plane: str
) -> None:
    provider = make_provider(
        {
            "aws_access_key": "AKIDX",
            "aws_secret_key": "secret",
            "s3_endpoint_url": slow_down_endpoint,
            "data_plane": plane,
        }
    )
    with pytest.raises(ProviderConnectionException) as failed:
        Bucket(provider, "s3t-busy").objects.list()
    message = str(failed.value)
    assert slow_down_endpoint in message and "SlowDown" in message and "503" in message
    assert isinstance(failed.value.__cause__, CAUSES[plane])
    assert _SlowDownHandler.requests_seen >= 2  # retried before giving up


@pytest.mark.parametrize("plane", sorted(CAUSES))
def test_not_found_keeps_the_server_error_as_its_cause(
    seaweedfs_server: S3Server,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    seaweed_bucket: Bucket,
    plane: str,
) -> None:
    """What is not found, and the names in the messages, is checked on every
    provider (tests/conformance: test_buckets, test_objects); here, that the
    botocore error, or the lean plane's S3 error, is chained."""
    provider = make_provider(seaweedfs_server.config(data_plane=plane))
    ghost = Bucket(provider, unique_bucket_name())
    with pytest.raises(NotFoundException, match=ghost.name) as listing:
        ghost.objects.list()
    assert isinstance(listing.value.__cause__, CAUSES[plane])
    with pytest.raises(NotFoundException, match="absent") as reading:
        Bucket(provider, seaweed_bucket.name).objects.create("absent").iter_content()
    assert isinstance(reading.value.__cause__, CAUSES[plane])


def test_a_duplicate_of_ones_own_bucket_says_so(
    seaweed: CloudProvider, seaweed_bucket: Bucket
) -> None:
    """S3's BucketAlreadyOwnedByYou; a non-empty bucket's refusal is in
    tests/conformance/test_buckets.py."""
    with pytest.raises(DuplicateResourceException, match="yours"):
        seaweed.storage.buckets.create(seaweed_bucket.name)


def test_small_parts_are_refused_as_invalid_value(seaweed_bucket: Bucket) -> None:
    upload = seaweed_bucket.objects.create("small-parts").create_multipart_upload()
    parts = [upload.upload_part(1, b"a" * 1024), upload.upload_part(2, b"b" * 1024)]
    with pytest.raises(InvalidValueException, match="5 MiB") as refused:
        upload.complete(parts)
    assert isinstance(refused.value.__cause__, ErrorResponse)
    upload.abort()
    upload.abort()  # twice is fine


def test_create_only_writes_refuse_existing_objects(
    seaweedfs_server: S3Server, seaweed_bucket: Bucket
) -> None:
    obj = seaweed_bucket.objects.create("once").upload(b"first")
    with pytest.raises(PreconditionFailedException):
        seaweed_bucket.objects.create("once").upload(b"second", overwrite=False)
    big = b"m" * (33 * MiB)  # above the multipart threshold: If-None-Match on complete
    with pytest.raises(PreconditionFailedException):
        seaweed_bucket.objects.create("once").upload(big, overwrite=False)
    assert obj.download_range(0, 100) == b"first"
    # the refused multipart upload was aborted: no parts are left behind
    behind = seaweedfs_server.boto3_client().list_multipart_uploads(Bucket=seaweed_bucket.name)
    assert behind.get("Uploads", []) == []
