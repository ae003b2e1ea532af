"""Provider creation and config resolution: dict, then environment, then file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bucketbridge import (
    CloudProviderFactory,
    InvalidConfigurationException,
    InvalidValueException,
    ProviderList,
    ProviderNotInstalledException,
)
from bucketbridge import factory as factory_module
from bucketbridge.config import CONNECTION_SETTINGS, CORE_SETTINGS, ProviderConfig, resolve
from bucketbridge.drivers.s3 import SETTINGS as S3_SETTINGS


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.ini"
    monkeypatch.setenv("BUCKETBRIDGE_CONFIG", str(path))
    return path


AWS = (*CORE_SETTINGS, *CONNECTION_SETTINGS, *S3_SETTINGS)


def test_dict_beats_environment_beats_file(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file.write_text("[aws]\naws_region_name = from-file\ns3_endpoint_url = http://file\n")
    monkeypatch.setenv("AWS_REGION_NAME", "from-env")
    settings = resolve("aws", {"aws_region_name": "from-dict"}, AWS)
    assert settings["aws_region_name"] == "from-dict"
    assert resolve("aws", {}, AWS)["aws_region_name"] == "from-env"
    assert settings["s3_endpoint_url"] == "http://file"
    assert resolve("gcp", {}, AWS)["s3_endpoint_url"] is None
    assert settings["multipart_max_concurrency"] == 8  # the default


def test_false_and_zero_are_values_not_unset(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S3_VALIDATE_CERTS", "true")
    settings = resolve("aws", {"s3_validate_certs": False, "multipart_threshold": 0}, AWS)
    assert settings["s3_validate_certs"] is False
    assert settings["multipart_threshold"] == 0
    assert resolve("aws", {}, AWS)["s3_validate_certs"] is True


@pytest.mark.parametrize(
    ("key", "value", "kind"),
    [
        ("multipart_threshold", "lots", "an integer"),
        ("multipart_threshold", 1.5, "an integer"),
        ("multipart_max_concurrency", True, "an integer"),
        ("read_timeout", "soon", "a number"),
        ("s3_validate_certs", "maybe", "a boolean"),
        ("s3_endpoint_url", ["http://x"], "a string"),
    ],
)
def test_a_wrong_type_names_the_key(config_file: Path, key: str, value: object, kind: str) -> None:
    with pytest.raises(InvalidConfigurationException, match=f"{key}.*is not {kind}"):
        CloudProviderFactory().create_provider(ProviderList.AWS, {key: value})


def test_a_wrong_secret_is_named_but_not_shown(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidConfigurationException) as raised:
        resolve("aws", {"aws_secret_key": ["hunter2-secret"]}, AWS)
    assert "aws_secret_key" in str(raised.value) and "hunter2" not in str(raised.value)


def test_settings_mask_declared_secrets(config_file: Path) -> None:
    settings = resolve(
        "aws", {"aws_access_key": "AKIDVISIBLE", "aws_secret_key": "hunter2-secret"}, AWS
    )
    assert "AKIDVISIBLE" in repr(settings) and "hunter2" not in repr(settings)
    assert settings.secret_values() == ["hunter2-secret"]
    provider = CloudProviderFactory().create_provider(
        ProviderList.AWS, {"aws_access_key": "AKIDVISIBLE", "aws_secret_key": "hunter2-secret"}
    )
    try:
        shown = repr(provider.settings) + repr(provider.config) + repr(provider.driver)
        assert "hunter2" not in shown
    finally:
        provider.close()


def test_connection_settings_reach_the_s3_client(config_file: Path) -> None:
    provider = CloudProviderFactory().create_provider(
        ProviderList.AWS,
        {
            "connect_timeout": 3,
            "read_timeout": "7.5",
            "max_attempts": 2,
            "aws_access_key": "a",
            "aws_secret_key": "b",
            "multipart_max_concurrency": 64,
        },
    )
    try:
        client_config = provider.driver._client.meta.config  # type: ignore[attr-defined]
        assert client_config.connect_timeout == 3.0
        assert client_config.read_timeout == 7.5
        assert client_config.retries["total_max_attempts"] == 2
        assert client_config.max_pool_connections == 64  # at least max_concurrency wide
    finally:
        provider.close()


def test_secrets_never_show_in_repr(config_file: Path) -> None:
    config = ProviderConfig(
        "aws",
        {
            "aws_access_key": "AKIDVISIBLE",
            "aws_secret_key": "hunter2-secret",
            "aws_session_token": "tok-secret",
            "azure_account_key": "acct-secret",
            "azure_connection_string": "conn-secret",
            "os_password": "pw-secret",
        },
    )
    shown = repr(config) + str(config)
    assert "AKIDVISIBLE" in shown
    for secret in ("hunter2", "tok-secret", "acct-secret", "conn-secret", "pw-secret"):
        assert secret not in shown


def test_unknown_provider_is_named() -> None:
    with pytest.raises(InvalidValueException, match="nimbus"):
        CloudProviderFactory().create_provider("nimbus", {})


def test_a_missing_sdk_names_the_pip_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        factory_module._DRIVERS, "aws", ("tests.unit.driver_needing_missing_sdk", "aws")
    )
    with pytest.raises(ProviderNotInstalledException, match=r"pip install 'bucketbridge\[aws\]'"):
        CloudProviderFactory().create_provider(ProviderList.AWS, {})
    assert "tests.unit.driver_needing_missing_sdk" not in sys.modules


def test_provider_list_matches_cloudbridge_strings() -> None:
    assert ProviderList.AWS == "aws" and ProviderList.OPENSTACK == "openstack"
    assert set(CloudProviderFactory().list_providers()) == {
        "aws",
        "azure",
        "gcp",
        "openstack",
        "local",
        "memory",
    }
    provider = CloudProviderFactory().create_provider("memory", {})
    assert provider.PROVIDER_ID == "memory" and provider.has_service("storage.buckets")
