"""CloudProviderFactory and ProviderList: the entry point of the library."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .config import (
    CONNECTION_SETTINGS,
    CORE_SETTINGS,
    ConnectionSettings,
    ProviderConfig,
    Setting,
    Settings,
    resolve,
)
from .drivers.base import Driver
from .errors import (
    BucketBridgeException,
    InvalidConfigurationException,
    InvalidValueException,
    ProviderNotInstalledException,
)
from .provider import CloudProvider
from .redaction import register_secrets


class ProviderList(str, Enum):
    """The providers; members compare equal to CloudBridge's plain strings."""

    AWS = "aws"
    AZURE = "azure"
    GCP = "gcp"
    OPENSTACK = "openstack"
    LOCAL = "local"
    MEMORY = "memory"

    def __str__(self) -> str:
        return self.value


# provider id -> (driver module, pip extra that installs its SDK)
_DRIVERS: dict[str, tuple[str, str | None]] = {
    ProviderList.AWS.value: ("bucketbridge.drivers.s3", "aws"),
    ProviderList.AZURE.value: ("bucketbridge.drivers.azure", "azure"),
    ProviderList.GCP.value: ("bucketbridge.drivers.gcs", "gcp"),
    ProviderList.OPENSTACK.value: ("bucketbridge.drivers.swift", "openstack"),
    ProviderList.LOCAL.value: ("bucketbridge.drivers.local", None),
    ProviderList.MEMORY.value: ("bucketbridge.drivers.memory", None),
}


class CloudProviderFactory:
    def list_providers(self) -> list[str]:
        return list(_DRIVERS)

    def create_provider(
        self, name: str | ProviderList, config: Mapping[str, Any] | None = None
    ) -> CloudProvider:
        """A provider for ``name``, configured from ``config``, the environment
        and the config file (see :mod:`bucketbridge.config`)."""
        provider_id = name.value if isinstance(name, ProviderList) else name
        if provider_id not in _DRIVERS:
            raise InvalidValueException("provider", name, f"choose one of {', '.join(_DRIVERS)}")
        if config is not None and not isinstance(config, Mapping):
            raise InvalidValueException("config", type(config).__name__, "expected a dict")
        module = _load_driver_module(provider_id)
        declared = (*CORE_SETTINGS, *CONNECTION_SETTINGS, *module.settings)
        provider_config = ProviderConfig(
            provider_id, config, [setting.name for setting in declared if setting.secret]
        )
        settings = resolve(provider_id, provider_config, declared)
        ConnectionSettings.of(settings)  # checks them for every provider, local ones too
        # registered before the driver exists: building the SDK client logs too
        secrets = register_secrets(settings.secret_values())
        try:
            driver = module.create_driver(settings)
        except BucketBridgeException:
            secrets.forget()
            raise
        except Exception as error:
            secrets.forget()
            raise InvalidConfigurationException(
                f"could not set up the {provider_id} provider: {type(error).__name__}: {error}"
            ) from error
        return CloudProvider(provider_id, provider_config, settings, driver, secrets)


@dataclass(frozen=True)
class _DriverModule:
    settings: tuple[Setting, ...]
    create_driver: Callable[[Settings], Driver]


def _load_driver_module(provider_id: str) -> _DriverModule:
    module_name, extra = _DRIVERS[provider_id]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        if error.name == module_name:
            raise ProviderNotInstalledException(
                f"the {provider_id} provider is not part of this version of bucketbridge"
            ) from error
        if extra is None or (error.name or "").startswith("bucketbridge"):
            raise
        raise ProviderNotInstalledException(
            f"the {provider_id} provider needs {error.name!r}: pip install 'bucketbridge[{extra}]'"
        ) from error
    return _DriverModule(tuple(module.SETTINGS), module.create_driver)
