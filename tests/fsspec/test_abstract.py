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

# The suite's ~137 tests per backend exercise bucketbridge/fsspec/ itself:
# the embedded providers and one network driver prove it there, within CI's
# time; every driver's fsspec behaviour is proven by test_end_to_end.py and
# the drivers themselves by the conformance suite
ABSTRACT_BACKENDS = ["local", "memory", "s3_seaweedfs"]


class BucketBridgeFixtures(abstract.AbstractFixtures):  # type: ignore[misc]
    @pytest.fixture(params=ABSTRACT_BACKENDS)
    def fs(self, request: pytest.FixtureRequest) -> Iterator[BucketBridgeFileSystem]:
        filesystem = filesystem_of(request, request.param)
        bucket = unique_name("fs")
        filesystem.mkdir(bucket)
        filesystem.test_bucket = bucket
        yield filesystem
        filesystem.rm(bucket, recursive=True)
        filesystem.rmdir(bucket)

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


class TestCopy(abstract.AbstractCopyTests, BucketBridgeFixtures):  # type: ignore[misc]
    pass


class TestGet(abstract.AbstractGetTests, BucketBridgeFixtures):  # type: ignore[misc]
    pass


class TestPut(abstract.AbstractPutTests, BucketBridgeFixtures):  # type: ignore[misc]
    pass


class TestPipe(abstract.AbstractPipeTests, BucketBridgeFixtures):  # type: ignore[misc]
    pass


class TestOpen(abstract.AbstractOpenTests, BucketBridgeFixtures):  # type: ignore[misc]
    pass
