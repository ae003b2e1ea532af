"""The providers that need no server: local (under a temporary root) and memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bucketbridge import ProviderList
from tests.servers.providers import ProviderFactory, provider_factory


@pytest.fixture
def local_provider_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ProviderFactory]:
    # The root is outside the test's own tmp_path, which tests inspect.
    root: Path = tmp_path_factory.mktemp("local-root")
    with provider_factory(
        ProviderList.LOCAL, lambda **extra: {"local_root": str(root), **extra}
    ) as make:
        yield make


@pytest.fixture
def memory_provider_factory() -> Iterator[ProviderFactory]:
    with provider_factory(ProviderList.MEMORY, lambda **extra: dict(extra)) as make:
        yield make
