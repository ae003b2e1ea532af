"""fsspec's own abstract test suite (copy, get, put, pipe, open), derived
for a bb+ filesystem over every backend of the conformance suite, the way
s3fs and fsspec's memory filesystem derive it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fsspec.tests import abstract

from bucketbridge.fsspec import BucketBridgeFileSystem
from tests.conformance.conftest import unique_name
from tests.fsspec.conftest import filesystem_of

# fsspec's abstract suites (Copy, Get, Put, Pipe, Open) run on every backend.
# Copy, Get and Put are ~135 tests and ~9,500 driver calls per backend, all
# but their transfers fsspec's own path logic over ls/find/info;
# bucketbridge/fsspec/scope.py keeps those calls from costing a HEAD and a
# LIST per path (tests/fsspec/test_request_counts.py). On Swift they take
# ~2 min of CI (121 s at load ~5 on 2 cores), almost all of it the Swift
# server's own time, even with its test proxy caching account and container
# infos (tests/servers/swift_addons/bb_memo_cache.py): kept, because one
# behavioural suite proves fsspec on every provider.
EVERY_BACKEND = [
    "local",
    "memory",
    "s3_seaweedfs",
    "azure_azurite",
    "gcp_fake_gcs",
    "openstack_swift",
]
BULK_BACKENDS = EVERY_BACKEND


def _filesystem(request: pytest.FixtureRequest) -> Iterator[BucketBridgeFileSystem]:
    filesystem = filesystem_of(request, request.param)
    bucket = unique_name("fs")
    filesystem.mkdir(bucket)
    filesystem.test_bucket = bucket
    yield filesystem
    filesystem.rm(bucket, recursive=True)
    filesystem.rmdir(bucket)


class BucketBridgeFixtures(abstract.AbstractFixtures):  # type: ignore[misc]
    @pytest.fixture(params=EVERY_BACKEND)
    def fs(self, request: pytest.FixtureRequest) -> Iterator[BucketBridgeFileSystem]:
        yield from _filesystem(request)

    @pytest.fixture
    def fs_path(self, fs: Any) -> str:
        bucket: str = fs.test_bucket
        return bucket

    @pytest.fixture
    def fs_join(self) -> Any:
        return lambda *parts: "/".join(parts)

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        return False  # a "directory" is a key prefix: there is none without a key below


class BulkFixtures(BucketBridgeFixtures):
    @pytest.fixture(params=BULK_BACKENDS)
    def fs(self, request: pytest.FixtureRequest) -> Iterator[BucketBridgeFileSystem]:
        yield from _filesystem(request)


class TestCopy(abstract.AbstractCopyTests, BulkFixtures):  # type: ignore[misc]
    pass


class TestGet(abstract.AbstractGetTests, BulkFixtures):  # type: ignore[misc]
    pass


class TestPut(abstract.AbstractPutTests, BulkFixtures):  # type: ignore[misc]
    pass


class TestPipe(abstract.AbstractPipeTests, BucketBridgeFixtures):  # type: ignore[misc]
    pass


class TestOpen(abstract.AbstractOpenTests, BucketBridgeFixtures):  # type: ignore[misc]
    pass
