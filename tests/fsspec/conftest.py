"""Fixtures of the fsspec tests: a bb+ filesystem over every conformance backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import fsspec
import pytest

from bucketbridge.fsspec import BucketBridgeFileSystem
from tests.conformance.backends import BACKENDS
from tests.conformance.conftest import unique_name

PROTOCOLS = {
    "local": "bb+local",
    "memory": "bb+memory",
    "aws": "bb+s3",
    "azure": "bb+az",
    "gcp": "bb+gs",
    "openstack": "bb+swift",
}


def filesystem_of(request: pytest.FixtureRequest, backend: str) -> BucketBridgeFileSystem:
    """The bb+ filesystem of a conformance backend, made as users make it:
    by protocol, from the config dict."""
    factory: Any = request.getfixturevalue(f"{backend}_provider_factory")
    protocol = PROTOCOLS[str(factory.provider_id.value)]
    made: BucketBridgeFileSystem = fsspec.filesystem(protocol, config=factory.config())
    return made


@pytest.fixture(params=BACKENDS)
def bb_fs(request: pytest.FixtureRequest) -> Iterator[BucketBridgeFileSystem]:
    yield filesystem_of(request, request.param)


@pytest.fixture
def bb_bucket(bb_fs: BucketBridgeFileSystem) -> Iterator[str]:
    name = unique_name("fs")
    bb_fs.mkdir(name)
    yield name
    bb_fs.rm(name, recursive=True)
    bb_fs.rmdir(name)


Join = Callable[..., str]
