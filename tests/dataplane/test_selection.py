"""Which calls take the lean plane: not with data_plane="sdk", not through
a proxy the environment names; and data_plane is checked for every provider."""

from __future__ import annotations

import pytest

from bucketbridge import CloudProviderFactory, InvalidConfigurationException, ProviderList
from bucketbridge.config import ConnectionSettings
from bucketbridge.dataplane.request import Endpoint
from bucketbridge.dataplane.selection import use_lean_plane

PROXY_VARIABLES = ["http_proxy", "https_proxy", "all_proxy", "no_proxy"]
HTTP = Endpoint.parse("http://storage.example.com:9000")
HTTPS = Endpoint.parse("https://storage.example.com")


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("REQUEST_METHOD", raising=False)


def test_lean_unless_the_sdk_is_chosen() -> None:
    assert use_lean_plane("lean", HTTP) is True
    assert use_lean_plane("sdk", HTTP) is False


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
def test_a_proxy_for_the_scheme_keeps_the_sdk(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, "http://proxy.internal:3128")
    assert use_lean_plane("lean", HTTP) is False
    assert use_lean_plane("lean", HTTPS) is True  # no proxy for https


def test_an_https_proxy_keeps_the_sdk_for_https(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert use_lean_plane("lean", HTTPS) is False
    assert use_lean_plane("lean", HTTP) is True


def test_all_proxy_keeps_the_sdk_for_every_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALL_PROXY", "socks5://proxy.internal:1080")
    assert use_lean_plane("lean", HTTP) is False
    assert use_lean_plane("lean", HTTPS) is False


@pytest.mark.parametrize(
    "no_proxy",
    [
        "storage.example.com",
        "example.com",
        ".example.com",
        "*",
        "other,storage.example.com",
        "storage.example.com:9000",
    ],
)
def test_no_proxy_covering_the_host_keeps_the_lean_plane(
    no_proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("ALL_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    assert use_lean_plane("lean", HTTP) is True


def test_no_proxy_for_another_host_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "elsewhere.example.org")
    assert use_lean_plane("lean", HTTP) is False


@pytest.mark.parametrize("provider", list(ProviderList))
@pytest.mark.parametrize("value", ["fast", "LEAN", "s3", "lean,sdk"])
def test_a_data_plane_other_than_lean_or_sdk_is_refused_for_every_provider(
    provider: ProviderList, value: str
) -> None:
    with pytest.raises(InvalidConfigurationException) as raised:
        CloudProviderFactory().create_provider(provider, {"data_plane": value})
    assert "data_plane" in str(raised.value)
    assert repr(value) in str(raised.value)


def test_the_environment_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_PLANE", "turbo")
    with pytest.raises(InvalidConfigurationException, match="data_plane"):
        CloudProviderFactory().create_provider(ProviderList.LOCAL, {})


@pytest.mark.parametrize("value", ["lean", "sdk", " sdk ", ""])
def test_lean_sdk_and_not_set_are_accepted(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_PLANE", value)  # empty, as a shell's DATA_PLANE= leaves it
    provider = CloudProviderFactory().create_provider(ProviderList.MEMORY, {})
    try:
        chosen = ConnectionSettings.of(provider.settings).data_plane
        assert chosen == (value.strip() or "lean")
    finally:
        provider.close()
