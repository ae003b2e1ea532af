"""Provider configuration: declared once per driver, resolved once per provider.

Every setting is a :class:`Setting` (name, type, default, secret or not):
the core's own (transfers, listings), the connection settings every driver's
client honours, and each driver's ``SETTINGS``. ``create_provider`` resolves
them all once, into a :class:`Settings`: each from the dict given to
``create_provider`` (``False`` and ``0`` are values, not "unset"), else the
environment variable of the same name upper-cased, else the provider's
section of the config file (``$BUCKETBRIDGE_CONFIG``, default
``~/.config/bucketbridge/config.ini``), else its default. A value of the
wrong type is an InvalidConfigurationException naming the key; a secret's
value never shows, in a repr or in an error. What none of them sets is left
to the SDK's own credential chain.
"""

from __future__ import annotations

import configparser
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import InvalidConfigurationException

if TYPE_CHECKING:
    import ssl  # imported where a bundle is loaded: not every command's start

MiB = 1024 * 1024

SECRET_KEY_SUFFIXES = (
    "secret",
    "secret_key",
    "password",
    "token",
    "account_key",
    "connection_string",
    "creds_dict",
    "signing_key",
)


def looks_secret(key: str) -> bool:
    """A key named like a secret: masked in a config's repr even when the
    provider it was given to does not declare it (another provider's key)."""
    return key.lower().endswith(SECRET_KEY_SUFFIXES)


@dataclass(frozen=True)
class Setting:
    """One config key a provider reads."""

    name: str
    kind: type  # str, int, float, bool or dict
    default: Any = None
    secret: bool = False
    minimum: float | None = None  # for int and float keys: the smallest value allowed


DATA_PLANES = ("lean", "sdk")

MIN_PART_SIZE = 5 * MiB
"""Smallest part but the last (S3's rule, which every driver's parts keep).
Defined here, not in drivers/parts.py, so that reading the configuration
(every command's start) does not import hashlib and the driver records."""

DEFAULT_THRESHOLD = 32 * MiB
DEFAULT_PART_SIZE = 16 * MiB
DEFAULT_MAX_CONCURRENCY = 8
DEFAULT_MULTIPLEX_WINDOW = 16
"""Small whole reads (and puts) one copy()/sync() thread keeps in flight.
16: a batch on a 16-thread pool then runs on one thread, not two of 8
handing the GIL to each other (bench/profile_batch.py --windows 16,8: gcs
down 0.55 vs 0.72 s, client 235 vs 316 CPU-us an object)."""

CORE_SETTINGS = (
    Setting("multipart_threshold", int, DEFAULT_THRESHOLD, minimum=0),
    Setting("multipart_part_size", int, DEFAULT_PART_SIZE, minimum=MIN_PART_SIZE),
    Setting("multipart_max_concurrency", int, DEFAULT_MAX_CONCURRENCY, minimum=1),
    Setting("default_result_limit", int, 50, minimum=1),
    Setting("iter_chunk_size", int, 1 * MiB, minimum=1),
    # O_DIRECT writes of parallel downloads (bucketbridge/filesink.py): steady
    # in both page-cache regimes of a VM that reclaims memory, but bound by
    # the disk's direct-write speed; False writes through the page cache
    Setting("download_direct_io", bool, True),
)

CONNECTION_SETTINGS = (
    Setting("connect_timeout", float, 10.0, minimum=0.001),
    Setting("read_timeout", float, 60.0, minimum=0.001),
    Setting("max_attempts", int, 5, minimum=1),
    # "lean": hot calls on bucketbridge's own HTTP data plane
    # (bucketbridge/dataplane/); "sdk": every call through the provider's SDK
    Setting("data_plane", str, "lean"),
    # small whole reads (and puts) one copy()/sync() thread keeps in flight
    # at once on the lean plane (bucketbridge/dataplane/multiplex.py); 1: one
    # at a time
    Setting("multiplex_window", int, DEFAULT_MULTIPLEX_WINDOW, minimum=1),
    # a PEM file of the CAs to trust over https (a private CA, a proxy that
    # inspects TLS), on the lean plane and in the SDK alike; unset: the
    # system's (S3's s3_validate_certs=False still turns checking off)
    Setting("ca_bundle", str),
)


def config_file_path() -> str:
    given = os.environ.get("BUCKETBRIDGE_CONFIG")
    if given:
        return given
    import platformdirs  # only where the file is not named: part of every command's start

    return os.path.join(platformdirs.user_config_dir("bucketbridge"), "config.ini")


class Settings(Mapping[str, Any]):
    """The resolved value of every declared setting; None where unset."""

    def __init__(self, provider_id: str, declared: Iterable[Setting], values: Mapping[str, Any]):
        self.provider_id = provider_id
        self._declared = {setting.name: setting for setting in declared}
        self._values = dict(values)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def secret_values(self) -> list[str]:
        """The values of the secret settings that are set, whatever source
        they came from: what :mod:`bucketbridge.redaction` keeps out of logs."""
        return [
            text
            for name, value in self._values.items()
            if self._declared[name].secret
            for text in _secret_strings(value)
        ]

    def __repr__(self) -> str:
        shown = {
            name: "***" if self._declared[name].secret and value is not None else value
            for name, value in self._values.items()
        }
        return f"Settings({self.provider_id!r}, {shown!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class ConnectionSettings:
    """What every driver's HTTP client honours. The pool is at least as wide
    as the transfer concurrency, so parallel parts never wait for a connection."""

    connect_timeout: float
    read_timeout: float
    max_attempts: int
    pool_size: int
    data_plane: str = "lean"
    multiplex_window: int = DEFAULT_MULTIPLEX_WINDOW
    ca_bundle: str | None = None

    @property
    def verify(self) -> bool | str:
        """What an https client checks the server's certificate against:
        the CA bundle named, else (True) the system's CAs."""
        return self.ca_bundle or True

    @classmethod
    def of(cls, settings: Settings) -> ConnectionSettings:
        # an empty value is "not set" (see _convert): the default, not an error
        data_plane = settings["data_plane"] or DATA_PLANES[0]
        if data_plane not in DATA_PLANES:
            raise InvalidConfigurationException(
                f"config key 'data_plane': {data_plane!r}; use one of {', '.join(DATA_PLANES)}"
            )
        ca_bundle = settings["ca_bundle"] or None
        if ca_bundle is not None:
            # refused when the provider is made, not at its first https
            # request (~20 ms of CPU, only where one is named)
            try:
                load_ca_bundle(ca_bundle)
            except InvalidConfigurationException as error:
                raise InvalidConfigurationException(f"config key 'ca_bundle': {error}") from error
        return cls(
            connect_timeout=settings["connect_timeout"],
            read_timeout=settings["read_timeout"],
            max_attempts=settings["max_attempts"],
            pool_size=max(32, settings["multipart_max_concurrency"]),
            data_plane=data_plane,
            multiplex_window=settings["multiplex_window"],
            ca_bundle=ca_bundle,
        )


def load_ca_bundle(path: str) -> ssl.SSLContext:
    """A client TLS context trusting the CAs of the PEM file at ``path``;
    InvalidConfigurationException naming it if it cannot be loaded."""
    import ssl

    try:
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as error:  # missing, unreadable, not PEM
        reason = getattr(error, "strerror", None) or getattr(error, "reason", None) or error
        raise InvalidConfigurationException(
            f"CA bundle {path!r} cannot be loaded: {reason}"
        ) from error


class ProviderConfig(dict[str, Any]):
    """The user's config dict (CloudBridge's ``provider.config``); secrets
    never show in its repr."""

    def __init__(
        self,
        provider_id: str,
        values: Mapping[str, Any] | None = None,
        secret_names: Iterable[str] = (),
    ) -> None:
        super().__init__(values or {})
        self.provider_id = provider_id
        self._secret_names = frozenset(secret_names)

    def __repr__(self) -> str:
        shown = {
            key: ("***" if key in self._secret_names or looks_secret(key) else value)
            for key, value in self.items()
        }
        return f"ProviderConfig({self.provider_id!r}, {shown!r})"

    __str__ = __repr__


def _secret_strings(value: Any) -> list[str]:
    """The strings of a secret value: a service-account dict's secret fields
    (``private_key`` and the like), anything else as ``str``."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [
            text
            for key, item in value.items()
            if looks_secret(str(key)) or str(key).lower() == "private_key"
            for text in _secret_strings(item)
        ]
    return [str(value)]


def resolve(
    provider_id: str, user_values: Mapping[str, Any], declared: Iterable[Setting]
) -> Settings:
    """Every declared setting's value, from the dict, the environment, the
    config file or the default, checked against its type."""
    declared = list(declared)
    names = [setting.name for setting in declared]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        # a driver's key named like a core one would silently replace it
        raise InvalidConfigurationException(
            f"the {provider_id} provider declares config keys twice: {', '.join(twice)}"
        )
    file_section = _read_file_section(provider_id)
    values: dict[str, Any] = {}
    for setting in declared:
        if setting.name in user_values and user_values[setting.name] is not None:
            raw: Any = user_values[setting.name]
        elif os.environ.get(setting.name.upper()) is not None:
            raw = os.environ[setting.name.upper()]
        elif setting.name in file_section:
            raw = file_section[setting.name]
        else:
            values[setting.name] = setting.default
            continue
        values[setting.name] = _convert(setting, raw)
    return Settings(provider_id, declared, values)


def _convert(setting: Setting, raw: Any) -> Any:
    shown = "***" if setting.secret else repr(raw)
    wrong = InvalidConfigurationException(
        f"config key {setting.name!r}: {shown} is not {_KIND_NAMES[setting.kind]}"
    )
    if setting.kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise wrong
    if setting.kind in (int, float):
        if isinstance(raw, bool):
            raise wrong
        try:
            number = setting.kind(str(raw).strip()) if isinstance(raw, str) else raw
        except ValueError as error:
            raise wrong from error
        if not isinstance(number, (int, float)) or (setting.kind is int and number != int(number)):
            raise wrong
        if setting.minimum is not None and number < setting.minimum:
            raise InvalidConfigurationException(
                f"config key {setting.name!r}: {shown} is below its minimum, {setting.minimum:g}"
            )
        return setting.kind(number)
    if setting.kind is dict:
        if isinstance(raw, Mapping):
            return dict(raw)
        try:
            parsed = json.loads(str(raw))
        except ValueError as error:
            raise wrong from error
        if not isinstance(parsed, dict):
            raise wrong
        return parsed
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        raise wrong
    text = str(raw).strip()
    return text or None  # an empty string is "not set"


_KIND_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    dict: "a JSON object",
    str: "a string",
}


def _read_config_file() -> tuple[str, configparser.ConfigParser]:
    path = config_file_path()
    parser = configparser.ConfigParser(interpolation=None)
    if not os.path.exists(path):
        return path, parser
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeError) as error:
        raise InvalidConfigurationException(f"config file {path}: {error}") from error
    return path, parser


def _read_file_section(provider_id: str) -> dict[str, str]:
    _, parser = _read_config_file()
    return dict(parser[provider_id]) if parser.has_section(provider_id) else {}


PROFILE_ENV = "BUCKETBRIDGE_PROFILE"


@dataclass(frozen=True)
class Profile:
    """A named set of settings for one provider: the config file's section
    ``[profile NAME]``, whose ``provider`` key names the provider and whose
    other keys are that provider's config keys -- so a MinIO or SeaweedFS
    endpoint is ``--profile NAME`` away. Its values go to ``create_provider``
    as the config dict, so they win over the environment and the provider's
    own section."""

    name: str
    provider_id: str
    values: Mapping[str, str]

    def __repr__(self) -> str:
        shown = {key: "***" if looks_secret(key) else value for key, value in self.values.items()}
        return f"Profile({self.name!r}, {self.provider_id!r}, {shown!r})"


def load_profile(name: str) -> Profile:
    """The profile ``name`` of the config file; InvalidConfigurationException
    naming it (and the file) when it is missing or names no provider."""
    path, parser = _read_config_file()
    section = f"profile {name}"
    if not parser.has_section(section):
        known = sorted(s[len("profile ") :] for s in parser.sections() if s.startswith("profile "))
        hint = f"; profiles there: {', '.join(known)}" if known else ""
        raise InvalidConfigurationException(f"profile {name!r}: no [{section}] in {path}{hint}")
    values = dict(parser[section])
    provider_id = values.pop("provider", "").strip()
    if not provider_id:
        raise InvalidConfigurationException(
            f"profile {name!r} in {path}: set 'provider' (aws, azure, gcp, openstack or local)"
        )
    return Profile(name, provider_id, values)
