"""Test-wide fixtures. Each backend of the conformance suite is a fixture
``<backend>_provider_factory`` defined in a module of ``tests/servers``; the
modules are loaded here as plugins."""

pytest_plugins = [
    "tests.servers.embedded",
    "tests.servers.seaweedfs",
    "tests.servers.moto",
]
