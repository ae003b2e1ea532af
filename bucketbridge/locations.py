"""Where a copy or sync reads and writes: a bucket and a key prefix on a provider.

A :class:`Location` names its provider by id and config (what the user
passed, never resolved secrets), so it pickles small and each worker process
of an executor -- a Dask worker, a process pool -- makes its own provider and
resolves credentials from its own environment, once
(:func:`provider_for`). A Location may instead hold a live
:class:`CloudProvider` (``Location.of(bucket)``): fine on threads, and
the only way to reach a MEMORY provider's store.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import ProviderConfig
from .errors import InvalidValueException
from .factory import CloudProviderFactory
from .names import validate_bucket_name
from .provider import CloudProvider
from .resources import Bucket


@dataclass(frozen=True, eq=False)
class Location:
    """``bucket`` on ``provider`` (a provider id such as ``"aws"``, or a
    provider already made), keys under ``prefix``."""

    provider: str | CloudProvider
    bucket: str
    prefix: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.provider, (str, CloudProvider)):
            raise InvalidValueException("provider", self.provider, "a provider id or a provider")
        validate_bucket_name(self.bucket)
        if not isinstance(self.prefix, str):
            raise InvalidValueException("prefix", self.prefix, "must be a string")
        if not isinstance(self.config, Mapping):
            raise InvalidValueException("config", type(self.config).__name__, "expected a dict")

    @classmethod
    def of(cls, bucket: Bucket, prefix: str = "") -> Location:
        """The location of a bucket you already hold."""
        if not isinstance(bucket, Bucket):
            raise InvalidValueException("bucket", bucket, "must be a Bucket")
        return cls(bucket._provider, bucket.name, prefix)

    @property
    def provider_id(self) -> str:
        return self.provider if isinstance(self.provider, str) else self.provider.PROVIDER_ID

    def __repr__(self) -> str:
        config = ProviderConfig(self.provider_id, self.config)  # masks secrets
        return (
            f"Location({self.provider_id!r}, {self.bucket!r}, prefix={self.prefix!r},"
            f" config={dict.__repr__(config) if not config else repr(config)})"
        )

    def __getstate__(self) -> dict[str, Any]:
        if isinstance(self.provider, CloudProvider):
            raise InvalidValueException(
                "location",
                f"{self.provider_id}://{self.bucket}",
                "holds a live provider, which cannot be sent to another process; give the"
                " provider's id and config instead",
            )
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


_providers: dict[str, CloudProvider] = {}
_providers_lock = threading.Lock()


def provider_for(location: Location) -> CloudProvider:
    """The location's provider: its own, or one per (id, config) in this
    process, made on first use and closed at exit. Two locations with the
    same id and config share it, and so copy between them inside the
    provider where it can."""
    if isinstance(location.provider, CloudProvider):
        return location.provider
    return shared_provider(location.provider, location.config)


def shared_provider(provider_id: str, config: Mapping[str, Any]) -> CloudProvider:
    """This process's provider for ``provider_id`` and ``config`` (the one
    :func:`provider_for` gives the locations that name them), made on
    first use and closed at exit."""
    cache_key = json.dumps([provider_id, dict(config)], sort_keys=True, default=str)
    with _providers_lock:
        provider = _providers.get(cache_key)
        if provider is None:
            provider = CloudProviderFactory().create_provider(provider_id, dict(config))
            _providers[cache_key] = provider
    return provider


def _close_providers() -> None:
    with _providers_lock:
        providers = list(_providers.values())
        _providers.clear()
    for provider in providers:
        provider.close()


def _forget_inherited_providers() -> None:
    """In a forked child the parent's providers share its sockets: make new ones."""
    global _providers_lock
    _providers.clear()
    _providers_lock = threading.Lock()


atexit.register(_close_providers)
os.register_at_fork(after_in_child=_forget_inherited_providers)
