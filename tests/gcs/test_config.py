"""The GCP provider's configuration: where credentials, the project and the
endpoint come from, what an incoherent config says, and what the client
honours. Each provider is made against fake-gcs-server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import (
    CloudProvider,
    CloudProviderFactory,
    InvalidConfigurationException,
    ProviderConnectionException,
    ProviderList,
)
from tests.gcs.conftest import unique_bucket_name
from tests.servers.fake_gcs import PROJECT, GcsServer
from tests.servers.process import free_ports

Make = Callable[[dict[str, Any]], CloudProvider]


def _driver(provider: CloudProvider) -> Any:
    return provider.driver


def _round_trip(provider: CloudProvider) -> None:
    bucket = provider.storage.buckets.create(unique_bucket_name())
    try:
        bucket.objects.create("k").upload(b"v")
        assert [o.name for o in bucket.objects.list()] == ["k"]
    finally:
        bucket.delete(delete_contents=True)


def test_creds_file_gives_the_project_and_signs(
    fake_gcs_server: GcsServer, make_provider: Make, tmp_path: Path
) -> None:
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(fake_gcs_server.service_account))
    config = fake_gcs_server.config(gcp_service_creds_file=str(key_file))
    del config["gcp_service_creds_dict"], config["gcp_project_name"]
    provider = make_provider(config)
    assert _driver(provider).settings.project == PROJECT  # the key's project_id
    _round_trip(provider)
    bucket = provider.storage.buckets.create(unique_bucket_name())
    try:
        assert "X-Goog-Signature=" in bucket.objects.create("x").generate_url(60)
    finally:
        bucket.delete()


def test_creds_dict_from_the_environment_as_json(
    fake_gcs_server: GcsServer, make_provider: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = fake_gcs_server.config()
    monkeypatch.setenv("GCP_SERVICE_CREDS_DICT", json.dumps(config.pop("gcp_service_creds_dict")))
    provider = make_provider(config)
    assert _driver(provider).settings.signer_email.startswith("tests@")
    secret = fake_gcs_server.service_account["private_key"]
    assert secret not in repr(provider.settings) and secret not in repr(_driver(provider).settings)


def test_storage_emulator_host_is_the_endpoint_and_means_anonymous(
    fake_gcs_server: GcsServer, make_provider: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs_server.endpoint_url.split("//")[1])
    provider = make_provider({"gcp_project_name": PROJECT})
    assert _driver(provider).settings.anonymous
    _round_trip(provider)


def test_project_from_google_cloud_project(
    fake_gcs_server: GcsServer, make_provider: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    config = {"gcp_endpoint_url": fake_gcs_server.endpoint_url, "gcp_anonymous": True}
    assert _driver(make_provider(config)).settings.project == "from-env"


def test_no_project_is_a_config_error(
    fake_gcs_server: GcsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    config = {"gcp_endpoint_url": fake_gcs_server.endpoint_url, "gcp_anonymous": True}
    with pytest.raises(InvalidConfigurationException, match="gcp_project_name"):
        CloudProviderFactory().create_provider(ProviderList.GCP, config)


def test_a_broken_key_names_the_key_not_its_value(fake_gcs_server: GcsServer) -> None:
    config = fake_gcs_server.config(
        gcp_service_creds_dict={"type": "service_account", "private_key": "SECRET-PEM"}
    )
    with pytest.raises(InvalidConfigurationException, match="gcp_service_creds_dict") as raised:
        CloudProviderFactory().create_provider(ProviderList.GCP, config)
    assert "SECRET-PEM" not in str(raised.value)


def test_a_missing_key_file_is_named(fake_gcs_server: GcsServer, tmp_path: Path) -> None:
    config = fake_gcs_server.config(gcp_service_creds_file=str(tmp_path / "absent.json"))
    del config["gcp_service_creds_dict"]
    with pytest.raises(InvalidConfigurationException, match=r"absent\.json"):
        CloudProviderFactory().create_provider(ProviderList.GCP, config)


def test_client_honours_the_connection_settings(
    fake_gcs_server: GcsServer, make_provider: Make
) -> None:
    provider = make_provider(
        fake_gcs_server.config(
            connect_timeout=3, read_timeout=7, multipart_max_concurrency=48, max_attempts=2
        )
    )
    driver = _driver(provider)
    assert driver.timeout == (3.0, 7.0)
    adapter = driver.client._http.get_adapter("http://127.0.0.1/")
    assert adapter._pool_maxsize == 48  # one connection per parallel part


def test_connection_refused_names_the_endpoint_in_bounded_time(
    fake_gcs_server: GcsServer, make_provider: Make
) -> None:
    (port,) = free_ports(1)  # nothing listens there
    endpoint = f"http://127.0.0.1:{port}"
    provider = make_provider(
        fake_gcs_server.config(gcp_endpoint_url=endpoint, max_attempts=2, connect_timeout=1)
    )
    started = time.monotonic()
    with pytest.raises(ProviderConnectionException, match=f"{endpoint}.*connection refused"):
        provider.storage.buckets.create(unique_bucket_name())
    assert time.monotonic() - started < 30
