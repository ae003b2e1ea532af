"""Provider configuration: the user's dict, then the environment, then a config file.

Each key is looked up in the dict given to ``create_provider`` (``False`` and
``0`` are values, not "unset"), then in the environment variable of the same
name upper-cased, then in the provider's section of the config file
(``$BUCKETBRIDGE_CONFIG``, default ``~/.config/bucketbridge/config.ini``).
What none of them set is left to the SDK's own credential chain.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from typing import Any

import platformdirs

from .errors import InvalidConfigurationException

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


CONFIG_KEY_PREFIXES = ("aws_", "s3_", "azure_", "gcp_", "os_", "local_")
"""The families of config keys; an environment variable outside them is not ours."""


def is_secret(key: str) -> bool:
    return key.lower().endswith(SECRET_KEY_SUFFIXES)


def config_file_path() -> str:
    return os.environ.get("BUCKETBRIDGE_CONFIG") or os.path.join(
        platformdirs.user_config_dir("bucketbridge"), "config.ini"
    )


class ProviderConfig(dict[str, Any]):
    """The user's config dict plus the fallbacks; secrets never show in its repr."""

    def __init__(self, provider_id: str, values: Mapping[str, Any] | None = None) -> None:
        super().__init__(values or {})
        self.provider_id = provider_id
        self._file_section = _read_file_section(provider_id)

    def get_value(self, key: str, default: Any = None) -> Any:
        if key in self:
            return self[key]
        from_env = os.environ.get(key.upper())
        if from_env is not None:
            return from_env
        if key in self._file_section:
            return self._file_section[key]
        return default

    def get_bool(self, key: str, default: bool) -> bool:
        value = self.get_value(key, default)
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise InvalidConfigurationException(
            f"config key {key!r}: {self._shown(key, value)} is not a boolean"
        )

    def get_int(self, key: str, default: int) -> int:
        value = self.get_value(key, default)
        try:
            return int(value)
        except (TypeError, ValueError) as error:
            raise InvalidConfigurationException(
                f"config key {key!r}: {self._shown(key, value)} is not an integer"
            ) from error

    def secret_values(self) -> list[str]:
        """Every secret value this provider may hand its SDK, from every source:
        the dict, the environment (``AWS_SESSION_TOKEN`` for ``aws_session_token``)
        and the config file section; for :mod:`bucketbridge.redaction`."""
        environment = {
            name.lower(): value
            for name, value in os.environ.items()
            if name.lower().startswith(CONFIG_KEY_PREFIXES)
        }
        found: list[str] = []
        for source in (self, environment, self._file_section):
            for key, value in source.items():
                if is_secret(key):
                    found.extend(_secret_strings(value))
        return found

    @staticmethod
    def _shown(key: str, value: Any) -> str:
        return "***" if is_secret(key) else repr(value)

    def __repr__(self) -> str:
        shown = {key: ("***" if is_secret(key) else value) for key, value in self.items()}
        return f"ProviderConfig({self.provider_id!r}, {shown!r})"

    __str__ = __repr__


def _secret_strings(value: Any) -> list[str]:
    """The strings of a secret value: a service-account dict's secret fields
    (``private_key`` and the like), bytes as text, anything else as ``str``."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [
            text
            for key, item in value.items()
            if is_secret(str(key)) or str(key).lower() == "private_key"
            for text in _secret_strings(item)
        ]
    if isinstance(value, bytes):
        return [value.decode("utf-8", errors="replace")]
    return [str(value)]


def _read_file_section(provider_id: str) -> dict[str, str]:
    path = config_file_path()
    if not os.path.exists(path):
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeError) as error:
        raise InvalidConfigurationException(f"config file {path}: {error}") from error
    return dict(parser[provider_id]) if parser.has_section(provider_id) else {}
