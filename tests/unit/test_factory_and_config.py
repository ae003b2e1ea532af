"""Provider creation and config resolution: dict, then environment, then file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bucketbridge import (
    CloudProviderFactory,
    InvalidValueException,
    ProviderList,
    ProviderNotInstalledException,
)
from bucketbridge import factory as factory_module
from bucketbridge.config import ProviderConfig


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.ini"
    monkeypatch.setenv("BUCKETBRIDGE_CONFIG", str(path))
    return path


def test_dict_beats_environment_beats_file(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file.write_text("[aws]\naws_region_name = from-file\ns3_endpoint_url = http://file\n")
    monkeypatch.setenv("AWS_REGION_NAME", "from-env")
    config = ProviderConfig("aws", {"aws_region_name": "from-dict"})
    assert config.get_value("aws_region_name") == "from-dict"
    assert ProviderConfig("aws", {}).get_value("aws_region_name") == "from-env"
    assert config.get_value("s3_endpoint_url") == "http://file"
    assert ProviderConfig("gcp", {}).get_value("s3_endpoint_url") is None
    assert config.get_value("missing", "default") == "default"


def test_false_and_zero_are_values_not_unset(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S3_VALIDATE_CERTS", "true")
    config = ProviderConfig("aws", {"s3_validate_certs": False, "multipart_threshold": 0})
    assert config.get_bool("s3_validate_certs", True) is False
    assert config.get_int("multipart_threshold", 99) == 0
    assert ProviderConfig("aws", {}).get_bool("s3_validate_certs", False) is True


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
