"""The boto3 client of the S3 driver, built from the resolved settings.

What the settings leave unset is left to boto3's own chain (AWS_* variables,
profiles, SSO, IMDS). The client is made on first use (:class:`SdkClient`):
importing boto3 and loading its S3 model cost ~0.3 s, the whole start-up of a
small command, and the lean data plane needs neither when the settings name
the endpoint and the keys.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, cast

from ...config import ConnectionSettings, Setting, Settings
from ...errors import InvalidConfigurationException, ProviderNotInstalledException

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_s3 import S3Client

AddressingStyle = Literal["path", "virtual", "auto"]
DEFAULT_REGION = "us-east-1"
ADDRESSING_STYLES = ("path", "virtual", "auto")
MiB = 1024 * 1024
GiB = 1024 * MiB
# CopyObject copies at most 5 GiB; a part of UploadPartCopy is 5 MiB..5 GiB
MAX_COPY_OBJECT = 5 * GiB
MIN_COPY_PART = 5 * MiB
MAX_COPY_PART = 5 * GiB
# large parts: each is one request the server works on alone, so few and
# in parallel (a 5 TiB object, S3's largest, is then 10,000 parts)
DEFAULT_COPY_PART = 512 * MiB

SETTINGS = (
    Setting("aws_access_key", str),
    Setting("aws_secret_key", str, secret=True),
    Setting("aws_session_token", str, secret=True),
    Setting("aws_region_name", str, DEFAULT_REGION),
    Setting("aws_profile", str),
    Setting("s3_endpoint_url", str),
    Setting("s3_addressing_style", str),
    Setting("s3_validate_certs", bool, True),
    # a server-side copy of more bytes than this is a multipart copy
    # (UploadPartCopy parts in parallel); at most CopyObject's 5 GiB
    Setting("s3_copy_threshold", int, MAX_COPY_OBJECT, minimum=0),
    Setting("s3_copy_part_size", int, DEFAULT_COPY_PART, minimum=MIN_COPY_PART),
    # SeaweedFS keeps a folder its last object left and lists it as a
    # CommonPrefix: false folds the flat listing instead (exact, a request a
    # page of keys below)
    Setting("s3_delimiter_listing", bool, True),
)


@dataclass(frozen=True)
class S3Settings:
    region: str
    endpoint_url: str | None
    addressing_style: str
    verify: bool | str  # False, a CA bundle's path, or True: the system's CAs
    profile: str | None
    access_key: str | None
    secret_key: str | None
    session_token: str | None
    connection: ConnectionSettings
    copy_threshold: int = MAX_COPY_OBJECT
    copy_part_size: int = DEFAULT_COPY_PART
    copy_concurrency: int = 8
    delimiter_listing: bool = True

    def __repr__(self) -> str:
        return (
            f"S3Settings(region={self.region!r}, endpoint_url={self.endpoint_url!r},"
            f" addressing_style={self.addressing_style!r}, verify={self.verify!r},"
            f" profile={self.profile!r}, access_key={self.access_key!r}, secret_key=***,"
            f" session_token=***, connection={self.connection!r},"
            f" copy_threshold={self.copy_threshold}, copy_part_size={self.copy_part_size},"
            f" copy_concurrency={self.copy_concurrency},"
            f" delimiter_listing={self.delimiter_listing})"
        )


def _verify(validate_certs: bool, connection: ConnectionSettings) -> bool | str:
    """What the server's certificate is checked against: nothing if
    ``s3_validate_certs`` is False (whatever CA bundle is named), else the
    ``ca_bundle``, else boto's ``AWS_CA_BUNDLE``, else (True) the system's."""
    if not validate_certs:
        return False
    return connection.ca_bundle or os.environ.get("AWS_CA_BUNDLE") or True


def read_settings(settings: Settings) -> S3Settings:
    endpoint_url = settings["s3_endpoint_url"]
    # Any server but AWS itself (SeaweedFS, MinIO, Ceph, moto) wants path-style
    # addressing: bucket.host names would not resolve on a custom endpoint.
    style = settings["s3_addressing_style"] or ("path" if endpoint_url else "auto")
    if style not in ADDRESSING_STYLES:
        raise InvalidConfigurationException(
            f"config key 's3_addressing_style': {style!r};"
            f" use one of {', '.join(ADDRESSING_STYLES)}"
        )
    access_key = settings["aws_access_key"]
    secret_key = settings["aws_secret_key"]
    if (access_key is None) != (secret_key is None):
        missing = "aws_secret_key" if secret_key is None else "aws_access_key"
        raise InvalidConfigurationException(
            f"AWS credentials are incomplete: {missing} is not set"
            " (give both aws_access_key and aws_secret_key, or neither to use boto3's chain)"
        )
    copy_threshold = settings["s3_copy_threshold"]
    if copy_threshold > MAX_COPY_OBJECT:
        raise InvalidConfigurationException(
            f"config key 's3_copy_threshold': {copy_threshold}; S3's CopyObject copies at most"
            f" {MAX_COPY_OBJECT} bytes (5 GiB)"
        )
    copy_part_size = settings["s3_copy_part_size"]
    if copy_part_size > MAX_COPY_PART:
        raise InvalidConfigurationException(
            f"config key 's3_copy_part_size': {copy_part_size}; a copied part is at most"
            f" {MAX_COPY_PART} bytes (5 GiB)"
        )
    connection = ConnectionSettings.of(settings)
    return S3Settings(
        region=settings["aws_region_name"],
        endpoint_url=endpoint_url,
        addressing_style=style,
        verify=_verify(settings["s3_validate_certs"], connection),
        profile=settings["aws_profile"],
        access_key=access_key,
        secret_key=secret_key,
        session_token=settings["aws_session_token"] if access_key else None,
        connection=connection,
        copy_threshold=copy_threshold,
        copy_part_size=copy_part_size,
        copy_concurrency=settings["multipart_max_concurrency"],
        delimiter_listing=settings["s3_delimiter_listing"],
    )


def _plain_http(endpoint_url: str | None) -> bool:
    """Over plain HTTP botocore signs every payload with SHA-256, which
    already proves the body intact; the CRC32 it adds by default costs a
    quarter of an upload's client CPU on top (measured on SeaweedFS, where
    client and server share two cores), so there it is only sent where an
    operation requires one. Over HTTPS the CRC32 is the only check (the
    payload goes unsigned): botocore's default, or the user's AWS config, stays."""
    return endpoint_url is not None and endpoint_url.lower().startswith("http://")


def build_client(settings: S3Settings) -> tuple[S3Client, boto3.session.Session]:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as error:  # the lean plane ran without it until now
        raise ProviderNotInstalledException(
            f"the aws provider needs {error.name!r}: pip install 'bucketbridge[aws]'"
        ) from error
    session_args: dict[str, Any] = {"region_name": settings.region}
    if settings.profile:
        session_args["profile_name"] = settings.profile
    if settings.access_key:
        session_args["aws_access_key_id"] = settings.access_key
        session_args["aws_secret_access_key"] = settings.secret_key
        session_args["aws_session_token"] = settings.session_token
    try:
        session = boto3.session.Session(**session_args)
    except Exception as error:  # ProfileNotFound and friends
        raise InvalidConfigurationException(f"AWS session: {error}") from error
    options: dict[str, Any] = {}
    if _plain_http(settings.endpoint_url):
        options["request_checksum_calculation"] = "when_required"
    client_config = Config(
        signature_version="s3v4",
        s3={"addressing_style": cast(AddressingStyle, settings.addressing_style)},
        retries={"mode": "adaptive", "total_max_attempts": settings.connection.max_attempts},
        connect_timeout=settings.connection.connect_timeout,
        read_timeout=settings.connection.read_timeout,
        max_pool_connections=settings.connection.pool_size,
        **options,
    )
    try:
        client = session.client(
            "s3",
            endpoint_url=settings.endpoint_url,
            # True: botocore's own choice (AWS_CA_BUNDLE, the profile's
            # ca_bundle, certifi); True given would mean certifi's alone
            verify=None if settings.verify is True else settings.verify,
            config=client_config,
        )
    except ValueError as error:  # botocore's "Invalid endpoint"
        raise InvalidConfigurationException(f"config key 's3_endpoint_url': {error}") from error
    return client, session


class StaticCredentials(NamedTuple):
    """The configured keys, as botocore's frozen credentials show them to the signer."""

    access_key: str
    secret_key: str
    token: str | None

    def get_frozen_credentials(self) -> StaticCredentials:
        return self

    def __repr__(self) -> str:
        return f"StaticCredentials(access_key={self.access_key!r}, secret_key=***, token=***)"


class SdkClient:
    """The boto3 client and session, made on first use, once, whichever
    thread asks first. Until then the settings answer what the lean plane
    asks of them -- the endpoint, the region, the keys -- where they say
    it themselves: an endpoint and keys given, no AWS profile (a profile's
    file may name another endpoint, region or credentials). Otherwise the
    client is made at once, as before."""

    def __init__(self, settings: S3Settings, prepare: Callable[[S3Client], None]) -> None:
        self._settings = settings
        self._prepare = prepare
        self._lock = threading.Lock()
        self._built: tuple[S3Client, boto3.session.Session] | None = None
        self.deferred = (
            settings.endpoint_url is not None
            and settings.access_key is not None
            and settings.secret_key is not None
            and not settings.profile
        )
        if not self.deferred:
            self.build()

    def build(self) -> None:
        self._build()

    def _build(self) -> tuple[S3Client, boto3.session.Session]:
        built = self._built
        if built is None:
            with self._lock:
                if self._built is None:
                    client, session = build_client(self._settings)
                    self._prepare(client)
                    self._built = (client, session)
                built = self._built
        return built

    @property
    def client(self) -> S3Client:
        return self._build()[0]

    @property
    def session(self) -> boto3.session.Session:
        return self._build()[1]

    @property
    def endpoint_url(self) -> str:
        if self.deferred and self._settings.endpoint_url is not None:
            return self._settings.endpoint_url  # botocore keeps a given endpoint as given
        return str(self.client.meta.endpoint_url)

    @property
    def region(self) -> str:
        return self._settings.region if self.deferred else self.client.meta.region_name

    def credentials(self) -> Any:
        """What botocore's ``session.get_credentials()`` would return (None: none found)."""
        settings = self._settings
        if self.deferred and settings.access_key is not None and settings.secret_key is not None:
            return StaticCredentials(
                settings.access_key, settings.secret_key, settings.session_token
            )
        return self.session.get_credentials()

    def close(self) -> None:
        if self._built is not None:
            self._built[0].close()
