"""Test-wide fixtures. Each backend of the conformance suite is a fixture
``<backend>_provider_factory`` defined in ``tests/servers`` (embedded.py for
the providers that need no server, fixtures.py for the real servers); those
modules are loaded here as plugins."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from bucketbridge import CloudProvider, CloudProviderFactory, ProviderList

pytest_plugins = [
    "tests.servers.embedded",
    "tests.servers.fixtures",
    "tests.faults.fixtures",
]


@pytest.fixture
def spec_file() -> Iterator[Path]:
    """The file the spec uploads, at the path it names, removed afterwards
    with any directory made for it."""
    path = Path("/path/to/myfile.txt")
    made = [p for p in (path.parent.parent, path.parent) if not p.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("my data\n" * 1000)
    except PermissionError:
        pytest.fail(
            "the spec uploads /path/to/myfile.txt: run the tests as a user who may create it"
        )
    yield path
    path.unlink()
    Path("/tmp/myfile.txt").unlink(missing_ok=True)
    for directory in reversed(made):
        directory.rmdir()


@pytest.fixture
def local(tmp_path: Path) -> Iterator[CloudProvider]:
    """A LOCAL provider in the test's temporary directory: where a copy from
    a server lands (tests/local/conftest.py has its own, on its ``root``)."""
    provider = CloudProviderFactory().create_provider(
        ProviderList.LOCAL, {"local_root": str(tmp_path / "local")}
    )
    yield provider
    provider.close()
