"""The lean plane's SigV4 signer (bucketbridge/drivers/s3/sigv4.py) signs as
botocore's ``S3SigV4Auth`` does, request for request, and SeaweedFS, which
checks signatures and checksums, takes what it signs and refuses a wrong
secret or a wrong body checksum."""

from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import google_crc32c
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials, RefreshableCredentials
from botocore.utils import percent_encode

from bucketbridge.config import ConnectionSettings
from bucketbridge.dataplane.client import HttpClient
from bucketbridge.dataplane.request import Endpoint, Request, encode
from bucketbridge.drivers.http_errors import Subject
from bucketbridge.drivers.records import Body
from bucketbridge.drivers.s3.sigv4 import SigV4Signer
from bucketbridge.drivers.s3.wire import crc32c
from tests.s3.conftest import unique_bucket_name
from tests.servers.seaweedfs import S3Server

MOMENT = datetime(2026, 11, 27, 23, 59, 58, tzinfo=timezone.utc)
KEYS = [
    "plain.txt",
    "dir/sub dir/with space.bin",
    "plus+sign",
    "tilde~and-dash_under.dot",
    "percent%20literal%",
    "ünïcödé/日本語/emoji-🎉",
    "//leading/double//slashes",
    "query?and#hash&amp=",
]
QUERIES: list[list[tuple[str, str]]] = [
    [],
    [("list-type", "2"), ("encoding-type", "url"), ("max-keys", "1000")],
    [("list-type", "2"), ("prefix", "dir/sub dir/"), ("start-after", "a+b~c%d/é")],
    [("list-type", "2"), ("continuation-token", "1/AbC+dEf==")],
    [("partNumber", "7"), ("uploadId", "2~xYz_.-+/=")],
    [("uploads", "")],
]


def botocore_sign(
    request: Request, credentials: Credentials, region: str, *, unsigned_payload: bool
) -> dict[str, str]:
    """The headers botocore adds to the same request, at the same moment.
    Its URL is built with botocore's own key encoding, and its query from the
    decoded pairs, so that the encodings are compared too."""
    endpoint = request.endpoint
    bucket, _, key = request.path.lstrip("/").partition("/")
    url = f"{endpoint.scheme}://{endpoint.netloc}/{bucket}/{percent_encode(KEY_OF[key], safe='/~')}"
    theirs = AWSRequest(
        method=request.method,
        url=url,
        headers={name: value for name, value in request.headers.items()},
        params=list(request.query),
        data=b"" if request.content_length == 0 else b"x" * request.content_length,
    )
    if unsigned_payload:
        theirs.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    with mock.patch("botocore.auth.get_current_datetime", return_value=MOMENT):
        S3SigV4Auth(credentials, "s3", region).add_auth(theirs)
    return {name.lower(): value for name, value in theirs.headers.items()}


KEY_OF = {encode(key, keep_slash=True): key for key in KEYS}


def ours(request: Request, credentials: Credentials, region: str) -> dict[str, str]:
    signer = SigV4Signer(lambda: credentials, region, clock=MOMENT.timestamp)
    signer.sign(request)
    return dict(request.headers)


def as_sent(
    method: str,
    endpoint: Endpoint,
    key: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes | None,
) -> Request:
    """A request as HttpClient.send hands it to the signer (host and
    content-length set)."""
    request = Request(method, endpoint, "/bkt/" + encode(key, keep_slash=True), query, headers)
    request.body = body
    request.headers["host"] = endpoint.netloc
    request.headers["content-length"] = str(request.content_length)
    return request


CREDENTIALS = {
    "long-term": Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
    "session-token": Credentials("ASIAEXAMPLE", "s3cr3t/+=", "FQoGZXIvYXdzE//token+with/slash=="),
}
ENDPOINTS = {
    "custom-port": Endpoint.parse("http://127.0.0.1:8333"),
    "aws": Endpoint.parse("https://s3.eu-west-1.amazonaws.com"),
}


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("query", QUERIES, ids=lambda q: "&".join(k for k, _ in q) or "none")
@pytest.mark.parametrize("who", sorted(CREDENTIALS))
def test_bodiless_requests_are_signed_as_botocore_signs_them(
    key: str, query: list[tuple[str, str]], who: str
) -> None:
    for name, endpoint in ENDPOINTS.items():
        region = "eu-west-1" if name == "aws" else "us-east-1"
        method = "GET" if query or key.endswith("t") else "HEAD"
        headers = {"range": "bytes=5-", "if-match": '"0123abcd"'} if not query else {}
        request = as_sent(method, endpoint, key, query, headers, None)
        expected = botocore_sign(request, CREDENTIALS[who], region, unsigned_payload=False)
        got = ours(request, CREDENTIALS[who], region)
        for header in ("authorization", "x-amz-date", "x-amz-content-sha256"):
            assert got[header] == expected[header], (name, header)
        assert got.get("x-amz-security-token") == expected.get("x-amz-security-token")


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("who", sorted(CREDENTIALS))
def test_bodies_are_signed_unsigned_as_botocore_signs_them(key: str, who: str) -> None:
    body = b"some bytes to put"
    headers = {
        "content-type": "text/plain; charset=utf-8",
        "x-amz-meta-run-id": "7",
        "x-amz-meta-1st": "a  b",  # runs of spaces are folded in the canonical form only
        "if-none-match": "*",
        "x-amz-checksum-crc32c": crc32c(Body.of_bytes(body)),
    }
    for query in ([], [("partNumber", "3"), ("uploadId", "abc+/=")]):
        request = as_sent("PUT", ENDPOINTS["custom-port"], key, query, dict(headers), body)
        expected = botocore_sign(request, CREDENTIALS[who], "us-east-1", unsigned_payload=True)
        got = ours(request, CREDENTIALS[who], "us-east-1")
        assert got["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
        assert got["authorization"] == expected["authorization"]


def test_refreshable_credentials_are_read_at_each_signature() -> None:
    issued: list[str] = []

    def refresh() -> dict[str, Any]:
        issued.append(f"ASIA{len(issued)}")
        return {
            "access_key": issued[-1],
            "secret_key": "secret",
            "token": "token",
            # already inside the refresh window: every use refreshes
            "expiry_time": (datetime.now(timezone.utc) + timedelta(seconds=30)).isoformat(),
        }

    credentials = RefreshableCredentials.create_from_metadata(refresh(), refresh, "test")
    signer = SigV4Signer(lambda: credentials, "us-east-1", clock=MOMENT.timestamp)
    used = []
    for _ in range(2):
        request = as_sent("GET", ENDPOINTS["custom-port"], "k", [], {}, None)
        signer.sign(request)
        used.append(request.headers["authorization"].split("Credential=")[1].split("/")[0])
    assert used == issued[-2:] and used[0] != used[1]


def test_one_signer_signs_as_botocore_across_midnight_and_a_new_key() -> None:
    """What the signer keeps between signatures (the day's signing key, its
    scope and the Authorization header's start) follows the date, the
    access key and the secret: each signature is botocore's at that moment."""
    moments = [MOMENT, MOMENT + timedelta(seconds=3), MOMENT + timedelta(seconds=4)]
    keys = [CREDENTIALS["long-term"], CREDENTIALS["long-term"], CREDENTIALS["session-token"]]
    now = [moments[0]]
    held = Credentials("", "")  # as a provider holds them: changed in place
    signer = SigV4Signer(lambda: held, "us-east-1", clock=lambda: now[0].timestamp())
    for moment, credentials in zip(moments + moments[:1], keys + keys[:1], strict=True):
        now[0] = moment
        held.access_key, held.secret_key = credentials.access_key, credentials.secret_key
        held.token = credentials.token
        request = as_sent("HEAD", ENDPOINTS["custom-port"], "plain.txt", [], {}, None)
        signer.sign(request)
        with mock.patch("tests.s3.test_sigv4.MOMENT", moment):
            expected = botocore_sign(request, credentials, "us-east-1", unsigned_payload=False)
        assert request.headers["authorization"] == expected["authorization"], moment


@pytest.fixture
def seaweed_wire(seaweedfs_server: S3Server) -> Any:
    client = HttpClient(ConnectionSettings(5.0, 30.0, 1, 4))
    endpoint = Endpoint.parse(seaweedfs_server.endpoint_url)
    bucket = unique_bucket_name()
    seaweedfs_server.boto3_client().create_bucket(Bucket=bucket)
    yield client, endpoint, bucket
    boto = seaweedfs_server.boto3_client()
    for item in boto.list_objects_v2(Bucket=bucket).get("Contents", []):
        boto.delete_object(Bucket=bucket, Key=item["Key"])
    boto.delete_bucket(Bucket=bucket)
    client.close()


def test_seaweedfs_takes_our_signature_and_refuses_a_wrong_secret_or_checksum(
    seaweedfs_server: S3Server, seaweed_wire: Any
) -> None:
    client, endpoint, bucket = seaweed_wire
    right = SigV4Signer(
        lambda: Credentials(seaweedfs_server.access_key, seaweedfs_server.secret_key), "us-east-1"
    )
    wrong = SigV4Signer(
        lambda: Credentials(seaweedfs_server.access_key, seaweedfs_server.secret_key + "x"),
        "us-east-1",
    )
    subject = Subject("S3", seaweedfs_server.endpoint_url)
    key = encode("ünï code/with space+plus~", keep_slash=True)
    data = os.urandom(100_000)

    def put(signer: SigV4Signer, checksum_of: bytes) -> tuple[int, bytes]:
        headers = {"x-amz-checksum-crc32c": crc32c(Body.of_bytes(checksum_of))}
        request = Request("PUT", endpoint, f"/{bucket}/{key}", headers=headers, body=data)
        response = client.send(request, signer, subject)
        return response.status, response.read()

    assert put(right, data)[0] == 200
    status, body = put(right, data + b"!")
    assert status == 400 and b"BadDigest" in body  # the checksum is what guards the body
    status, body = put(wrong, data)
    assert status == 403 and b"SignatureDoesNotMatch" in body
    for signer, expected in ((right, 200), (wrong, 403)):
        response = client.send(Request("GET", endpoint, f"/{bucket}/{key}"), signer, subject)
        assert (response.status, response.read() == data) == (expected, expected == 200)


@pytest.mark.parametrize("key", KEYS[:6])
@pytest.mark.parametrize("token", [None, "session/token+=="])
def test_a_presigned_url_is_signed_as_botocore_signs_it(key: str, token: str | None) -> None:
    """The query botocore's ``S3SigV4QueryAuth`` gives the same request at
    the same moment: every pair, the signature included."""
    from urllib.parse import parse_qs, urlsplit

    from botocore.auth import S3SigV4QueryAuth

    credentials = Credentials("AKIDEXAMPLE", "secret/key+example", token)
    endpoint = Endpoint("http", "127.0.0.1", 8333)
    params = [("response-content-type", "text/plain; charset=utf-8")]
    path = f"/bucket/{encode(key, keep_slash=True)}"
    request = Request("GET", endpoint, path, list(params))
    SigV4Signer(lambda: credentials, "eu-west-1", clock=MOMENT.timestamp).presign(request, 600)

    url = f"http://127.0.0.1:8333/bucket/{percent_encode(key, safe='/~')}"
    theirs = AWSRequest(method="GET", url=url, params=params)
    with mock.patch("botocore.auth.get_current_datetime", return_value=MOMENT):
        S3SigV4QueryAuth(credentials, "s3", "eu-west-1", expires=600).add_auth(theirs)
    prepared = theirs.prepare()
    assert urlsplit(request.url()).path == urlsplit(prepared.url).path
    assert parse_qs(urlsplit(request.url()).query) == parse_qs(urlsplit(prepared.url).query)


def test_crc32c_of_bytes_in_memory_is_of_those_bytes_without_reading_them_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(5000)
    expected = base64.b64encode(google_crc32c.value(data[10:]).to_bytes(4, "big")).decode()
    path = tmp_path / "data"
    path.write_bytes(data)
    with open(path, "rb") as handle:
        assert crc32c(Body.of_file(handle.fileno(), 10, len(data) - 10)) == expected
    assert crc32c(Body.of_bytes(data[10:])) == expected
    monkeypatch.setattr(Body, "read", lambda self, size=-1: pytest.fail("read out into a copy"))
    # bytes whole, a bytearray, and a slice of bytes (not the bytes it is cut from)
    for body in (data[10:], bytearray(data[10:]), memoryview(data)[10:]):
        assert crc32c(Body.of_bytes(body)) == expected
