"""Readers racing writers on one key (issue 7, item 4), on every backend.

The promise: ``obj = bucket.objects.get(k)`` and then a read give the bytes
of one whole revision, and from then on the handle describes that revision:
``obj.size`` and ``obj.etag`` are those of the bytes read, even when the
object was replaced between ``get`` and the read. Only a parallel
``download_to_file`` may instead fail, with PreconditionFailedException,
when the object keeps changing under it (every part is pinned to one
revision, so two revisions are never mixed); its destination is then left
as it was.

What ``etag`` means, found per backend: on all four it is the hex MD5 of the
content for a single-request upload, and for a multipart upload S3's
``<MD5 of the parts' binary MD5s>-<number of parts>`` (the local and memory
providers compute the same; SeaweedFS and moto store it). So the expected
etag follows from the bytes and the part size the writer used.

Writers overwrite the key with self-identifying payloads of several sizes
(tests/conformance/payloads.py); each read is checked against the payload
its bytes name. The figures (reads, reads whose handle was overtaken by a
write, pinned downloads that failed) are printed: run with ``-rP`` to see them.
"""

from __future__ import annotations

import io
import itertools
import logging
import random
import threading
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bucketbridge import Bucket, BucketObject, PreconditionFailedException, TransferConfig
from tests.conformance.conftest import unenforced
from tests.conformance.payloads import (
    HEADER_SIZE,
    make_payload,
    md5_etag,
    multipart_etag,
    payload_of,
)

MiB = 1024 * 1024
KEY = "raced/object.bin"
PART = 5 * MiB
MULTIPART = TransferConfig(threshold=PART, part_size=PART, max_concurrency=2)
# One part at a time: a write landed while the first part is read is there
# before the second part is asked for, so its pinned read is refused.
ONE_PART_AT_A_TIME = TransferConfig(threshold=PART, part_size=PART, max_concurrency=1)
WRITERS = 3
READERS = 4
CHUNK = 16 * 1024  # small chunks: a read spans many scheduler switches


@dataclass(frozen=True)
class Race:
    sizes: tuple[int, ...]
    config: TransferConfig | None
    reads: tuple[str, ...]
    reads_per_reader: int
    writer_pause: float
    """Seconds between one writer's writes, at most: a download of several
    parts must sometimes finish between two writes."""


RACES = {
    "single-part": Race(
        sizes=(HEADER_SIZE, 1_000, 64 * 1024 + 1, 300_000),
        config=None,
        reads=("iter_content", "save_content", "range_whole", "range_prefix", "download_to_file"),
        reads_per_reader=12,
        writer_pause=0.0,
    ),
    "multipart": Race(
        sizes=(PART + 1_000, PART + 300_000),  # 2 parts each
        config=MULTIPART,
        reads=("download_to_file", "iter_content"),
        reads_per_reader=4,
        writer_pause=0.1,
    ),
}


def tag(payload: bytes) -> dict[str, str]:
    """The metadata a payload is written with: its header."""
    return {"payload": payload[: HEADER_SIZE - 1].decode()}


def expected_etag(payload: bytes, race: Race) -> str:
    if race.config is not None and len(payload) > PART:
        return multipart_etag(payload, PART)
    return md5_etag(payload)


class Tally:
    """What the threads did and what went wrong, shared between them.

    Each write takes a ticket before it starts; ``landed`` is the highest
    ticket of a write that finished. A write whose ticket was taken after a
    ``get`` returned has replaced the revision that ``get`` described."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.written: set[bytes] = set()
        # what each write's upload reported: the etag a server of its own
        # multipart etag (unenforced ``multipart_etag``) must give the bytes
        self.etags: dict[bytes, str | None] = {}
        self.own_multipart_etag = False
        # the server shows a new object an instant before its metadata
        # (moto: tests/servers/moto.py, "metadata_with_body")
        self.metadata_late = False
        self.tickets = 0
        self.landed = -1
        self.reads: Counter[str] = Counter()
        self.overtaken = 0
        self.pinned_failures = 0
        self.errors: list[str] = []

    def add_error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)

    def wait_for_a_newer_write(self) -> None:
        """Return once a write that starts after this call has finished."""
        with self.lock:
            ticket = self.tickets
            landed = self.lock.wait_for(lambda: self.landed >= ticket, timeout=WRITE_TIMEOUT)
        assert landed, f"no write finished within {WRITE_TIMEOUT} s"


WRITE_TIMEOUT = 60


def writer(bucket: Bucket, number: int, race: Race, stop: threading.Event, tally: Tally) -> None:
    rng = random.Random(number)
    for seq in itertools.count():
        if stop.is_set():
            return
        payload = make_payload(number, seq, race.sizes[(seq + number) % len(race.sizes)])
        with tally.lock:
            tally.written.add(payload[:HEADER_SIZE])
            ticket = tally.tickets
            tally.tickets += 1
        try:
            uploaded = bucket.objects.create(KEY).upload(
                payload, race.config, metadata=tag(payload)
            )
        except Exception:
            tally.add_error(f"writer {number}: {traceback.format_exc()}")
            return
        with tally.lock:
            tally.etags[payload[:HEADER_SIZE]] = uploaded.etag
            tally.landed = max(tally.landed, ticket)
            tally.lock.notify_all()
        if race.writer_pause:
            stop.wait(rng.uniform(0, race.writer_pause))


def read(
    obj: BucketObject, how: str, race: Race, destination: Path, tally: Tally, midway: bool
) -> tuple[bytes, int | None]:
    """Read ``obj`` the way ``how`` names; the bytes read, and for a ranged
    read the length asked for. ``midway``: a download in parts waits, after
    its first bytes, for a write to replace the object under it."""
    if how == "iter_content":
        return b"".join(obj.iter_content(CHUNK)), None
    if how == "save_content":
        target = io.BytesIO()
        obj.save_content(target, CHUNK)
        return target.getvalue(), None
    if how == "range_whole":
        return obj.download_range(0, 2 * max(race.sizes)), None
    if how == "range_prefix":  # as far as the handle said the object went
        length = obj.size
        return obj.download_range(0, length), length
    if how == "download_to_file" and midway:
        waited: list[bool] = []

        def replaced_once(nbytes: int) -> None:
            if not waited:
                waited.append(True)
                tally.wait_for_a_newer_write()

        obj.download_to_file(destination, ONE_PART_AT_A_TIME, progress=replaced_once)
        return destination.read_bytes(), None
    if how == "download_to_file":
        obj.download_to_file(destination, race.config)
        return destination.read_bytes(), None
    raise AssertionError(how)


def reader(bucket: Bucket, number: int, race_name: str, destination: Path, tally: Tally) -> None:
    race = RACES[race_name]
    for i in range(race.reads_per_reader):
        how = race.reads[(number + i // 2) % len(race.reads)]
        try:
            obj = bucket.objects.get(KEY)
            assert obj is not None
            seen = obj.etag  # unique to each payload
            # Every other read is surely overtaken, not left to the scheduler:
            # a download in parts in the middle, any other read before it starts.
            midway = bool(i % 2) and how == "download_to_file" and race.config is not None
            if i % 2 and not midway:
                tally.wait_for_a_newer_write()
            before = destination.read_bytes() if destination.exists() else None
            try:
                data, length = read(obj, how, race, destination, tally, midway)
            except PreconditionFailedException:
                assert how == "download_to_file" and race.config is not None, (
                    f"{how} of a {race_name} object failed: only a download in parts may"
                )
                after = destination.read_bytes() if destination.exists() else None
                assert after == before, "a failed download changed its destination"
                with tally.lock:
                    tally.pinned_failures += 1
                continue
            check_read(obj, data, length, race, tally)
            with tally.lock:
                tally.reads[how] += 1
                tally.overtaken += obj.etag != seen
        except Exception:
            tally.add_error(f"reader {number}, {how}: {traceback.format_exc()}")
            return


def check_read(
    obj: BucketObject, data: bytes, length: int | None, race: Race, tally: Tally
) -> None:
    payload = payload_of(data)
    with tally.lock:
        assert payload[:HEADER_SIZE] in tally.written, "bytes no writer wrote"
    if length is None:
        assert data == payload, "the bytes read are not one whole payload"
    else:
        assert data == payload[:length], "a range read is not the start of one payload"
    assert obj.size == len(payload), f"handle size {obj.size}, read {len(payload)} bytes"
    expected = expected_etag(payload, race)
    if tally.own_multipart_etag and expected != md5_etag(payload):
        # the server's own etag for these bytes, as their upload reported it
        # (the read may beat the writer to recording it)
        header = payload[:HEADER_SIZE]
        with tally.lock:
            recorded = tally.lock.wait_for(lambda: header in tally.etags, timeout=WRITE_TIMEOUT)
            assert recorded, "the upload of the bytes read never reported an etag"
            expected = tally.etags[header]
    assert obj.etag == expected, "the handle's etag is not the bytes'"
    if tally.metadata_late and obj.metadata == {}:
        return  # read in the instant between the server's body and its metadata
    assert obj.metadata == tag(payload), "the handle's metadata is not the bytes'"


@pytest.mark.parametrize("race_name", list(RACES))
def test_a_handle_describes_the_bytes_it_read(
    bucket: Bucket,
    tmp_path: Path,
    race_name: str,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bucketbridge")
    race = RACES[race_name]
    tally = Tally()
    not_enforced = unenforced(request.getfixturevalue("provider_factory"))
    tally.own_multipart_etag = "multipart_etag" in not_enforced
    tally.metadata_late = "metadata_with_body" in not_enforced
    first = make_payload(999, 0, race.sizes[0])
    tally.written.add(first[:HEADER_SIZE])
    uploaded = bucket.objects.create(KEY).upload(first, race.config, metadata=tag(first))
    tally.etags[first[:HEADER_SIZE]] = uploaded.etag

    stop = threading.Event()
    writers = [
        threading.Thread(target=writer, args=(bucket, n, race, stop, tally)) for n in range(WRITERS)
    ]
    readers = [
        threading.Thread(
            target=reader, args=(bucket, n, race_name, tmp_path / f"reader-{n}.bin", tally)
        )
        for n in range(READERS)
    ]
    run_together(readers, writers, stop)

    assert not tally.errors, f"{len(tally.errors)} failures; the first:\n{tally.errors[0]}"
    done = sum(tally.reads.values())
    restarts = sum("changed during download" in r.getMessage() for r in caplog.records)
    print(
        f"{request.node.callspec.id}: {done} reads checked ({dict(tally.reads)}),"
        f" {tally.overtaken} of a newer revision than get() saw;"
        f" downloads in parts: {restarts} restarted as a pinned read was refused,"
        f" {tally.pinned_failures} failed"
    )
    # Half the reads had a write land after get(): a handle that kept what
    # get() said cannot pass the checks of those.
    assert done + tally.pinned_failures == READERS * race.reads_per_reader


def run_together(
    readers: list[threading.Thread], writers: list[threading.Thread], stop: threading.Event
) -> None:
    """Start everything, wait for the readers, then stop the writers."""
    started: list[Callable[[], None]] = []
    try:
        for thread in writers + readers:
            thread.start()
            started.append(thread.join)
        for thread in readers:
            thread.join(timeout=120)
            assert not thread.is_alive(), "a reader hung"
    finally:
        stop.set()
        for join in started:
            join()
