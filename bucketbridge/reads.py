"""Reads that survive a dropped connection.

SDKs retry a request that fails before its response, but not a body cut off
in the middle: one reset would fail a whole download. :func:`open_read`
resumes such a read from the byte it reached, pinned to the revision the
first response described, so bytes of two revisions are never mixed (a
replaced object fails with PreconditionFailedException instead). It backs
off with jitter between attempts and gives up after ``max_attempts`` with
one ProviderConnectionException.
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


def backoff(failures: int) -> float:
    """Full-jitter exponential backoff: how long to wait after the n-th failure."""
    return random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2 ** (failures - 1)))


def open_read(
    driver: Driver, bucket: str, key: str, options: ReadOptions, max_attempts: int
) -> ObjectStream:
    """Open a read whose chunks resume after a dropped connection."""
    first = driver.read_object(bucket, key, options)
    revision = options.if_revision or first.info.revision
    state = {"stream": first}

    def chunks() -> Iterator[bytes]:
        position = options.start
        failures = 0
        try:
            while True:
                try:
                    for chunk in state["stream"]:
                        position += len(chunk)
                        yield chunk
                    return
                except ProviderConnectionException as error:
                    state["stream"].close()
                    failures += 1
                    if failures >= max_attempts:
                        raise ProviderConnectionException(
                            f"{error} (gave up after {failures} attempts to read"
                            f" {key!r} in bucket {bucket!r})"
                        ) from error
                    log.info("read of %s/%s broke at byte %d; resuming", bucket, key, position)
                    time.sleep(backoff(failures))
                    if options.end is not None and position >= options.end:
                        return
                    resumed = dataclasses.replace(options, start=position, if_revision=revision)
                    state["stream"] = driver.read_object(bucket, key, resumed)
        finally:
            state["stream"].close()

    return ObjectStream(first.info, chunks(), lambda: state["stream"].close())
