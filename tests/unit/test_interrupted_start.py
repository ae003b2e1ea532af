"""An interrupt (Ctrl-C, the command line's SIGTERM) that lands while a
multipart upload is being started leaves no open upload behind: the start
finishes on its own thread and the upload is aborted (transfer._start_aside).
Before, an interrupt raised while the server's answer was read lost the
upload's id, and the upload stayed open (seen once in CI as the killed-cp
test's leftover upload)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from bucketbridge import CloudProvider, CloudProviderFactory, ProviderList


class Interrupted(BaseException):
    """What the test's signal handler raises, as the CLI raises Terminated."""


@pytest.fixture
def provider() -> Iterator[CloudProvider]:
    made = CloudProviderFactory().create_provider(
        ProviderList.MEMORY, {"multipart_threshold": 5 * 1024 * 1024}
    )
    yield made
    made.close()


@pytest.fixture
def interrupt_handler() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted()

    previous = signal.signal(signal.SIGUSR1, handler)
    yield
    signal.signal(signal.SIGUSR1, previous)


@pytest.mark.usefixtures("interrupt_handler")
def test_an_interrupt_while_the_upload_starts_leaves_no_open_upload(
    provider: CloudProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver: Any = provider.driver
    start = driver.start_multipart
    started: list[str] = []

    def start_then_interrupt(*args: Any) -> Any:
        session = start(*args)  # the server has made the upload...
        started.append(session.upload_id)
        signal.raise_signal(signal.SIGUSR1)  # ...and the caller is interrupted
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.1)  # the interrupt lands while the start is still answering
        return session

    monkeypatch.setattr(driver, "start_multipart", start_then_interrupt)
    bucket = provider.storage.buckets.create("bkt")
    with pytest.raises(Interrupted):
        bucket.objects.create("large").upload(b"x" * (6 * 1024 * 1024))
    assert len(started) == 1, "the upload was started"
    assert bucket.objects.get("large") is None
    assert list(bucket.objects.incomplete_uploads()) == []


def test_a_start_that_fails_is_raised_as_it_was(
    provider: CloudProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*args: Any) -> Any:
        raise ValueError("refused by the server")

    monkeypatch.setattr(provider.driver, "start_multipart", refused)
    bucket = provider.storage.buckets.create("bkt")
    with pytest.raises(Exception, match="refused by the server"):
        bucket.objects.create("large").upload(b"x" * (6 * 1024 * 1024))
    assert bucket.objects.get("large") is None
