"""The lean plane's bearer signer (pure logic: credentials whose refresh is a
counter), and its token on the wire to fake-gcs-server, seen by a proxy."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from google.auth import _helpers
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.exceptions import RefreshError

from bucketbridge import CloudProvider, PermissionDeniedException
from bucketbridge.dataplane.request import Endpoint, Request
from bucketbridge.drivers.gcs.driver import GcsDriver
from bucketbridge.drivers.gcs.signing import BearerSigner, signer_for
from bucketbridge.drivers.records import Body, ReadOptions, WriteOptions
from tests.faults.proxy import FaultProxy, Match, StripHeader
from tests.faults.proxy import Request as SeenRequest
from tests.gcs.conftest import unique_bucket_name
from tests.servers.fake_gcs import GcsServer


class CountingCredentials(Credentials):  # type: ignore[misc]
    """Each refresh hands out ``token-<n>``, valid for ``lifetime``."""

    def __init__(self, lifetime: timedelta = timedelta(hours=1), pause: float = 0.0) -> None:
        super().__init__()
        self.lifetime = lifetime
        self.pause = pause
        self.refreshes = 0

    def refresh(self, request: Any) -> None:
        time.sleep(self.pause)  # a token endpoint takes a while: threads pile up here
        self.refreshes += 1
        self.token = f"token-{self.refreshes}"
        self.expiry = _helpers.utcnow() + self.lifetime


class FailingCredentials(Credentials):  # type: ignore[misc]
    def refresh(self, request: Any) -> None:
        raise RefreshError("invalid_grant: account not found")


def _signed(signer: BearerSigner | Any) -> dict[str, str]:
    request = Request("GET", Endpoint.parse("https://storage.googleapis.com"), "/storage/v1/b")
    signer.sign(request)
    return request.headers


def test_a_token_is_fetched_once_and_put_on_every_request() -> None:
    credentials = CountingCredentials()
    signer = BearerSigner(credentials, transport=object)
    assert _signed(signer)["authorization"] == "Bearer token-1"
    assert _signed(signer)["authorization"] == "Bearer token-1"
    assert credentials.refreshes == 1


@pytest.mark.parametrize(
    "left", [timedelta(seconds=-1), timedelta(seconds=60)], ids=["expired", "about-to-expire"]
)
def test_an_expired_or_expiring_token_is_refreshed(left: timedelta) -> None:
    credentials = CountingCredentials()
    signer = BearerSigner(credentials, transport=object)
    _signed(signer)
    credentials.expiry = _helpers.utcnow() + left
    assert _signed(signer)["authorization"] == "Bearer token-2"


def test_threads_signing_at_once_share_one_refresh() -> None:
    credentials = CountingCredentials(pause=0.1)
    signer = BearerSigner(credentials, transport=object)
    seen: list[str] = []
    threads = [
        threading.Thread(target=lambda: seen.append(_signed(signer)["authorization"]))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert credentials.refreshes == 1
    assert seen == ["Bearer token-1"] * 8


def test_the_quota_project_is_billed_where_the_credentials_name_one() -> None:
    credentials = CountingCredentials()
    credentials._quota_project_id = "billed-project"  # what with_quota_project() sets
    assert _signed(BearerSigner(credentials, transport=object))["x-goog-user-project"] == (
        "billed-project"
    )


def test_anonymous_credentials_send_no_token() -> None:
    assert "authorization" not in _signed(signer_for(AnonymousCredentials()))


def test_the_signer_shows_no_token() -> None:
    signer = BearerSigner(CountingCredentials(), transport=object)
    _signed(signer)
    assert "token-1" not in repr(signer)


# --- on the emulator -------------------------------------------------------------------


@pytest.fixture
def seen_tokens(fake_gcs_server: GcsServer) -> Iterator[tuple[FaultProxy, list[str]]]:
    """A proxy in front of fake-gcs-server (which takes any token) that
    notes each request's Authorization header."""
    port = int(fake_gcs_server.endpoint_url.rsplit(":", 1)[1])
    seen: list[str] = []

    def note(request: SeenRequest) -> bool:
        seen.append(f"{request.method} {request.path} {request.header('authorization')}")
        return True

    with FaultProxy(("127.0.0.1", port)) as proxy:
        # removes a header no client sends: every request is forwarded as it came
        proxy.add(Match(where=note), StripHeader("x-never-sent"))
        yield proxy, seen


def _driver(gcs: CloudProvider, url: str, credentials: Credentials) -> GcsDriver:
    settings = gcs.driver.settings  # type: ignore[attr-defined]
    return GcsDriver(
        dataclasses.replace(settings, endpoint_url=url, anonymous=False, credentials=credentials)
    )


def test_lean_requests_carry_the_token_and_its_refresh(
    gcs: CloudProvider, seen_tokens: tuple[FaultProxy, list[str]]
) -> None:
    proxy, seen = seen_tokens
    credentials = CountingCredentials()
    driver = _driver(gcs, proxy.url, credentials)
    assert driver.wire is not None
    bucket = unique_bucket_name()
    try:
        driver.create_bucket(bucket, None)  # the SDK's request, the same credentials
        driver.put_object(bucket, "k", Body.of_bytes(b"data"), WriteOptions("text/plain"))
        credentials.expiry = _helpers.utcnow()  # expired: the next request refreshes
        assert driver.head_object(bucket, "k") is not None
        stream = driver.read_object(bucket, "k", ReadOptions())
        assert b"".join(stream) == b"data"
        listed = driver.list_objects(bucket, prefix=None, marker=None, limit=5)
        assert [info.key for info in listed.items] == ["k"]
        upload = driver.start_multipart(bucket, "m", WriteOptions("text/plain"))
        upload.upload_part(1, Body.of_bytes(b"part"))
        upload.abort()
        driver.delete_object(bucket, "k")
        driver.delete_bucket(bucket)
    finally:
        driver.close()
    assert all(" Bearer token-" in line for line in seen), seen
    # the upload (lean) before the expiry; every request after it, lean or
    # SDK, with the refreshed token
    first_refreshed = next(n for n, line in enumerate(seen) if line.endswith("token-2"))
    assert any(line.startswith("POST /upload/") for line in seen[:first_refreshed]), seen
    assert seen[first_refreshed].startswith("GET /storage/v1/b/"), seen
    assert all(line.endswith("Bearer token-2") for line in seen[first_refreshed:]), seen
    assert any(line.startswith("GET /download/") for line in seen[first_refreshed:]), seen


def test_a_token_that_cannot_be_had_is_permission_denied(
    gcs: CloudProvider, fake_gcs_server: GcsServer
) -> None:
    driver = _driver(gcs, fake_gcs_server.endpoint_url, FailingCredentials())
    try:
        with pytest.raises(PermissionDeniedException, match="could not get an access token"):
            driver.head_object("any-bucket", "k")
    finally:
        driver.close()
