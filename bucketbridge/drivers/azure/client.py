"""The Azure driver's settings and credentials; its azure-storage-blob client
is :mod:`.sdk`'s, made on first use.

Credentials, in order of precedence (the first that is set wins):

1. ``azure_connection_string`` (its account key, SAS or endpoint);
2. ``azure_storage_account`` + ``azure_account_key`` (shared key);
3. ``azure_storage_account`` + ``azure_sas_token``;
4. ``azure_storage_account`` + a service principal: ``azure_client_id``,
   ``azure_secret``, ``azure_tenant`` (CloudBridge's names);
5. ``azure_storage_account`` alone: azure-identity's ``DefaultAzureCredential``
   (environment, workload identity, managed identity, the Azure CLI...).

``azure_endpoint_url`` points at any blob endpoint (Azurite, a sovereign
cloud, a private endpoint); by default it is the public cloud's
``https://<account>.blob.core.windows.net``. Unlike CloudBridge, nothing is
ever created behind the user's back: no resource group, no storage account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...config import ConnectionSettings, Setting, Settings
from ...errors import InvalidConfigurationException
from . import checksums

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

SETTINGS = (
    Setting("azure_connection_string", str, secret=True),
    Setting("azure_storage_account", str),
    Setting("azure_account_key", str, secret=True),
    Setting("azure_sas_token", str, secret=True),
    Setting("azure_client_id", str),
    Setting("azure_secret", str, secret=True),
    Setting("azure_tenant", str),
    Setting("azure_endpoint_url", str),
    # what each staged block carries for the server to verify: see .checksums
    Setting("azure_checksum", str, checksums.DEFAULT),
)

PUBLIC_SUFFIX = "core.windows.net"
# Azurite's documented development account (UseDevelopmentStorage=true)
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEV_ENDPOINT = "http://127.0.0.1:10000/devstoreaccount1"

# Put Blob takes up to 5000 MiB in one request: whatever the core decides to
# send in one piece (at most the multipart threshold) goes in one request,
# never split into blocks behind its back.
MAX_SINGLE_PUT = 5000 * 1024 * 1024
# A read of a range is one request per GET_CHUNK, each buffered whole by
# the SDK's downloader. Azurite pays per request: 1 GiB in 16 MiB parts took
# 10.0 s with 4 MiB requests (the SDK's default) and 5.8 s with 8 MiB ones,
# the SDK's own download_blob(max_concurrency=8) 7.8 s; 16 MiB requests were
# no faster and peaked at 220 MiB instead of 177 (bench/bench_azure.py).
GET_CHUNK = 8 * 1024 * 1024
# Bigger socket writes than http.client's 8 KiB: fewer system calls per block.
SEND_BLOCK = 256 * 1024
# The REST version both planes speak: the lean one (:mod:`.wire`) sends it,
# and the SDK client is pinned to it (tests/azure check the SDK supports it).
API_VERSION = "2026-10-06"


@dataclass(frozen=True)
class AzureSettings:
    account: str
    endpoint_url: str
    auth: str  # "key", "sas", "service principal", "default credential"
    account_key: str | None
    sas_token: str | None
    client_id: str | None
    client_secret: str | None
    tenant: str | None
    connection: ConnectionSettings
    checksum: str = checksums.DEFAULT  # .checksums.CHECKSUMS

    def __repr__(self) -> str:
        return (
            f"AzureSettings(account={self.account!r}, endpoint_url={self.endpoint_url!r},"
            f" auth={self.auth!r}, client_id={self.client_id!r}, tenant={self.tenant!r},"
            f" account_key=***, sas_token=***, client_secret=***,"
            f" connection={self.connection!r}, checksum={self.checksum!r})"
        )


def parse_connection_string(text: str) -> dict[str, str]:
    """``Key=Value;Key=Value`` (values may hold ``=``, as base64 keys do);
    ``UseDevelopmentStorage=true`` is Azurite's well-known account."""
    fields: dict[str, str] = {}
    for item in text.split(";"):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        if not sep:
            raise InvalidConfigurationException(
                "config key 'azure_connection_string': expected Key=Value pairs separated by ';'"
            )
        fields[name.strip().lower()] = value.strip()
    if fields.get("usedevelopmentstorage", "").lower() == "true":
        fields.setdefault("accountname", DEV_ACCOUNT)
        fields.setdefault("accountkey", DEV_KEY)
        fields.setdefault("blobendpoint", DEV_ENDPOINT)
    return fields


def read_settings(settings: Settings) -> AzureSettings:
    account = settings["azure_storage_account"]
    key = settings["azure_account_key"]
    sas = settings["azure_sas_token"]
    endpoint = settings["azure_endpoint_url"]
    if settings["azure_connection_string"]:
        fields = parse_connection_string(settings["azure_connection_string"])
        account = fields.get("accountname") or account
        key = fields.get("accountkey")
        sas = fields.get("sharedaccesssignature")
        if not endpoint and fields.get("blobendpoint"):
            endpoint = fields["blobendpoint"]
        elif not endpoint and account:
            protocol = fields.get("defaultendpointsprotocol", "https")
            suffix = fields.get("endpointsuffix", PUBLIC_SUFFIX)
            endpoint = f"{protocol}://{account}.blob.{suffix}"
        if not key and not sas:
            raise InvalidConfigurationException(
                "config key 'azure_connection_string' holds neither AccountKey nor"
                " SharedAccessSignature"
            )
    if not account:
        raise InvalidConfigurationException(
            "the Azure provider needs a storage account: set azure_storage_account (or"
            " azure_connection_string); bucketbridge never creates one"
        )
    endpoint = (endpoint or f"https://{account}.blob.{PUBLIC_SUFFIX}").rstrip("/")
    if not endpoint.lower().startswith(("http://", "https://")):
        raise InvalidConfigurationException(
            f"config key 'azure_endpoint_url': {endpoint!r} is not an http(s) URL"
        )
    principal = {
        "azure_client_id": settings["azure_client_id"],
        "azure_secret": settings["azure_secret"],
        "azure_tenant": settings["azure_tenant"],
    }
    if key:
        auth = "key"
    elif sas:
        auth = "sas"
    elif any(principal.values()):
        missing = [name for name, value in principal.items() if not value]
        if missing:
            raise InvalidConfigurationException(
                f"Azure service principal is incomplete: {', '.join(missing)} not set"
                " (give azure_client_id, azure_secret and azure_tenant together)"
            )
        auth = "service principal"
    else:
        auth = "default credential"
    return AzureSettings(
        account=account,
        endpoint_url=endpoint,
        auth=auth,
        account_key=key if auth == "key" else None,
        sas_token=sas.lstrip("?") if auth == "sas" and sas else None,
        client_id=principal["azure_client_id"],
        client_secret=principal["azure_secret"],
        tenant=principal["azure_tenant"],
        connection=ConnectionSettings.of(settings),
        checksum=checksums.checked(settings["azure_checksum"] or checksums.DEFAULT),
    )


def credential_of(settings: AzureSettings) -> Any:
    from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential

    if settings.auth == "key":
        assert settings.account_key is not None
        return AzureNamedKeyCredential(settings.account, settings.account_key)
    if settings.auth == "sas":
        assert settings.sas_token is not None
        return AzureSasCredential(settings.sas_token)
    return token_credential(settings)


def token_credential(settings: AzureSettings) -> TokenCredential:
    # azure-identity is imported only when Entra ID is used.
    from azure.identity import ClientSecretCredential, DefaultAzureCredential

    if settings.auth == "service principal":
        assert settings.tenant and settings.client_id and settings.client_secret
        return ClientSecretCredential(settings.tenant, settings.client_id, settings.client_secret)
    return DefaultAzureCredential()
