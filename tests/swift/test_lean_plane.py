"""The Swift driver's lean data plane: its token signer (the renewal logic
alone, then on the real server), the refusal of an expired token on the hot
calls, which plane is chosen, and objects that read alike whichever plane
(or another Swift tool) wrote them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from swiftclient.client import Connection

from bucketbridge import PermissionDeniedException
from bucketbridge.config import ConnectionSettings
from bucketbridge.dataplane.client import HttpClient
from bucketbridge.dataplane.request import Endpoint, Request
from bucketbridge.drivers.http_errors import Subject
from bucketbridge.drivers.records import Body, ReadOptions, WriteOptions
from bucketbridge.drivers.swift.driver import SwiftDriver
from bucketbridge.drivers.swift.signing import TokenSigner
from bucketbridge.drivers.swift.wire import SwiftWire
from tests.servers.swift import SwiftServer
from tests.swift.conftest import unique_bucket_name

from .test_config import MakeProvider


class Auth:
    """An auth that hands out the given tokens in turn, recording each ask."""

    def __init__(self, url: str, *tokens: str) -> None:
        self.url = url
        self.tokens = list(tokens)
        self.asked: list[bool] = []

    def __call__(self, renew: bool) -> tuple[str, str]:
        self.asked.append(renew)
        return self.url, self.tokens.pop(0)


def _signed(signer: TokenSigner) -> Request:
    request = Request("HEAD", Endpoint.parse("http://127.0.0.1:1/v1/AUTH_a"), "/v1/AUTH_a/c/o")
    signer.sign(request)
    return request


# --- the signer's logic, without a server ---------------------------------


def test_the_token_is_fetched_once_and_signed_into_every_request() -> None:
    auth = Auth("http://127.0.0.1:1/v1/AUTH_a", "t1")
    signer = TokenSigner(auth, renewable=True)
    assert _signed(signer).headers["x-auth-token"] == "t1"
    assert _signed(signer).headers["x-auth-token"] == "t1"
    assert signer.endpoint() == Endpoint("http", "127.0.0.1", 1, "/v1/AUTH_a")
    assert auth.asked == [False]


def test_a_pre_authenticated_token_is_never_renewed() -> None:
    auth = Auth("http://127.0.0.1:1/v1/AUTH_a", "t1")
    signer = TokenSigner(auth, renewable=False)
    assert signer.renew(_signed(signer)) is False
    assert auth.asked == [False]


def test_a_refused_token_is_renewed_once_however_many_threads_saw_it_refused() -> None:
    auth = Auth("http://127.0.0.1:1/v1/AUTH_a", "t1", "t2")
    signer = TokenSigner(auth, renewable=True)
    refused = [_signed(signer) for _ in range(3)]  # three requests in flight with t1
    assert all(signer.renew(request) for request in refused)
    assert auth.asked == [False, True]  # the second and third found t2 already there
    assert _signed(signer).headers["x-auth-token"] == "t2"


# --- on the real server ---------------------------------------------------


@pytest.fixture
def container(swift_server: SwiftServer) -> Iterator[tuple[str, str, str]]:
    """A container with one object: (storage URL, a valid token, its name)."""
    url, token = swift_server.auth()
    conn = Connection(preauthurl=url, preauthtoken=token, retries=0)
    name = unique_bucket_name()
    conn.put_container(name)
    conn.put_object(name, "o", b"hello")
    yield url, token, name
    conn.delete_object(name, "o")
    conn.delete_container(name)


def _wire(signer: TokenSigner, url: str, mode: str) -> SwiftWire:
    settings = ConnectionSettings(connect_timeout=5, read_timeout=10, max_attempts=2, pool_size=4)
    return SwiftWire(HttpClient(settings), signer, Endpoint.parse(url), Subject("Swift", url), mode)


def test_a_401_renews_the_token_and_the_request_is_sent_again(
    container: tuple[str, str, str],
) -> None:
    url, token, name = container
    auth = Auth(url, "stale-token", token)
    wire = _wire(TokenSigner(auth, renewable=True), url, "v1")
    headers = wire.head(name, "o")
    assert headers is not None and headers["content-length"] == "5"
    assert auth.asked == [False, True]


def test_a_renewed_token_refused_again_is_denied_after_one_renewal(
    container: tuple[str, str, str],
) -> None:
    url, _, name = container
    auth = Auth(url, "stale-token", "still-stale")
    wire = _wire(TokenSigner(auth, renewable=True), url, "v1")
    with pytest.raises(PermissionDeniedException, match="os_username") as raised:
        wire.head(name, "o")
    assert auth.asked == [False, True]
    assert "stale" not in str(raised.value)


def test_an_expired_token_is_denied_on_every_hot_call(
    container: tuple[str, str, str], make_provider: MakeProvider
) -> None:
    url, _, name = container
    provider = make_provider({"os_storage_url": url, "os_auth_token": "stale-token"})
    driver = provider.driver
    assert isinstance(driver, SwiftDriver) and driver.wire() is not None
    calls = {
        "head": lambda: driver.head_object(name, "o"),
        "read": lambda: driver.read_object(name, "o", ReadOptions(start=1, end=3)),
        "list": lambda: driver.list_objects(name, prefix=None, marker=None, limit=10),
        "put": lambda: driver.put_object(
            name, "p", Body.of_bytes(b"x"), WriteOptions("text/plain", create_only=True)
        ),
    }
    for call in calls.values():
        with pytest.raises(PermissionDeniedException, match="expired") as raised:
            call()
        assert "stale-token" not in str(raised.value)


def test_the_sdk_plane_and_proxied_endpoints_keep_swiftclient(
    swift_server: SwiftServer, make_provider: MakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = swift_server.config()

    def plane(**extra: object) -> object:
        driver = make_provider({**config, **extra}).driver
        assert isinstance(driver, SwiftDriver)
        return driver.wire()

    assert isinstance(plane(), SwiftWire)
    assert plane(data_plane="sdk") is None
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("no_proxy", "")
    assert plane() is None


def test_v1_auth_takes_the_lean_plane_to_the_storage_url_it_was_given(
    swift_server: SwiftServer, make_provider: MakeProvider
) -> None:
    driver = make_provider(swift_server.v1_config()).driver
    assert isinstance(driver, SwiftDriver)
    wire = driver.wire()
    assert wire is not None
    bucket = unique_bucket_name()
    with driver.mapped(bucket) as conn:
        conn.put_container(bucket)
    try:
        driver.put_object(bucket, "k", Body.of_bytes(b"v1"), WriteOptions("text/plain"))
        assert b"".join(driver.read_object(bucket, "k", ReadOptions())) == b"v1"
    finally:
        driver.delete_object(bucket, "k")
        with driver.mapped(bucket) as conn:
            conn.delete_container(bucket)


def test_objects_read_alike_whichever_plane_or_tool_wrote_them(
    swift_server: SwiftServer, make_provider: MakeProvider, raw: Connection
) -> None:
    """Metadata, content type and awkward keys written by the lean plane, by
    swiftclient, and by another tool (non-ASCII, percent signs) read back the
    same on both planes."""
    lean = make_provider(swift_server.config())
    sdk = make_provider(swift_server.config(data_plane="sdk"))
    name = f"swt-planes-{time.time_ns()}"
    bucket = lean.storage.buckets.create(name)
    try:
        metadata = {"run_id": "50%25 done", "Plain": "a b"}
        keys = ["by lean/ä?#.txt", "by sdk/ä?#.txt"]
        for writer, key in zip((lean, sdk), keys, strict=True):
            on = writer.storage.buckets.get(name)
            assert on is not None
            on.objects.create(key).upload(b"body", metadata=metadata)
        raw.put_object(name, "by tool", b"t", headers={"X-Object-Meta-Note": "caf\u00e9 100%"})
        for reader in (lean, sdk):
            on = reader.storage.buckets.get(name)
            assert on is not None
            for key in keys:
                got = on.objects.get(key)
                assert got is not None
                assert got.metadata == {"run_id": "50%25 done", "plain": "a b"}
                assert got.content_type == "text/plain"
                assert got.download_range(1, 2) == b"od"
            tool = on.objects.get("by tool")
            assert tool is not None and tool.metadata == {"note": "caf\u00e9 100%"}
            assert sorted(o.name for o in on.objects) == [*keys, "by tool"]
    finally:
        bucket.delete(delete_contents=True)
