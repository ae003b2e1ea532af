"""A test backend served by a real server: what the session fixtures need to
know about it, as data, so that server modules need no pytest (bench/ starts
the same servers) and a new server is one short module.

A server module writes a ``start_<server>(root)`` context manager on
:func:`tests.servers.process.run_server` (its command line and readiness
probe) yielding an object with ``config(**extra) -> dict`` (its provider
config), and declares a :class:`ServerBackend`; tests/servers/fixtures.py
turns each record into its two fixtures.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from bucketbridge import ProviderList


class ConfiguresProviders(Protocol):
    def config(self, **extra: Any) -> dict[str, Any]:
        """The provider config that reaches this server, plus ``extra``."""
        ...


ServerT = TypeVar("ServerT", bound=ConfiguresProviders)


@dataclass(frozen=True)
class ServerBackend(Generic[ServerT]):
    server_fixture: str
    """Name of the session fixture that runs the server, e.g. ``seaweedfs_server``."""
    backend: str
    """Conformance backend name; its fixture is ``<backend>_provider_factory``."""
    start: Callable[[Path], AbstractContextManager[ServerT]]
    """Runs the server with its files under the given folder."""
    provider_id: ProviderList
    unenforced: frozenset[str] = frozenset()
    """What the server does not enforce (tests/conformance/conftest.py)."""

    @property
    def factory_fixture(self) -> str:
        return f"{self.backend}_provider_factory"
