"""An interrupt landing while a multipart upload starts, as Ctrl-C or the
command line's SIGTERM lands: the server has made the upload, and the main
thread is interrupted before the caller holds its id.

Used by the tests of every path that starts an upload
(bucketbridge/drivers/shielded.py): on code that starts it in the calling
thread, the interrupt is raised inside the start and the upload stays open.
And the same at the other end: an interrupt once the upload's completion
has stored the object, which the abort that follows must leave whole; and
one while the server is still completing it, which must not start the abort
before the server has answered (on Swift an abort deleting the segments of a
manifest the server is storing left an object that cannot be read).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class Interrupted(BaseException):
    """What the test's signal handler raises, as the CLI raises Terminated."""


@contextmanager
def interrupts() -> Iterator[None]:
    """Within, SIGUSR1 raises :class:`Interrupted` in the main thread."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted()

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGUSR1, previous)


@contextmanager
def interrupted_starts(driver: Any) -> Iterator[list[str]]:
    """Within, every ``driver.start_multipart`` makes its upload, then
    interrupts the main thread (SIGUSR1, whose handler raises
    :class:`Interrupted`) while it is still answering. Yields the ids of the
    uploads started."""
    started: list[str] = []
    start = driver.start_multipart

    def start_then_interrupt(*args: Any, **kwargs: Any) -> Any:
        session = start(*args, **kwargs)  # the server has made the upload...
        started.append(session.upload_id)
        signal.raise_signal(signal.SIGUSR1)  # ...and the caller is interrupted
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.1)  # the interrupt lands while the start is still answering
        return session

    driver.start_multipart = start_then_interrupt
    try:
        with interrupts():
            yield started
    finally:
        del driver.start_multipart  # the class's method again


@contextmanager
def _completions(driver: Any, interrupt_first: bool) -> Iterator[list[str]]:
    """Within, every upload ``driver`` starts completes with an interrupt of
    the main thread after the object is stored, or (``interrupt_first``)
    0.2 s before. Yields the ids of the uploads completed."""
    completed: list[str] = []
    start = driver.start_multipart

    def start_interrupting(*args: Any, **kwargs: Any) -> Any:
        session = start(*args, **kwargs)
        complete = session.complete

        def complete_interrupted(*args: Any, **kwargs: Any) -> Any:
            if interrupt_first:
                signal.raise_signal(signal.SIGUSR1)  # the caller is interrupted...
                time.sleep(0.2)  # ...while the server completes
            info = complete(*args, **kwargs)
            completed.append(session.upload_id)
            if not interrupt_first:
                signal.raise_signal(signal.SIGUSR1)
            return info

        session.complete = complete_interrupted
        return session

    driver.start_multipart = start_interrupting
    try:
        with interrupts():
            yield completed
    finally:
        del driver.start_multipart


@contextmanager
def interrupted_completions(driver: Any) -> Iterator[list[str]]:
    """Within, every upload ``driver`` starts is completed (the object is
    stored), then the thread completing it is interrupted as it would be
    while reading the server's answer. Yields the ids of the uploads completed."""
    with _completions(driver, interrupt_first=False) as completed:
        yield completed


@contextmanager
def interrupted_while_completing(driver: Any) -> Iterator[list[str]]:
    """Within, the main thread is interrupted while every upload ``driver``
    starts is being completed: the interrupt comes first, the server stores
    the object a moment later (as one that has its request and has not yet
    answered). Code completing on the main thread is interrupted there and
    never completes; code that waits for the completion gets the object
    stored. Yields the ids of the uploads completed."""
    with _completions(driver, interrupt_first=True) as completed:
        yield completed
