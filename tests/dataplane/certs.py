"""Moved to tests/servers/certs.py (bench/ uses it too); this name stays
for tests written against it on other branches."""

from tests.servers.certs import Certificates, make

__all__ = ["Certificates", "make"]
