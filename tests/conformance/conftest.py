"""Fixtures of the conformance suite: every test runs once per backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from bucketbridge import Bucket, CloudProvider
from tests.conformance.backends import (
    BACKENDS,
    SDK_PLANE_BACKENDS,
    SDK_PLANE_MARKED_ONLY,
    SDK_PLANE_MODULES,
)
from tests.servers.providers import ProviderFactory


@pytest.fixture(params=[*BACKENDS, *SDK_PLANE_BACKENDS])
def provider_factory(request: pytest.FixtureRequest) -> ProviderFactory:
    return backend_factory(request)


def backend_factory(request: pytest.FixtureRequest) -> ProviderFactory:
    """The provider factory of the backend the test is parametrized with; a
    module that runs on other backends overrides ``provider_factory`` with
    its own ``params`` and this body."""
    factory: ProviderFactory = request.getfixturevalue(f"{request.param}_provider_factory")
    return factory


@pytest.fixture
def provider(provider_factory: ProviderFactory) -> CloudProvider:
    return provider_factory()


@pytest.fixture
def memory_bucket(memory_provider_factory: ProviderFactory) -> Iterator[Bucket]:
    """A bucket on a MEMORY provider: the other side of a copy between providers."""
    created = memory_provider_factory().storage.buckets.create(unique_name("mem"))
    yield created
    created.delete(delete_contents=True)


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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The SDK-plane backends run only the modules that exercise the calls
    the lean data plane carries, some only the tests marked ``sdk_plane``
    (tests/conformance/backends.py)."""
    dropped = [
        item
        for item in items
        if item.path.parent.name == "conformance"
        and _backend_of(item) in SDK_PLANE_MODULES
        and (
            item.path.stem not in SDK_PLANE_MODULES[str(_backend_of(item))]
            or (
                _backend_of(item) in SDK_PLANE_MARKED_ONLY
                and item.get_closest_marker("sdk_plane") is None
            )
        )
    ]
    if dropped:
        ignored = set(map(id, dropped))
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if id(item) not in ignored]


def _backend_of(item: pytest.Item) -> object:
    callspec = getattr(item, "callspec", None)
    return None if callspec is None else callspec.params.get("provider_factory")
