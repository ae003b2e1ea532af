"""An interrupt (Ctrl-C, the command line's SIGTERM) landing at either end
of a multipart upload, on every backend (tests/interrupts.py):

- while the server answers its start: the interrupt reaches the caller, and
  no upload is left open (bucketbridge/drivers/shielded.py);
- once its completion has stored the object, while the answer is read: the
  transfer, which cannot tell, aborts the upload, and that abort must leave
  the stored object whole (Swift's once deleted its segments);
- while the server is still completing it: the completion is awaited, the
  object stored whole, and the interrupt raised after it (an abort racing
  the completion could leave a manifest naming deleted segments on Swift).

tests/unit/test_interrupted_start.py interrupts the other paths that start an
upload (create_multipart_upload, the fsspec writer) on MEMORY, and
tests/s3/test_copy.py S3's multipart copy.
"""

from __future__ import annotations

import os

import pytest

from bucketbridge import Bucket, TransferConfig
from tests.conformance.backends import BACKENDS
from tests.conformance.conftest import backend_factory
from tests.interrupts import (
    Interrupted,
    interrupted_completions,
    interrupted_starts,
    interrupted_while_completing,
)
from tests.servers.providers import ProviderFactory

MiB = 1024 * 1024
TWO_PARTS = TransferConfig(threshold=5 * MiB, part_size=5 * MiB, max_concurrency=2)
DATA = os.urandom(6 * MiB)


@pytest.fixture(params=BACKENDS)
def provider_factory(request: pytest.FixtureRequest) -> ProviderFactory:
    return backend_factory(request)


def test_an_interrupt_while_an_upload_starts_leaves_no_open_upload(bucket: Bucket) -> None:
    with interrupted_starts(bucket._provider.driver) as started, pytest.raises(Interrupted):
        bucket.objects.create("large").upload(DATA, TWO_PARTS)
    assert len(started) == 1, "the upload was started"
    assert bucket.objects.get("large") is None
    assert list(bucket.objects.incomplete_uploads()) == []


def test_an_interrupt_once_an_upload_is_complete_leaves_the_object_whole(bucket: Bucket) -> None:
    with interrupted_completions(bucket._provider.driver) as completed, pytest.raises(Interrupted):
        bucket.objects.create("large").upload(DATA, TWO_PARTS)
    assert len(completed) == 1, "the upload was completed"
    stored = bucket.objects.get("large")
    assert stored is not None
    assert b"".join(stored.iter_content()) == DATA
    assert list(bucket.objects.incomplete_uploads()) == []


def test_an_interrupt_while_an_upload_completes_waits_for_it(bucket: Bucket) -> None:
    with (
        interrupted_while_completing(bucket._provider.driver) as completed,
        pytest.raises(Interrupted),
    ):
        bucket.objects.create("large").upload(DATA, TWO_PARTS)
    assert len(completed) == 1, "the completion ran to its end"
    stored = bucket.objects.get("large")
    assert stored is not None
    assert b"".join(stored.iter_content()) == DATA
    assert list(bucket.objects.incomplete_uploads()) == []
