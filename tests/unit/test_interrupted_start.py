"""An interrupt (Ctrl-C, the command line's SIGTERM) that lands while a
multipart upload is being started leaves no open upload behind, on every
path that starts one: the start runs on a thread of its own and what it made
is aborted (bucketbridge/drivers/shielded.py). Before, an interrupt raised
while the server's answer was read lost the upload's id, and the upload
stayed open (seen once in CI as the killed-cp test's leftover upload).
tests/s3/test_copy.py interrupts S3's multipart copy the same way.

The same paths' completions: an interrupt while the server completes the
upload is raised once it has answered, so the abort never races it
(tests/conformance/test_interrupts.py on every backend)."""

from __future__ import annotations

import functools
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import fsspec
import pytest

from bucketbridge import CloudProvider, CloudProviderFactory, ProviderList
from bucketbridge.drivers.shielded import completed
from tests.interrupts import (
    Interrupted,
    interrupted_starts,
    interrupted_while_completing,
    interrupts,
)

MiB = 1024 * 1024


@pytest.fixture
def provider() -> Iterator[CloudProvider]:
    made = CloudProviderFactory().create_provider(
        ProviderList.MEMORY, {"multipart_threshold": 5 * MiB}
    )
    yield made
    made.close()


def test_an_interrupt_while_an_upload_starts_leaves_no_open_upload(
    provider: CloudProvider,
) -> None:
    bucket = provider.storage.buckets.create("bkt")
    with interrupted_starts(provider.driver) as started, pytest.raises(Interrupted):
        bucket.objects.create("large").upload(b"x" * (6 * MiB))
    assert len(started) == 1, "the upload was started"
    assert bucket.objects.get("large") is None
    assert list(bucket.objects.incomplete_uploads()) == []


def test_an_interrupt_while_an_explicit_upload_starts_leaves_no_open_upload(
    provider: CloudProvider,
) -> None:
    """create_multipart_upload: the caller never receives the upload, so
    nothing but the library can abort it."""
    bucket = provider.storage.buckets.create("bkt")
    with interrupted_starts(provider.driver) as started, pytest.raises(Interrupted):
        bucket.objects.create("large").create_multipart_upload()
    assert len(started) == 1, "the upload was started"
    assert list(bucket.objects.incomplete_uploads()) == []


def test_an_interrupt_while_a_file_written_starts_its_upload_leaves_none_open() -> None:
    """fsspec: the writer starts the upload when its first block is full."""
    fs: Any = fsspec.filesystem("bb+memory", skip_instance_cache=True)
    name = f"fs-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)
    bucket = fs._provider.storage.buckets.get(name)
    with (
        interrupted_starts(fs._provider.driver) as started,
        pytest.raises(Interrupted),
        fs.open(f"{name}/large", "wb", block_size=5 * MiB) as file,
    ):
        file.write(b"x" * (6 * MiB))
    assert len(started) == 1, "the upload was started"
    assert not fs.exists(f"{name}/large")
    assert list(bucket.objects.incomplete_uploads()) == []
    fs.rm(name, recursive=True)


def test_a_start_that_fails_is_raised_as_it_was(
    provider: CloudProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*args: Any) -> Any:
        raise ValueError("refused by the server")

    monkeypatch.setattr(provider.driver, "start_multipart", refused)
    bucket = provider.storage.buckets.create("bkt")
    with pytest.raises(Exception, match="refused by the server"):
        bucket.objects.create("large").upload(b"x" * (6 * MiB))
    assert bucket.objects.get("large") is None


def test_an_interrupt_while_an_explicit_upload_completes_waits_for_it(
    provider: CloudProvider,
) -> None:
    bucket = provider.storage.buckets.create("bkt")
    with interrupted_while_completing(provider.driver) as done:
        upload = bucket.objects.create("large").create_multipart_upload()
        part = upload.upload_part(1, b"x" * (5 * MiB))
        with pytest.raises(Interrupted):
            upload.complete([part])
    upload.abort()  # what a caller who cannot tell does next: the object stays
    assert len(done) == 1
    stored = bucket.objects.get("large")
    assert stored is not None and stored.size == 5 * MiB


def test_an_interrupt_while_a_file_written_completes_waits_for_it() -> None:
    fs: Any = fsspec.filesystem("bb+memory", skip_instance_cache=True)
    name = f"fs-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)
    bucket = fs._provider.storage.buckets.get(name)
    with (
        interrupted_while_completing(fs._provider.driver) as done,
        pytest.raises(Interrupted),
        fs.open(f"{name}/large", "wb", block_size=5 * MiB) as file,
    ):
        file.write(b"x" * (6 * MiB))
    assert len(done) == 1
    assert fs.cat(f"{name}/large") == b"x" * (6 * MiB)
    assert list(bucket.objects.incomplete_uploads()) == []
    fs.rm(name, recursive=True)


def test_completed_raises_the_calls_own_error() -> None:
    def refused() -> None:
        raise ValueError("refused by the server")

    with pytest.raises(ValueError, match="refused by the server"):
        completed(refused, "test")
    assert completed(lambda: 7, "test") == 7


def test_an_interrupt_inside_the_threads_start_still_waits_for_the_call() -> None:
    """The call interrupts its caller at once, as a completion thread that
    runs before ``Thread.start`` has returned: the interrupt lands inside
    start, and the call must still be waited for (CI saw the abort race it)."""
    ended: list[int] = []

    def call(round_: int) -> None:
        signal.raise_signal(signal.SIGUSR1)
        time.sleep(0.01)
        ended.append(round_)

    for round_ in range(100):
        with interrupts(), pytest.raises(Interrupted):
            completed(functools.partial(call, round_), "test")
        assert ended[-1:] == [round_], "the interrupt was raised before the call ended"
