"""The lean plane's Azure signers (bucketbridge/drivers/azure/signing.py).

Shared Key: for each request below, the signature equals the one
azure-storage-blob's own ``SharedKeyCredentialPolicy`` computes for the same
request (so a hand-written signer cannot drift silently from the SDK), and
Azurite accepts requests so signed and refuses them under a wrong key. SAS:
Azurite accepts the token's pairs, once however often a retry signs. Bearer:
a token is fetched once and renewed before it expires (pure logic, a fake
credential)."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.pipeline import PipelineContext, PipelineRequest
from azure.core.pipeline.transport import HttpRequest
from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas
from azure.storage.blob._shared.authentication import SharedKeyCredentialPolicy

from bucketbridge.config import ConnectionSettings
from bucketbridge.dataplane.client import HttpClient
from bucketbridge.dataplane.request import Endpoint, Request, encode
from bucketbridge.dataplane.signing import Signer
from bucketbridge.drivers.azure.signing import BearerSigner, SasSigner, SharedKeySigner
from bucketbridge.drivers.http_errors import Subject
from bucketbridge.drivers.records import Body
from bucketbridge.errors import InvalidConfigurationException
from tests.servers.azurite import ACCOUNT, ACCOUNT_KEY, AzuriteServer

VERSION = "2026-10-06"
ENDPOINT = Endpoint.parse(f"http://127.0.0.1:10000/{ACCOUNT}")
BLOCK_ID = base64.b64encode(base64.b64encode(b"bb-" + b"0" * 32 + b"-000000000007")).decode()
NAMES = ["plain.txt", "dir/sub/a b.txt", "plus+sign", "100%", "ünïcødé/日本.bin", "tilde~-_."]


def _path(container: str, name: str | None = None, endpoint: Endpoint = ENDPOINT) -> str:
    path = f"{endpoint.base_path}/{encode(container)}"
    return path if name is None else f"{path}/{encode(name, keep_slash=True)}"


def _requests(endpoint: Endpoint = ENDPOINT, container: str = "box") -> Iterator[Request]:
    """Requests of every shape the lean plane sends."""
    version = {"x-ms-version": VERSION}
    for name in NAMES:
        yield Request("HEAD", endpoint, _path(container, name), headers=dict(version))
        yield Request(
            "GET",
            endpoint,
            _path(container, name),
            headers={**version, "x-ms-range": "bytes=5-1048575", "if-match": '"0x8DABC"'},
        )
        yield Request(
            "PUT",
            endpoint,
            _path(container, name),
            headers={
                **version,
                "x-ms-blob-type": "BlockBlob",
                "x-ms-blob-content-type": "text/plain; charset=utf-8",
                "x-ms-meta-run_id": "42",
                "x-ms-meta-bbx_run_2did": "a b",
                "x-ms-meta-ab": "1",
                "x-ms-meta-a_b": "2",
                "if-none-match": "*",
                "content-md5": base64.b64encode(hashlib.md5(b"body").digest()).decode(),
            },
            body=b"body",
        )
        yield Request(
            "PUT",
            endpoint,
            _path(container, name),
            query=[("comp", "block"), ("blockid", BLOCK_ID)],
            headers=dict(version),
            body=Body.of_bytes(b"x" * 100),
        )
    yield Request(
        "GET",
        endpoint,
        _path(container),
        query=[
            ("restype", "container"),
            ("comp", "list"),
            ("prefix", "dir/a b+c%d ü"),
            (
                "marker",
                "2!48!MDAwMDE0IWRpci9zdWIvYSBiLnR4dCEwMDAwMjghOTk5OS0xMi0zMVQyMzo1OTo1OS45OTk5OTk5WiE-",
            ),
            ("maxresults", "5000"),
            ("include", "metadata"),
        ],
        headers=dict(version),
    )
    yield Request("PUT", endpoint, _path(container), [("restype", "container")], dict(version))


def _with_length(request: Request) -> Request:
    """The headers HttpClient.send sets before signing (Content-Length "0" too)."""
    request.headers["host"] = request.endpoint.netloc
    request.headers["content-length"] = str(request.content_length)
    return request


def _sdk_authorization(request: Request) -> str:
    headers = {name: value for name, value in request.headers.items() if name != "authorization"}
    sdk_request = HttpRequest(request.method, request.url(), headers=headers)
    pipeline_request = PipelineRequest(sdk_request, PipelineContext(None))
    SharedKeyCredentialPolicy(ACCOUNT, ACCOUNT_KEY).on_request(pipeline_request)
    return str(sdk_request.headers["Authorization"])


@pytest.mark.parametrize("length", ["set", "absent"])
def test_shared_key_signatures_equal_the_sdk_policys(length: str) -> None:
    signer = SharedKeySigner(ACCOUNT, ACCOUNT_KEY)
    requests = list(_requests())
    assert len(requests) > 20
    for request in requests:
        if length == "set":
            _with_length(request)
        signer.sign(request)
        assert request.headers["authorization"] == _sdk_authorization(request), request


def test_shared_key_signs_the_x_ms_headers_in_the_services_order_not_code_point_order() -> None:
    request = Request(
        "GET",
        ENDPOINT,
        "/devstoreaccount1/box/a",
        headers={"x-ms-version": VERSION, "x-ms-meta-ab": "1", "x-ms-meta-a_b": "2"},
    )
    text = SharedKeySigner(ACCOUNT, ACCOUNT_KEY).string_to_sign(request)
    assert text.index("x-ms-meta-a_b:") < text.index("x-ms-meta-ab:")  # '_' < 'b' for Azure


def test_a_key_that_is_not_base64_is_named_without_its_value() -> None:
    with pytest.raises(InvalidConfigurationException, match="devstoreaccount1") as refused:
        SharedKeySigner(ACCOUNT, "not base64 !")
    assert "not base64 !" not in str(refused.value)
    assert "***" in repr(SharedKeySigner(ACCOUNT, ACCOUNT_KEY))


# --- against Azurite ------------------------------------------------------------------


@pytest.fixture
def client() -> Iterator[HttpClient]:
    http = HttpClient(
        ConnectionSettings(connect_timeout=5, read_timeout=30, max_attempts=1, pool_size=4)
    )
    yield http
    http.close()


def _send(http: HttpClient, request: Request, signer: Signer) -> tuple[int, str, bytes]:
    response = http.send(request, signer, Subject("Azure Blob", request.endpoint.url()))
    body = response.read() if request.method != "HEAD" else b""
    response.close()
    return response.status, response.header("x-ms-error-code") or "", body


def test_azurite_accepts_every_shape_signed_with_the_key_and_refuses_a_wrong_key(
    azurite_server: AzuriteServer, client: HttpClient
) -> None:
    endpoint = Endpoint.parse(azurite_server.endpoint_url)
    container = f"sig-{os.urandom(4).hex()}"
    right = SharedKeySigner(ACCOUNT, ACCOUNT_KEY)
    wrong = SharedKeySigner(ACCOUNT, base64.b64encode(b"w" * 64).decode())
    requests = list(_requests(endpoint, container))
    create = requests.pop()  # the container first
    requests.insert(0, create)
    statuses = []
    for request in requests:
        refused = Request(
            request.method,
            endpoint,
            request.path,
            list(request.query),
            dict(request.headers),
            request.body,
        )
        assert _send(client, refused, wrong)[:2] == (403, "AuthorizationFailure")
        statuses.append(_send(client, request, right)[0])
    # every request got past authentication: 2xx, or a 404/412/416 about the object
    assert all(status < 400 or status in (404, 412, 416) for status in statuses), statuses
    assert statuses.count(201) >= 2 * len(NAMES)  # every Put Blob and Put Block stored
    listed = Request(
        "GET",
        endpoint,
        _path(container, endpoint=endpoint),
        [("restype", "container"), ("comp", "list")],
        {"x-ms-version": VERSION},
    )
    status, _, body = _send(client, listed, right)
    assert status == 200
    for name in NAMES:
        assert f"<Name>{name.replace('&', '&amp;')}</Name>".encode() in body


def test_azurite_accepts_a_plain_range_header_signed_in_its_standard_slot(
    azurite_server: AzuriteServer, client: HttpClient
) -> None:
    """The SDK never sends ``Range`` (its policy would sign it as empty);
    Azure signs it among the standard headers, as this signer does."""
    endpoint = Endpoint.parse(azurite_server.endpoint_url)
    container = f"sig-{os.urandom(4).hex()}"
    signer = SharedKeySigner(ACCOUNT, ACCOUNT_KEY)
    version = {"x-ms-version": VERSION}
    put_container = Request(
        "PUT",
        endpoint,
        _path(container, endpoint=endpoint),
        [("restype", "container")],
        dict(version),
    )
    assert _send(client, put_container, signer)[0] == 201
    put = Request(
        "PUT",
        endpoint,
        _path(container, "r", endpoint),
        [],
        {**version, "x-ms-blob-type": "BlockBlob"},
        b"0123456789",
    )
    assert _send(client, put, signer)[0] == 201
    ranged = Request(
        "GET", endpoint, _path(container, "r", endpoint), [], {**version, "range": "bytes=2-4"}
    )
    assert _send(client, ranged, signer)[::2] == (206, b"234")


def test_azurite_accepts_a_sas_token_once_however_often_a_request_is_signed(
    azurite_server: AzuriteServer, client: HttpClient
) -> None:
    endpoint = Endpoint.parse(azurite_server.endpoint_url)
    expiry = datetime.now(timezone.utc) + timedelta(hours=1)
    token = generate_account_sas(
        ACCOUNT,
        ACCOUNT_KEY,
        ResourceTypes(service=True, container=True, object=True),
        AccountSasPermissions(read=True, list=True),
        expiry,
    )
    signer = SasSigner(token)
    listing = Request(
        "GET", endpoint, f"{endpoint.base_path}/", [("comp", "list")], {"x-ms-version": VERSION}
    )
    signer.sign(listing)
    signer.sign(listing)  # a retry signs again
    assert [name for name, _ in listing.query].count("sig") == 1
    assert _send(client, listing, signer)[0] == 200
    tampered = SasSigner(token.replace("sp=", "sp=w"))
    listing = Request(
        "GET", endpoint, f"{endpoint.base_path}/", [("comp", "list")], {"x-ms-version": VERSION}
    )
    assert _send(client, listing, tampered)[0] == 403
    with pytest.raises(InvalidConfigurationException, match="sig"):
        SasSigner("sv=2020-01-01&sp=r")
    assert token not in repr(signer)


# --- bearer (pure logic) --------------------------------------------------------------


class CountingCredential:
    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.calls: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.calls.append(scopes)
        return AccessToken(f"token-{len(self.calls)}", int(time.time() + self.lifetime))


def test_a_bearer_token_is_cached_until_shortly_before_it_expires() -> None:
    lasting = CountingCredential(lifetime=3600)
    signer = BearerSigner(lasting)  # type: ignore[arg-type]
    for _ in range(3):
        request = Request("HEAD", ENDPOINT, "/devstoreaccount1/box/a")
        signer.sign(request)
        assert request.headers["authorization"] == "Bearer token-1"
        assert request.headers["x-ms-date"].endswith("GMT")
    assert lasting.calls == [("https://storage.azure.com/.default",)]
    expiring = CountingCredential(lifetime=60)  # inside the renewal margin
    signer = BearerSigner(expiring)  # type: ignore[arg-type]
    for expected in ("Bearer token-1", "Bearer token-2"):
        request = Request("HEAD", ENDPOINT, "/devstoreaccount1/box/a")
        signer.sign(request)
        assert request.headers["authorization"] == expected


def test_header_order_without_the_sdk_equals_the_sdks_sort() -> None:
    """The signer orders plain ``x-ms-*`` names itself (sparing the import of
    azure-storage-blob); its order is the SDK's emulation of the service's,
    dashes that decide nothing included, and odd names still go to the SDK."""
    from azure.storage.blob._shared.authentication import _storage_header_sort

    from bucketbridge.drivers.azure.signing import _header_order

    sets = [
        ("x-ms-version", "x-ms-date", "x-ms-blob-type", "x-ms-meta-b", "x-ms-meta-a"),
        ("x-ms-meta-ab", "x-ms-meta-a-c", "x-ms-meta-a", "x-ms-meta-a1", "x-ms-meta-9z"),
        ("x-ms-meta-a_b", "x-ms-meta-ab", "x-ms-meta-a-b"),  # SDK path: '_' and a dash tie
        ("x-ms-range", "x-ms-if-tags", "x-ms-lease-id", "x-ms-client-request-id"),
        ("x-ms-copy-source", "x-ms-copysource", "x-ms-meta-x"),  # a tie on dashes alone
    ]
    for names in sets:
        expected = tuple(name for name, _ in _storage_header_sort([(n, "") for n in names]))
        assert _header_order(tuple(names)) == expected, names
        assert _header_order(tuple(reversed(names))) == expected, names


def test_sdk_client_speaks_the_lean_planes_version() -> None:
    """The lean plane sends API_VERSION and the SDK client is pinned to it:
    the installed SDK must know it (an older one would refuse it)."""
    from azure.storage.blob import BlobServiceClient

    from bucketbridge.drivers.azure.client import API_VERSION

    client = BlobServiceClient(f"http://127.0.0.1:10000/{ACCOUNT}", api_version=API_VERSION)
    assert client.api_version == API_VERSION
