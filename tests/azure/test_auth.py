"""Credentials and their precedence, on Azurite, which checks the shared key
of every request: a refusal is PermissionDeniedException naming the key to
check and never the secret; configuration mistakes are named before any
request is made."""

from __future__ import annotations

import base64
import time

import pytest
from azure.core.exceptions import HttpResponseError

from bucketbridge import (
    Bucket,
    CloudProvider,
    InvalidConfigurationException,
    PermissionDeniedException,
    ProviderConnectionException,
)
from tests.azure.conftest import MakeProvider, unique_bucket_name
from tests.servers.azurite import AzuriteServer
from tests.servers.process import free_ports

WRONG_KEY = base64.b64encode(b"not the account key, 64 bytes long......................").decode()


@pytest.mark.parametrize("data_plane", ["lean", "sdk"])
def test_a_wrong_account_key_is_refused_on_every_call(
    azurite_server: AzuriteServer,
    azure_bucket: Bucket,
    make_provider: MakeProvider,
    data_plane: str,
) -> None:
    azure_bucket.objects.create("kept.txt").upload(b"kept")
    intruder = make_provider(
        azurite_server.config(azure_account_key=WRONG_KEY, data_plane=data_plane)
    )
    calls = [
        lambda: intruder.storage.buckets.create(unique_bucket_name()),
        lambda: intruder.storage.buckets.get(azure_bucket.name),  # a HEAD: no body
        lambda: intruder.storage.buckets.list(),
        lambda: Bucket(intruder, azure_bucket.name).objects.get("kept.txt"),
        lambda: Bucket(intruder, azure_bucket.name).objects.list(),
        lambda: Bucket(intruder, azure_bucket.name).objects.create("x").upload(b"x"),
        lambda: b"".join(
            Bucket(intruder, azure_bucket.name).objects.create("kept.txt").iter_content()
        ),
    ]
    for call in calls:
        with pytest.raises(PermissionDeniedException, match="azure_account_key") as refused:
            call()
        message = str(refused.value)
        assert azurite_server.endpoint_url in message
        assert WRONG_KEY not in message and azurite_server.account_key not in message
        assert "HTTP 403" in message
        if data_plane == "sdk":
            assert isinstance(refused.value.__cause__, HttpResponseError)
    assert azure_bucket.objects.get("x") is None


def test_a_connection_string_configures_everything(
    azurite_server: AzuriteServer, make_provider: MakeProvider
) -> None:
    provider = make_provider({"azure_connection_string": azurite_server.connection_string})
    bucket = provider.storage.buckets.create(unique_bucket_name())
    try:
        obj = bucket.objects.create("cs.txt").upload(b"via connection string")
        assert obj.generate_url(60).startswith(azurite_server.endpoint_url + "/")
    finally:
        bucket.delete(delete_contents=True)


def test_the_connection_string_wins_over_account_and_key(
    azurite_server: AzuriteServer, make_provider: MakeProvider
) -> None:
    provider = make_provider(
        azurite_server.config(
            azure_connection_string=azurite_server.connection_string,
            azure_account_key=WRONG_KEY,
        )
    )
    assert isinstance(provider.storage.buckets.list(), list)  # the right key was used


def test_a_sas_token_reads_and_writes_but_cannot_sign(
    azurite_server: AzuriteServer, azure: CloudProvider, make_provider: MakeProvider
) -> None:
    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    bucket = azure.storage.buckets.create(unique_bucket_name())
    try:
        token = generate_account_sas(
            azurite_server.account,
            azurite_server.account_key,
            ResourceTypes(container=True, object=True),
            AccountSasPermissions(read=True, write=True, create=True, list=True, delete=True),
            expiry=time.time() + 600,
        )
        provider = make_provider(
            {
                "azure_storage_account": azurite_server.account,
                "azure_sas_token": token,
                "azure_endpoint_url": azurite_server.endpoint_url,
            }
        )
        through_sas = Bucket(provider, bucket.name)
        through_sas.objects.create("sas.txt").upload(b"written with a SAS token")
        assert [o.name for o in through_sas.objects.list()] == ["sas.txt"]
        obj = through_sas.objects.get("sas.txt")
        assert obj is not None and b"".join(obj.iter_content()) == b"written with a SAS token"
        with pytest.raises(InvalidConfigurationException, match="azure_account_key"):
            obj.generate_url(60)
        assert token not in repr(provider.config) and token not in repr(provider.settings)
    finally:
        bucket.delete(delete_contents=True)


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({}, "azure_storage_account"),
        ({"azure_account_key": "x"}, "azure_storage_account"),
        (
            {"azure_storage_account": "acct", "azure_client_id": "id", "azure_tenant": "t"},
            "azure_secret",
        ),
        ({"azure_storage_account": "acct", "azure_endpoint_url": "ftp://x"}, "azure_endpoint_url"),
        ({"azure_connection_string": "AccountName=acct;nonsense"}, "azure_connection_string"),
        ({"azure_connection_string": "AccountName=acct"}, "AccountKey"),
    ],
)
def test_configuration_mistakes_are_named_before_any_request(
    make_provider: MakeProvider, monkeypatch: pytest.MonkeyPatch, config: dict[str, str], named: str
) -> None:
    for name in ("AZURE_STORAGE_ACCOUNT", "AZURE_ACCOUNT_KEY", "AZURE_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(InvalidConfigurationException, match=named):
        make_provider(config)


def test_keys_come_from_the_environment(
    azurite_server: AzuriteServer, make_provider: MakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT", azurite_server.account)
    monkeypatch.setenv("AZURE_ACCOUNT_KEY", azurite_server.account_key)
    monkeypatch.setenv("AZURE_ENDPOINT_URL", azurite_server.endpoint_url)
    provider = make_provider({})
    assert isinstance(provider.storage.buckets.list(), list)
    assert azurite_server.account_key not in repr(provider.settings)


def test_a_closed_port_fails_fast_naming_the_endpoint(
    azurite_server: AzuriteServer, make_provider: MakeProvider
) -> None:
    (port,) = free_ports(1)
    endpoint = f"http://127.0.0.1:{port}/{azurite_server.account}"
    provider = make_provider(
        azurite_server.config(azure_endpoint_url=endpoint, max_attempts=2, connect_timeout=2)
    )
    started = time.monotonic()
    with pytest.raises(ProviderConnectionException, match="connection refused") as failed:
        provider.storage.buckets.list()
    assert endpoint in str(failed.value)
    assert time.monotonic() - started < 30  # an upper bound: it does not hang
