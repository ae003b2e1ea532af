"""Fixtures the LOCAL modules share: a root not yet made, and a provider on
it whose records live on the files themselves (inline xattrs). A module
that needs another root or provider (sidecar layouts, a created root)
defines its own, which takes precedence over these."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bucketbridge import CloudProvider, CloudProviderFactory, ProviderList


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def local(root: Path) -> Iterator[CloudProvider]:
    """A LOCAL provider on ``root``, whatever its records' layout (beside ``memory``)."""
    made = CloudProviderFactory().create_provider(ProviderList.LOCAL, {"local_root": str(root)})
    yield made
    made.close()


@pytest.fixture
def memory() -> Iterator[CloudProvider]:
    made = CloudProviderFactory().create_provider(ProviderList.MEMORY, {})
    yield made
    made.close()


@pytest.fixture
def provider(root: Path) -> Iterator[CloudProvider]:
    made = CloudProviderFactory().create_provider(ProviderList.LOCAL, {"local_root": str(root)})
    assert made.driver._inline, "this filesystem takes user xattrs"  # type: ignore[attr-defined]
    yield made
    made.close()
