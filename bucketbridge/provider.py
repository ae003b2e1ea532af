"""CloudProvider: a configured driver with the services on top of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import ProviderConfig, Settings
from .drivers.base import Driver, Features
from .redaction import SecretRegistration
from .services import StorageService

if TYPE_CHECKING:
    from .transfer import TransferConfig, TransferPlan


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
        self._default_plan: TransferPlan | None = None
        self.storage = StorageService(self)

    def transfer_plan(self, config: TransferConfig | None) -> TransferPlan:
        """``config`` resolved against this provider's settings; without one,
        the settings' own plan, resolved once (a small upload paid ~10 us
        for resolving it every time)."""
        from .transfer import TransferPlan

        if config is not None:
            return TransferPlan.resolve(config, self.settings)
        if self._default_plan is None:
            self._default_plan = TransferPlan.resolve(None, self.settings)
        return self._default_plan

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
