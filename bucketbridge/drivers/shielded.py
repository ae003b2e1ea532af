"""Server-side state made so that an interrupt cannot lose it.

A call that makes state on the server -- a multipart upload's start -- and
is interrupted while its answer is read (Ctrl-C's KeyboardInterrupt, the
command line's SIGTERM handler raising in the main thread) loses what it
made: nothing holds the upload's id any more, and the upload stays open for
good. Python raises an interrupt only in the main thread, between any two
bytecodes, so no ``try`` placed after the call can close that window:
:class:`Shielded` makes the call on a thread of its own and keeps what it
made until the caller undoes it::

    start = start_upload(driver, bucket, key, options)  # nothing sent yet
    try:
        session = start.result()
        ...  # send the parts, complete
    except BaseException:
        start.undo()  # aborts the upload, whether ``session`` was set or not
        raise

Creating the :class:`Shielded` sends nothing, so it belongs before the
``try``; ``result()`` and ``undo()`` inside it and in its handler. An
interrupt landing anywhere in between is then undone: while the call runs,
the thread undoes what the call makes once it has made it.

The other end, the completion, is :func:`completed`: an interrupt landing
while the server completes the upload must not start the abort before the
server has answered. On Swift the abort deletes the segments that no
manifest names yet, and a manifest PUT the server has checked but not yet
stored would then land naming deleted segments: an object that cannot be
read, in place of the one it replaced. So the completion is run to its
answer on a thread of its own, and the interrupt is raised after it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar, cast

from .base import Driver, MultipartSession
from .records import WriteOptions

log = logging.getLogger("bucketbridge")
T = TypeVar("T")


class Shielded(Generic[T]):
    """``call``, made on a thread of its own at the first ``result()``, and
    what it made, which ``undo`` takes back at :meth:`undo`.

    The thread is not a daemon: a process that exits while an abandoned call
    still runs waits for the call to end (its connection's timeouts bound it)
    and for what it made to be undone.
    """

    def __init__(self, call: Callable[[], T], undo: Callable[[T], None], what: str) -> None:
        self._call = call
        self._undo = undo
        self._what = what  # for the log, and the thread's name
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None
        self._made: list[T] = []  # what the call made, once it has
        self._error: BaseException | None = None
        self._abandoned = False
        self._undone = False

    def result(self) -> T:
        """What the call made, once it has; the call's own error if it failed.
        An interrupt raised meanwhile leaves the call running."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="bb-start")
            self._thread.start()
        self._finished.wait()
        if self._error is not None:
            raise self._error
        return self._made[0]

    def undo(self) -> None:
        """Undo what the call made, received by the caller or not: now if the
        call has ended, else on its thread when it does, which this waits
        for. A failed or never started call made nothing. Calling it again
        does nothing."""
        with self._lock:
            self._abandoned = True
            made = bool(self._made)
        if made:
            self._undo_once()
            return
        if self._thread is not None:
            # RuntimeError: interrupted inside Thread.start, before the
            # thread ran; should it run, it undoes what it makes on its own
            with contextlib.suppress(RuntimeError):
                self._thread.join()

    def _run(self) -> None:
        try:
            made = self._call()
        except BaseException as error:
            self._error = error
            self._finished.set()
            return
        with self._lock:
            self._made.append(made)
            abandoned = self._abandoned
        self._finished.set()
        if abandoned:  # the caller gave up while the call ran
            self._undo_once()

    def _undo_once(self) -> None:
        with self._lock:
            if self._undone:
                return
            self._undone = True
        try:
            self._undo(self._made[0])
        except Exception:  # the error that made the caller undo matters more
            log.warning("could not undo the %s", self._what, exc_info=True)


LAUNCH_GRACE = 5.0
"""Seconds :func:`completed` waits for its thread to run after an interrupt
landed inside ``Thread.start``: a launched thread runs at once, and one the
interrupt stopped before its launch never will."""


def completed(call: Callable[[], T], what: str) -> T:
    """``call`` (a completion) run to its end on a thread of its own; an
    interrupt raised in the caller meanwhile is raised once it has ended, so
    the abort that follows never races it. A second interrupt is the caller
    insisting: it is raised at once, the call left to end on its thread (not
    a daemon: the connection's timeouts bound it)."""
    outcome: list[tuple[bool, object]] = []
    began, ended = threading.Event(), threading.Event()

    def run() -> None:
        began.set()
        try:
            outcome.append((True, call()))
        except BaseException as error:
            outcome.append((False, error))
        finally:
            ended.set()

    thread = threading.Thread(target=run, name="bb-complete")
    interrupt: BaseException | None = None
    try:
        thread.start()
    except Exception:  # no thread to be had: nothing was sent
        raise
    except BaseException as error:
        # an interrupt inside start, quite likely once the thread runs (the
        # caller waits there for it to begin): wait for the launched thread
        interrupt = error
        if not began.wait(LAUNCH_GRACE):
            raise  # stopped before its launch: the call never ran
    while True:
        try:
            ended.wait()
            break
        except BaseException as error:  # KeyboardInterrupt, the CLI's Terminated
            if interrupt is not None:
                raise
            interrupt = error
    if interrupt is not None:
        log.debug("interrupted while the %s completed: raised once it had", what)
        raise interrupt
    finished, value = outcome[0]
    if not finished:
        raise cast(BaseException, value)
    return cast(T, value)


def start_upload(
    driver: Driver, bucket: str, key: str, options: WriteOptions
) -> Shielded[MultipartSession]:
    """A multipart upload's start, shielded from interrupts; ``undo`` aborts it."""
    return Shielded(
        lambda: driver.start_multipart(bucket, key, options),
        _abort,
        f"multipart upload of {key!r} in bucket {bucket!r}",
    )


def _abort(session: MultipartSession) -> None:
    log.debug("aborting multipart upload %s", session.upload_id)
    session.abort()
