"""Providers whose endpoint is a fault proxy in front of a backend's real server.

``faulty`` is parametrized over tests/faults/backends.py: a test that takes
it runs once per network backend, with a fresh :class:`FaultProxy` in front
of that backend's session server. ``faulty.provider(**config)`` makes a
provider through the proxy (pass small ``max_attempts``, ``read_timeout``,
``connect_timeout`` where the test needs them), ``faulty.direct()`` one
straight to the server, to check what a fault left there.

Every rule a test set is listed, with the requests it matched, in the
summary at the end of the run: the faults injected and the retries seen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import CloudProvider
from tests.faults.backends import FAULT_BACKENDS, FaultBackend, Wire
from tests.faults.proxy import FaultProxy, StripHeader, describe
from tests.servers import certs
from tests.servers.providers import ProviderFactory, provider_factory

_LOOPBACK_URL = re.compile(r"http://127\.0\.0\.1:(\d+)")
_OBSERVED = pytest.StashKey[list[tuple[str, str, int, int]]]()


@dataclass
class ProxiedBackend:
    name: str
    proxy: FaultProxy
    wire: Wire
    via_proxy: ProviderFactory
    straight: ProviderFactory
    configs: list[dict[str, Any]]
    """every provider config handed out, through the proxy or not"""
    ca_file: Path | None = None
    """the CA whose certificate the proxy presents, where it speaks https"""
    _direct: CloudProvider | None = None

    def strip(self, header: str) -> StripHeader:
        """The fault that removes ``header`` from a request (signing it again
        where it was signed), as a server that ignores the header would."""
        return self.wire.strip(header, lambda: self.configs)

    def provider(self, **config: Any) -> CloudProvider:
        """A provider whose requests all go through the proxy."""
        return self.via_proxy(**config)

    def direct(self) -> CloudProvider:
        """The test's provider that reaches the server without the proxy."""
        if self._direct is None:
            self._direct = self.straight()
        return self._direct

    @property
    def endpoint(self) -> str:
        """host:port of the proxy, which errors must name."""
        return self.proxy.address


def _upstream(config: dict[str, Any]) -> tuple[str, str]:
    """The server's loopback URL in its provider config, and its port."""
    for value in config.values():
        found = _LOOPBACK_URL.search(value) if isinstance(value, str) else None
        if found:
            return found.group(0), found.group(1)
    raise AssertionError(f"no http://127.0.0.1:<port> URL in the config keys {sorted(config)}")


@pytest.fixture(params=sorted(FAULT_BACKENDS))
def faulty(request: pytest.FixtureRequest) -> Iterator[ProxiedBackend]:
    yield from _proxied(request, None)


@pytest.fixture(params=sorted(FAULT_BACKENDS))
def faulty_tls(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxiedBackend]:
    """As ``faulty``, the proxy speaking https to the provider with a
    certificate of a CA made for the test (``ProxiedBackend.ca_file``)."""
    made = certs.make(tmp_path_factory.mktemp("ca"))
    yield from _proxied(request, made)


def _proxied(
    request: pytest.FixtureRequest, tls: certs.Certificates | None
) -> Iterator[ProxiedBackend]:
    backend: FaultBackend = FAULT_BACKENDS[request.param]
    server = request.getfixturevalue(backend.server.server_fixture)
    upstream_url, port = _upstream(server.config())

    configs: list[dict[str, Any]] = []

    with FaultProxy(("127.0.0.1", int(port)), tls=None if tls is None else tls.server) as proxy:

        def straight_on(**extra: Any) -> dict[str, Any]:
            config: dict[str, Any] = server.config(**extra)
            configs.append(config)
            return config

        def through_proxy(**extra: Any) -> dict[str, Any]:
            return {
                key: value.replace(upstream_url, proxy.url) if isinstance(value, str) else value
                for key, value in straight_on(**extra).items()
            }

        with (
            provider_factory(backend.server.provider_id, through_proxy) as via_proxy,
            provider_factory(backend.server.provider_id, straight_on) as straight,
        ):
            yield ProxiedBackend(
                backend.name,
                proxy,
                backend.wire,
                via_proxy,
                straight,
                configs,
                None if tls is None else tls.ca_file,
            )
        assert proxy.errors == [], f"the fault proxy itself failed: {proxy.errors!r}"
        observed = request.config.stash.setdefault(_OBSERVED, [])
        for rule in proxy.rules:
            observed.append((request.node.nodeid, describe(rule.action), rule.fired, rule.matched))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    observed = config.stash.get(_OBSERVED, [])
    if not observed:
        return
    terminalreporter.section("fault proxy: faults injected, requests matched")
    for nodeid, action, fired, matched in observed:
        test = nodeid.rsplit("::", 1)[-1]
        terminalreporter.write_line(f"{test}: {action} fired {fired}x, {matched} request(s)")
