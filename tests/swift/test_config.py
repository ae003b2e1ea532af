"""The three ways into Swift, their configuration errors, and the refusal of
an expired token, on the real server (Keystone itself is not run here: its
mode is checked up to the network)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from bucketbridge import (
    CloudProvider,
    CloudProviderFactory,
    InvalidConfigurationException,
    PermissionDeniedException,
    ProviderConnectionException,
    ProviderList,
)
from tests.servers.process import free_ports
from tests.servers.swift import SwiftServer

MakeProvider = Callable[[dict[str, Any]], CloudProvider]


def test_token_mode_from_the_os_environment(
    swift_server: SwiftServer, make_provider: MakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage_url, token = swift_server.auth()
    monkeypatch.setenv("OS_STORAGE_URL", storage_url)
    monkeypatch.setenv("OS_AUTH_TOKEN", token)
    provider = make_provider({})
    assert provider.storage.buckets.get(f"swt-none-{time.time_ns()}") is None
    assert token not in repr(provider.config) + repr(provider.settings) + repr(provider.driver)


def test_v1_auth_authenticates_itself(
    swift_server: SwiftServer, make_provider: MakeProvider
) -> None:
    provider = make_provider(swift_server.v1_config())
    bucket = provider.storage.buckets.create(f"swt-v1-{time.time_ns()}")
    try:
        obj = bucket.objects.create("v1.txt").upload(b"v1")
        assert obj.download_range(0, 2) == b"v1"
        assert obj.generate_url(60).startswith(swift_server.proxy_url + "/v1/AUTH_test/")
    finally:
        bucket.delete(delete_contents=True)


def test_a_wrong_v1_password_is_permission_denied(
    swift_server: SwiftServer, make_provider: MakeProvider
) -> None:
    provider = make_provider(swift_server.v1_config(os_password="wrong-password"))
    with pytest.raises(PermissionDeniedException, match="os_password") as raised:
        provider.storage.buckets.list()
    assert "wrong-password" not in str(raised.value)


def test_an_expired_token_says_so(swift_server: SwiftServer, make_provider: MakeProvider) -> None:
    storage_url, _ = swift_server.auth()
    provider = make_provider({"os_storage_url": storage_url, "os_auth_token": "stale-token"})
    for _ in range(2):  # and again: the refused token does not lose the storage URL
        with pytest.raises(PermissionDeniedException, match="expired") as raised:
            provider.storage.buckets.list()
        assert "stale-token" not in str(raised.value)


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"os_auth_token": "t"}, "os_storage_url"),
        ({"os_storage_url": "http://127.0.0.1:1/v1/AUTH_x"}, "os_auth_token"),
        ({}, "os_auth_url"),
        ({"os_auth_url": "http://127.0.0.1:1/auth/v1.0", "os_username": "u"}, "os_password"),
        ({"os_auth_url": "http://127.0.0.1:1/v3", "os_application_credential_id": "i"}, "secret"),
    ],
)
def test_incomplete_settings_are_named(
    config: dict[str, str], named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OS_STORAGE_URL", "OS_AUTH_TOKEN", "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BUCKETBRIDGE_CONFIG", "/nonexistent/config.ini")
    with pytest.raises(InvalidConfigurationException, match=named):
        CloudProviderFactory().create_provider(ProviderList.OPENSTACK, config)


def test_keystone_v3_unreachable_is_a_connection_error(make_provider: MakeProvider) -> None:
    provider = make_provider(
        {
            "os_auth_url": "http://127.0.0.1:1/v3",
            "os_username": "demo",
            "os_password": "secret-pw",
            "os_project_name": "demo",
            "connect_timeout": 2,
            "max_attempts": 1,
        }
    )
    with pytest.raises(ProviderConnectionException) as raised:
        provider.storage.buckets.list()
    assert "secret-pw" not in str(raised.value)


def test_an_unreachable_swift_fails_within_its_attempts(make_provider: MakeProvider) -> None:
    (port,) = free_ports(1)  # nothing listens there
    provider = make_provider(
        {
            "os_storage_url": f"http://127.0.0.1:{port}/v1/AUTH_x",
            "os_auth_token": "t",
            "connect_timeout": 1,
            "max_attempts": 2,
        }
    )
    started = time.monotonic()
    with pytest.raises(ProviderConnectionException, match="connection refused"):
        provider.storage.buckets.list()
    assert time.monotonic() - started < 30  # two tries and one backoff, not five


def test_iterating_a_bucket_asks_for_swifts_whole_listing_limit(
    swift: CloudProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10,000 objects per request (Features.list_page_size), not S3's 1000."""
    bucket = swift.storage.buckets.create(f"swt-iter-{time.time_ns()}")
    try:
        for name in ("a", "b", "c"):
            bucket.objects.create(name).upload(b"x")
        asked: list[int] = []

        def recorded(method: str) -> None:
            # iterating walks by list_ahead on the lean plane (ListsAhead),
            # by list_objects on the SDK plane: whichever runs is recorded
            real = getattr(swift.driver, method)

            def recording(name: str, **kwargs: Any) -> Any:
                asked.append(kwargs["limit"])
                return real(name, **kwargs)

            monkeypatch.setattr(swift.driver, method, recording)

        recorded("list_objects")
        recorded("list_ahead")
        assert [o.name for o in bucket.objects] == ["a", "b", "c"]
        assert asked == [10_000]
    finally:
        monkeypatch.undo()
        bucket.delete(delete_contents=True)
