"""The fixtures of the real servers: for each :class:`ServerBackend`, a
session fixture that runs the server and a ``<backend>_provider_factory``
that makes providers on it. Adding a server is writing its module and one
line here."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.servers import azurite, fake_gcs, moto, seaweedfs, swift
from tests.servers.backend import ServerBackend
from tests.servers.process import ServerStartError
from tests.servers.providers import ProviderFactory, provider_factory


def session_fixtures(
    backend: ServerBackend[Any],
) -> tuple[Callable[..., Iterator[Any]], Callable[..., Iterator[ProviderFactory]]]:
    """The server's session fixture and its provider-factory fixture, named
    as the record says."""

    @pytest.fixture(scope="session", name=backend.server_fixture)
    def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
        started = time.monotonic()
        with ExitStack() as running:
            try:
                ready = running.enter_context(
                    backend.start(tmp_path_factory.mktemp(backend.server_fixture))
                )
            except ServerStartError as error:
                pytest.fail(str(error), pytrace=False)
            print(f"\n{backend.server_fixture} ready in {time.monotonic() - started:.1f} s")
            yield ready

    @pytest.fixture(name=backend.factory_fixture)
    def factory(request: pytest.FixtureRequest) -> Iterator[ProviderFactory]:
        running = request.getfixturevalue(backend.server_fixture)
        with provider_factory(backend.provider_id, running.config, backend.unenforced) as make:
            yield make

    return server, factory


def sdk_plane_fixture(backend: ServerBackend[Any]) -> Callable[..., Iterator[ProviderFactory]]:
    """``<backend>_sdk_provider_factory``: providers on the backend's server
    with ``data_plane="sdk"`` (every call through the provider's SDK)."""

    @pytest.fixture(
        name=f"{backend.factory_fixture.removesuffix('_provider_factory')}_sdk_provider_factory"
    )
    def factory(request: pytest.FixtureRequest) -> Iterator[ProviderFactory]:
        running = request.getfixturevalue(backend.server_fixture)

        def config(**extra: Any) -> dict[str, Any]:
            made: dict[str, Any] = running.config(**{"data_plane": "sdk", **extra})
            return made

        with provider_factory(backend.provider_id, config, backend.unenforced) as make:
            yield make

    return factory


seaweedfs_server, s3_seaweedfs_provider_factory = session_fixtures(seaweedfs.BACKEND)
seaweedfs_defaults_server, s3_seaweedfs_defaults_provider_factory = session_fixtures(
    seaweedfs.DEFAULTS_BACKEND
)
moto_server, s3_moto_provider_factory = session_fixtures(moto.BACKEND)


azurite_server, azure_azurite_provider_factory = session_fixtures(azurite.BACKEND)
fake_gcs_server, gcp_fake_gcs_provider_factory = session_fixtures(fake_gcs.BACKEND)
gcp_fake_gcs_sdk_provider_factory = sdk_plane_fixture(fake_gcs.BACKEND)
s3_seaweedfs_sdk_provider_factory = sdk_plane_fixture(seaweedfs.BACKEND)
swift_server, openstack_swift_provider_factory = session_fixtures(swift.BACKEND)

azure_azurite_sdk_provider_factory = sdk_plane_fixture(azurite.BACKEND)
openstack_swift_sdk_provider_factory = sdk_plane_fixture(swift.BACKEND)
