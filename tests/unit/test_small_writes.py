"""The core's side of ``SmallWrites`` (bucketbridge/copying.py's
``Copier.writes`` and ``Copier.put_written``), with a scripted driver: which
put each outcome of a multiplexed PUT leads to, and that progress counts
each object once, when its answer is accepted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from email.message import Message

import pytest

from bucketbridge import CloudProvider, CloudProviderFactory, ProviderList
from bucketbridge.config import ConnectionSettings
from bucketbridge.copying import Copier, CopySource, SmallPut
from bucketbridge.dataplane.client import HttpClient
from bucketbridge.dataplane.multiplex import Answer, Exchange
from bucketbridge.drivers.base import Features
from bucketbridge.drivers.memory import MemoryDriver
from bucketbridge.drivers.records import Body, ObjectInfo, WriteOptions
from bucketbridge.errors import PreconditionFailedException
from bucketbridge.transfer import Progress, TransferPlan, UploadTarget

OPTIONS = WriteOptions("application/octet-stream", {}, create_only=True)


class _Scripted:
    """A ``SmallWrites`` that makes no request: ``small_write`` offers an
    exchange unless ``refuse``; ``small_written`` gives ``written``
    (or raises it); ``put_again`` records its calls."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client
        self.refuse = False
        self.written: ObjectInfo | Exception | None = None
        self.again: list[tuple[str, bytes]] = []

    def small_write(
        self, bucket: str, key: str, body: bytes, options: WriteOptions
    ) -> Exchange | None:
        return None if self.refuse else Exchange(None, None, None)  # type: ignore[arg-type]

    def small_written(
        self, bucket: str, key: str, body: bytes, options: WriteOptions, answer: Answer
    ) -> ObjectInfo | None:
        if isinstance(self.written, Exception):
            raise self.written
        return self.written

    def put_again(self, bucket: str, key: str, body: Body, options: WriteOptions) -> ObjectInfo:
        self.again.append((key, body.read()))
        return _record(key, body.size)


class _Counting(MemoryDriver):
    def __init__(self) -> None:
        super().__init__(server_url=None)
        self.puts: list[str] = []

    def put_object(self, bucket: str, key: str, body: Body, options: WriteOptions) -> ObjectInfo:
        self.puts.append(key)
        return super().put_object(bucket, key, body, options)


def _record(key: str, size: int) -> ObjectInfo:
    return ObjectInfo(
        key, size, datetime.now(timezone.utc), "e", "application/octet-stream", {}, '"e"'
    )


@pytest.fixture
def provider() -> Iterator[CloudProvider]:
    made = CloudProviderFactory().create_provider(ProviderList.MEMORY, {})
    yield made
    made.close()


@pytest.fixture
def small() -> Iterator[_Scripted]:
    client = HttpClient(ConnectionSettings(1.0, 1.0, 2, 4))
    yield _Scripted(client)
    client.close()


def _copier(
    provider: CloudProvider, small: _Scripted, counted: list[int]
) -> tuple[Copier, _Counting]:
    driver = _Counting()
    driver.create_bucket("up", None)
    copier = Copier(
        CopySource(object(), driver, "src", "", 1),
        UploadTarget(driver, Features.of(driver), "up", "", OPTIONS),
        object(),
        TransferPlan.resolve(None, provider.settings),
        Progress(counted.append),
        small_writes=small,
        write_window=4,
    )
    return copier, driver


def _sent(key: str, data: bytes) -> SmallPut:
    return SmallPut(key, data, OPTIONS, sent=True)


def _answer() -> Answer:
    return Answer(200, "OK", Message(), b"")


def test_an_accepted_answer_is_the_record_and_counts_once(
    provider: CloudProvider, small: _Scripted
) -> None:
    counted: list[int] = []
    copier, driver = _copier(provider, small, counted)
    small.written = _record("a", 3)
    assert copier.put_written(_sent("a", b"abc"), _answer()) is small.written
    assert counted == [3] and not small.again and not driver.puts


@pytest.mark.parametrize("answered", [False, True], ids=["no-answer", "driver-defers"])
def test_a_sent_put_without_a_usable_answer_is_put_again(
    provider: CloudProvider, small: _Scripted, answered: bool
) -> None:
    """No answer (a failed connection, a 429/5xx), or one the driver leaves
    to the blocking put: ``put_again``, told a copy went out -- never the
    plain ``put_object``, whose 412 would not be checked."""
    counted: list[int] = []
    copier, driver = _copier(provider, small, counted)
    info = copier.put_written(_sent("a", b"abc"), _answer() if answered else None)
    assert small.again == [("a", b"abc")] and not driver.puts
    assert info.size == 3 and counted == [3]


def test_an_error_answer_raises_what_the_driver_says_and_counts_nothing(
    provider: CloudProvider, small: _Scripted
) -> None:
    counted: list[int] = []
    copier, driver = _copier(provider, small, counted)
    small.written = PreconditionFailedException("there already")
    with pytest.raises(PreconditionFailedException):
        copier.put_written(_sent("a", b"abc"), _answer())
    assert not counted and not small.again and not driver.puts


def test_a_put_the_driver_refused_to_multiplex_takes_the_blocking_put(
    provider: CloudProvider, small: _Scripted
) -> None:
    counted: list[int] = []
    copier, driver = _copier(provider, small, counted)
    small.refuse = True
    put = SmallPut("a", bytearray(b"abc"), OPTIONS)
    [(tag, answer)] = list(copier.writes([(0, put), (1, None)]))[:1]
    assert (tag, answer, put.sent) == (0, None, False)
    assert copier.put_written(put, answer).size == 3
    assert driver.puts == ["a"] and not small.again and counted == [3]
