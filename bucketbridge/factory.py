"""CloudProviderFactory and ProviderList: the entry point of the library."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, cast

from .config import ProviderConfig
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
        provider_config = ProviderConfig(provider_id, config)
        create_driver = _load_driver_factory(provider_id)
        # registered before the driver exists: building the SDK client logs too
        secrets = register_secrets(provider_config.secret_values())
        try:
            driver = create_driver(provider_config)
        except BucketBridgeException:
            secrets.forget()
            raise
        except Exception as error:
            secrets.forget()
            raise InvalidConfigurationException(
                f"could not set up the {provider_id} provider: {type(error).__name__}: {error}"
            ) from error
        return CloudProvider(provider_id, provider_config, driver, secrets)


def _load_driver_factory(provider_id: str) -> Callable[[ProviderConfig], Driver]:
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
    return cast(Callable[[ProviderConfig], Driver], module.create_driver)
