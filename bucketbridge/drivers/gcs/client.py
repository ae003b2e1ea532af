"""The google-cloud-storage client of the GCS driver, built from the resolved settings.

Credentials, in order: ``gcp_service_creds_dict`` (a dict, or its JSON in
the environment), ``gcp_service_creds_file``, else Application Default
Credentials. ``gcp_anonymous`` calls the API without a token (emulators,
public buckets; the default when ``STORAGE_EMULATOR_HOST`` names the
endpoint, as the SDK itself does); a service-account key given with it
still signs URLs. The project is ``gcp_project_name``, else the
credentials' ``project_id``, else ``GOOGLE_CLOUD_PROJECT``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...config import ConnectionSettings, Setting, Settings
from ...errors import InvalidConfigurationException

if TYPE_CHECKING:
    from google.api_core.retry import Retry
    from google.auth.credentials import Credentials
    from google.cloud.storage import Client
    from google.oauth2 import service_account

PUBLIC_ENDPOINT = "https://storage.googleapis.com"
EMULATOR_VARIABLE = "STORAGE_EMULATOR_HOST"
SCOPES = ("https://www.googleapis.com/auth/devstorage.full_control",)

SETTINGS = (
    Setting("gcp_service_creds_file", str),
    Setting("gcp_service_creds_dict", dict, secret=True),
    Setting("gcp_project_name", str),
    Setting("gcp_endpoint_url", str),
    Setting("gcp_anonymous", bool),
)


@dataclass(frozen=True)
class GcsSettings:
    project: str
    endpoint_url: str
    anonymous: bool
    credentials: Credentials | None
    """None: anonymous access, which needs no google-auth on the lean plane."""
    signer: service_account.Credentials | None
    """The service account that signs URLs; None under ADC without a key."""
    part_size: int
    connection: ConnectionSettings

    def __repr__(self) -> str:  # credentials hold the private key: never shown
        return (
            f"GcsSettings(project={self.project!r}, endpoint_url={self.endpoint_url!r},"
            f" anonymous={self.anonymous!r}, signer={self.signer_email!r},"
            f" connection={self.connection!r})"
        )

    @property
    def signer_email(self) -> str | None:
        return None if self.signer is None else str(self.signer.service_account_email)


def read_settings(settings: Settings) -> GcsSettings:
    endpoint, from_emulator_variable = _endpoint(settings["gcp_endpoint_url"])
    anonymous = settings["gcp_anonymous"]
    if anonymous is None:
        anonymous = from_emulator_variable
    signer = _service_account(settings)
    credentials: Credentials | None = None
    project = settings["gcp_project_name"]
    if signer is not None:
        credentials = signer
        project = project or signer.project_id
    elif not anonymous:
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError
        from google.oauth2 import service_account

        try:
            found, default_project = google.auth.default(scopes=SCOPES)
        except DefaultCredentialsError as error:
            raise InvalidConfigurationException(
                "no GCP credentials: set gcp_service_creds_file or gcp_service_creds_dict,"
                " or set up Application Default Credentials (gcloud auth application-default"
                " login, GOOGLE_APPLICATION_CREDENTIALS)"
            ) from error
        credentials = found
        signer = found if isinstance(found, service_account.Credentials) else None
        project = project or default_project
    project = project or os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        raise InvalidConfigurationException(
            "no GCP project: set gcp_project_name (or GOOGLE_CLOUD_PROJECT, or use"
            " credentials that carry a project_id)"
        )
    return GcsSettings(
        project=project,
        endpoint_url=endpoint,
        anonymous=bool(anonymous),
        credentials=None if anonymous else credentials,
        signer=signer,
        part_size=settings["multipart_part_size"],
        connection=ConnectionSettings.of(settings),
    )


def _endpoint(configured: str | None) -> tuple[str, bool]:
    """The API endpoint, and whether it came from STORAGE_EMULATOR_HOST."""
    if configured is None:
        emulator = os.environ.get(EMULATOR_VARIABLE)
        if not emulator:
            return PUBLIC_ENDPOINT, False
        configured, from_variable = emulator, True
    else:
        from_variable = False
    name = "gcp_endpoint_url" if not from_variable else EMULATOR_VARIABLE
    if "://" not in configured:
        configured = f"http://{configured}"  # the SDK's reading of a bare host:port
    if not configured.lower().startswith(("http://", "https://")):
        raise InvalidConfigurationException(f"config key {name!r}: {configured!r} is not http(s)")
    return configured.rstrip("/"), from_variable


def _service_account(settings: Settings) -> service_account.Credentials | None:
    info: Mapping[str, Any] | None = settings["gcp_service_creds_dict"]
    path: str | None = settings["gcp_service_creds_file"]
    if info is None and path is None:
        return None
    from google.oauth2 import service_account

    try:
        found: service_account.Credentials | None = None
        if info is not None:
            found = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
        elif path is not None:
            found = service_account.Credentials.from_service_account_file(path, scopes=SCOPES)
    except (ValueError, KeyError) as error:
        key = "gcp_service_creds_dict" if info is not None else "gcp_service_creds_file"
        # the SDK's message names the missing field, never the key's value
        raise InvalidConfigurationException(
            f"config key {key!r}: not a service-account key ({type(error).__name__}: {error})"
        ) from error
    except OSError as error:
        raise InvalidConfigurationException(
            f"config key 'gcp_service_creds_file': cannot read {path!r}: {error.strerror}"
        ) from error
    return found


def build_client(settings: GcsSettings) -> Client:
    """One client per driver: its requests session is thread-safe for the
    calls made here, and its pool is as wide as the transfer concurrency.
    Made on the first call that takes the SDK (see GcsDriver.client)."""
    import requests
    from google.auth.credentials import AnonymousCredentials
    from google.auth.transport.requests import AuthorizedSession
    from google.cloud.storage import Client

    credentials = settings.credentials or AnonymousCredentials()
    session = AuthorizedSession(credentials)
    ca_bundle = settings.connection.ca_bundle
    if ca_bundle is not None:
        # given with each request: requests lets REQUESTS_CA_BUNDLE and
        # CURL_CA_BUNDLE override a session's own verify
        session.request = functools.partial(session.request, verify=ca_bundle)  # type: ignore[method-assign]
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=4, pool_maxsize=settings.connection.pool_size
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return Client(
        project=settings.project,
        credentials=credentials,
        _http=session,
        client_options={"api_endpoint": settings.endpoint_url},
    )


def retry_policy(max_attempts: int) -> Retry:
    """The SDK's retry (429, 5xx, connection errors), stopped after
    ``max_attempts`` tries in all: api_core's Retry counts time, not tries."""
    from google.cloud.storage.retry import DEFAULT_RETRY

    tries = {"failed": 0}
    transient = DEFAULT_RETRY._predicate

    def predicate(error: Exception) -> bool:
        tries["failed"] += 1
        return bool(transient(error)) and tries["failed"] < max_attempts

    policy: Retry = DEFAULT_RETRY.with_predicate(predicate).with_delay(initial=0.2, maximum=5.0)
    return policy
