"""Reads that survive a dropped connection.

SDKs retry a request that fails before its response, but not a body cut off
in the middle: one reset would fail a whole download. :func:`open_read`
resumes such a read from the byte it reached, pinned to the revision the
first response described, so bytes of two revisions are never mixed (a
replaced object fails with PreconditionFailedException instead). It backs
off with jitter between attempts and gives up after ``max_attempts``
failures of one read in all, with one ProviderConnectionException. In all,
not in a row: a server that breaks every response after a few bytes makes
progress each time, and counting failures in a row would crawl through a
whole object that way instead of failing (tests/conformance/test_faults.py,
a persistent reset mid-response).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Iterator

from .drivers.base import Driver
from .drivers.records import ObjectStream, ReadOptions
from .errors import ProviderConnectionException

log = logging.getLogger("bucketbridge")

BASE_DELAY = 0.1
MAX_DELAY = 5.0
RESUME_SLICE = 256 * 1024
"""A resumed readinto asks the driver's stream for at most this much at a
time. A stream's readinto fills its buffer or raises, so the bytes of a
fill that broke are never counted: in slices, a break loses at most one
slice and a read that moves forward is seen to (a caller's 64 MiB buffer
over a link that breaks every few MiB would otherwise never count as
progress). The calls are cheap next to the recv_into calls under them."""


def backoff(failures: int) -> float:
    """Full-jitter exponential backoff: how long to wait after the n-th failure."""
    return random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2 ** (failures - 1)))


def open_read(
    driver: Driver, bucket: str, key: str, options: ReadOptions, max_attempts: int
) -> ObjectStream:
    """Open a read whose chunks (or ``readinto``) resume after a dropped connection."""
    return _ResumingRead(driver, bucket, key, options, max_attempts)


class _ResumingRead(ObjectStream):
    """The stream itself, not a wrapper around one: a copy of many small
    objects opens a read per object, and each layer cost it a record, a
    generator and a call per fill."""

    def __init__(
        self, driver: Driver, bucket: str, key: str, options: ReadOptions, max_attempts: int
    ) -> None:
        stream = driver.read_object(bucket, key, options)
        super().__init__(stream.info, iter(()))
        self._driver = driver
        self._bucket = bucket
        self._key = key
        self._options = options
        self._max_attempts = max_attempts
        self._stream = stream
        self._revision = options.if_revision or stream.info.revision
        self._position = options.start
        self._failures = 0

    def __iter__(self) -> Iterator[bytes]:
        try:
            while True:
                try:
                    for chunk in self._stream:
                        self._position += len(chunk)
                        yield chunk
                    return
                except ProviderConnectionException as error:
                    if not self._resume(error):
                        return
        finally:
            self.close()

    def readinto(self, buffer: memoryview | bytearray) -> int:
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            try:
                count = self._stream.readinto(view[filled : filled + RESUME_SLICE])
            except ProviderConnectionException as error:
                if not self._resume(error):
                    break
                continue
            if not count:
                break
            self._position += count
            filled += count
        return filled

    def _resume(self, error: ProviderConnectionException) -> bool:
        """Open the rest of the range after ``error``; False if nothing is left."""
        self._stream.close()
        self._failures += 1
        if self._failures >= self._max_attempts:
            raise ProviderConnectionException(
                f"{error} (gave up after {self._failures} attempts to read"
                f" {self._key!r} in bucket {self._bucket!r})"
            ) from error
        log.info(
            "read of %s/%s broke at byte %d; resuming", self._bucket, self._key, self._position
        )
        time.sleep(backoff(self._failures))
        end = self._options.end
        if end is not None and self._position >= end:
            return False
        resumed = dataclasses.replace(
            self._options, start=self._position, if_revision=self._revision
        )
        self._stream = self._driver.read_object(self._bucket, self._key, resumed)
        return True

    def close(self) -> None:
        self._stream.close()
