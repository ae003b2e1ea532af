"""The providers that need no server: local (under a temporary root) and memory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import CloudProvider, CloudProviderFactory, ProviderList

ProviderFactory = Callable[..., CloudProvider]


@pytest.fixture
def local_provider_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ProviderFactory]:
    # The root is outside the test's own tmp_path, which tests inspect.
    root: Path = tmp_path_factory.mktemp("local-root")
    made: list[CloudProvider] = []

    def make(**config: Any) -> CloudProvider:
        provider = CloudProviderFactory().create_provider(
            ProviderList.LOCAL, {"local_root": str(root), **config}
        )
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


@pytest.fixture
def memory_provider_factory() -> Iterator[ProviderFactory]:
    made: list[CloudProvider] = []

    def make(**config: Any) -> CloudProvider:
        provider = CloudProviderFactory().create_provider(ProviderList.MEMORY, config)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()
