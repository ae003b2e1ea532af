"""The azure-storage-blob client of the Azure driver, built from the resolved
settings on the first call that needs it: importing the SDK costs ~0.3 s, the
whole start-up of a small command, and the lean data plane needs none of it."""

from __future__ import annotations

from typing import Any

import requests
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobServiceClient, ExponentialRetry
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ...config import ConnectionSettings
from ...errors import InvalidConfigurationException
from .client import API_VERSION, GET_CHUNK, MAX_SINGLE_PUT, SEND_BLOCK, AzureSettings, credential_of


class _PoolAdapter(HTTPAdapter):
    """requests' adapter with a pool as wide as the transfer concurrency (the
    default holds 10 connections: more parallel parts would queue for one)
    and larger socket writes."""

    def get_connection_with_tls_context(self, *args: Any, **kwargs: Any) -> Any:
        connection: Any = super().get_connection_with_tls_context(*args, **kwargs)
        connection.conn_kw = {**(connection.conn_kw or {}), "blocksize": SEND_BLOCK}
        return connection


def _transport(connection: ConnectionSettings) -> RequestsTransport:
    session = requests.Session()
    # The SDK's retry policy retries; urllib3 must not retry underneath it.
    adapter = _PoolAdapter(
        pool_connections=4,
        pool_maxsize=connection.pool_size,
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )
    for scheme in ("http://", "https://"):
        session.mount(scheme, adapter)
    return RequestsTransport(
        session=session,
        session_owner=True,
        connection_timeout=connection.connect_timeout,
        read_timeout=connection.read_timeout,
        connection_verify=connection.verify,
    )


def build_client(settings: AzureSettings, credential: Any = None) -> BlobServiceClient:
    """``credential``: a TokenCredential the lean plane already holds (one token cache)."""
    connection = settings.connection
    # Backoff 0.5 s, then 0.5 + 2**n s, jittered: the SDK's default waits 15 s first.
    retry = ExponentialRetry(
        initial_backoff=0.5,  # type: ignore[arg-type]  # any number works; typed int
        increment_base=2,
        retry_total=connection.max_attempts - 1,
        random_jitter_range=1,
    )
    try:
        return BlobServiceClient(
            settings.endpoint_url,
            credential=credential if credential is not None else credential_of(settings),
            api_version=API_VERSION,
            transport=_transport(connection),
            retry_policy=retry,
            max_single_put_size=MAX_SINGLE_PUT,
            max_single_get_size=GET_CHUNK,
            max_chunk_get_size=GET_CHUNK,
        )
    except ValueError as error:  # a malformed account URL
        raise InvalidConfigurationException(f"config key 'azure_endpoint_url': {error}") from error
