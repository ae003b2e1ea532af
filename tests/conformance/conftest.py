"""Fixtures of the conformance suite: every test runs once per backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from bucketbridge import Bucket, CloudProvider
from tests.conformance.backends import BACKENDS, SDK_PLANE_BACKENDS, SDK_PLANE_MODULES
from tests.servers.providers import ProviderFactory


@pytest.fixture(params=BACKENDS + SDK_PLANE_BACKENDS)
def provider_factory(request: pytest.FixtureRequest) -> ProviderFactory:
    return backend_factory(request)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The SDK-plane backends run only the modules of SDK_PLANE_MODULES."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("provider_factory") if callspec else None
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        if backend in SDK_PLANE_BACKENDS and module not in SDK_PLANE_MODULES:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def backend_factory(request: pytest.FixtureRequest) -> ProviderFactory:
    """The provider factory of the backend the test is parametrized with; a
    module that runs on other backends overrides ``provider_factory`` with
    its own ``params`` and this body."""
    factory: ProviderFactory = request.getfixturevalue(f"{request.param}_provider_factory")
    return factory


@pytest.fixture
def provider(provider_factory: ProviderFactory) -> CloudProvider:
    return provider_factory()


def unique_name(prefix: str = "bb") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def bucket(provider: CloudProvider) -> Iterator[Bucket]:
    created = provider.storage.buckets.create(unique_name())
    yield created
    created.delete(delete_contents=True)


def unenforced(provider_factory: ProviderFactory) -> frozenset[str]:
    """What the backend's test server is known not to enforce (its module's
    docstring says why); the behaviour is proven on the other backends."""
    declared: frozenset[str] = getattr(provider_factory, "unenforced", frozenset())
    return declared


@pytest.fixture(autouse=True)
def _skip_what_the_server_does_not_enforce(request: pytest.FixtureRequest) -> None:
    """``@pytest.mark.enforced("signatures", ...)`` on a test skips it, with
    the reason in the report, on a backend whose server does not enforce it."""
    needed = {name for marker in request.node.iter_markers("enforced") for name in marker.args}
    if not needed:
        return
    missing = needed & unenforced(request.getfixturevalue("provider_factory"))
    if missing:
        pytest.skip(f"this test server does not enforce {', '.join(sorted(missing))}")
