"""The one way tests make providers: a factory that closes what it made."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bucketbridge import CloudProvider, CloudProviderFactory, ProviderList

ProviderFactory = Callable[..., CloudProvider]


@contextmanager
def provider_factory(
    provider_id: ProviderList,
    config: Callable[..., dict[str, Any]],
    unenforced: frozenset[str] = frozenset(),
) -> Iterator[ProviderFactory]:
    """Yield ``make(**extra_config)``, which creates a provider from
    ``config(**extra_config)``; every provider made is closed afterwards.
    ``unenforced`` names what the backend's server does not enforce (see
    tests/conformance/conftest.py)."""
    made: list[CloudProvider] = []

    def make(**extra_config: Any) -> CloudProvider:
        provider = CloudProviderFactory().create_provider(provider_id, config(**extra_config))
        made.append(provider)
        return provider

    make.unenforced = unenforced  # type: ignore[attr-defined]
    make.provider_id = provider_id  # type: ignore[attr-defined]
    make.config = config  # type: ignore[attr-defined]  # the dict a provider is made from
    try:
        yield make
    finally:
        for provider in made:
            provider.close()
