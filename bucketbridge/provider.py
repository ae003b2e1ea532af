"""CloudProvider: a configured driver with the services on top of it."""

from __future__ import annotations

from .config import ProviderConfig, Settings
from .drivers.base import Driver, Features
from .redaction import SecretRegistration
from .services import StorageService


class CloudProvider:
    """What ``CloudProviderFactory().create_provider`` returns.

    ``config`` is the dict the user gave (CloudBridge's attribute);
    ``settings`` every setting resolved once; ``features`` the driver's
    optional capabilities, resolved once.
    """

    def __init__(
        self,
        provider_id: str,
        config: ProviderConfig,
        settings: Settings,
        driver: Driver,
        secrets: SecretRegistration | None = None,
    ) -> None:
        self.PROVIDER_ID = provider_id
        self.config = config
        self.settings = settings
        self.driver = driver
        self.features = Features.of(driver)
        self._secrets = secrets
        self.storage = StorageService(self)

    def has_service(self, service: str) -> bool:
        """CloudBridge's capability check; bucketbridge has object storage only."""
        return service in ("storage", "storage.buckets")

    def close(self) -> None:
        """Release what the driver holds (connections, an in-process URL server),
        then stop redacting this provider's secrets from the SDK logs."""
        self.driver.close()
        if self._secrets is not None:
            self._secrets.forget()

    def __enter__(self) -> CloudProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<CloudProvider: {self.PROVIDER_ID}>"
