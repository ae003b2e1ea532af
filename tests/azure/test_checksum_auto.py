"""``azure_checksum = "auto"`` (the default): the CRC-64 where the server
takes it, MD5 for good where it refuses it (bucketbridge/drivers/azure/checksums.py).

Both ways on the real Azurite: the session's strict one refuses
``x-ms-content-crc64`` (the default then falls back to MD5, which Azurite
verifies: tests/azure/test_wire.py shows a block whose MD5 does not match
refused), and a ``--loose`` one, started once for this module, takes it
(and ignores it: what is proved there is that the header goes out with the
right value, captured by the fault proxy of tests/faults, and that the
blob comes back byte for byte). The decision logic alone is unit-tested
with fakes beside them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from bucketbridge import Bucket, CloudProvider, InvalidConfigurationException, TransferConfig
from bucketbridge.drivers.azure import checksums
from bucketbridge.drivers.parts import multipart_etag
from bucketbridge.drivers.records import Body
from tests.faults.backends import azure_error_reply
from tests.faults.proxy import FaultProxy, Match, Reply, Request
from tests.servers.azurite import ACCOUNT, AzuriteServer, start_azurite

from .conftest import MakeProvider, unique_bucket_name

MiB = 1024 * 1024
PART = 5 * MiB
SMALL = TransferConfig(threshold=PART, part_size=PART)
SWITCH = "refused x-ms-content-crc64"


def _crc64_token(data: bytes) -> str:
    return f"{checksums.crc64(data):016x}"


def _parts(data: bytes) -> list[bytes]:
    return [data[i : i + PART] for i in range(0, len(data), PART)]


def _content(bucket: Bucket, key: str) -> bytes:
    found = bucket.objects.get(key)
    assert found is not None
    return b"".join(found.iter_content())


def _switches(caplog: pytest.LogCaptureFixture) -> int:
    return sum(SWITCH in record.getMessage() for record in caplog.records)


# --- the decision, with fakes ----------------------------------------------------------


def _refusal() -> checksums.Crc64Refused:
    return checksums.Crc64Refused("http://127.0.0.1:1/acct", "object 'k' in bucket 'b'")


def test_a_refused_probe_switches_once_however_many_parts_ask_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    choice = checksums.Choice("auto")
    assert choice.kind == "crc64"
    probes: list[int] = []
    sent: list[str] = []
    ready = threading.Barrier(8)

    def probe() -> checksums.Crc64Refused:
        probes.append(1)
        return _refusal()

    def stage(n: int) -> str:
        ready.wait()
        return choice.stage(Body.of_bytes(b"part %d" % n), lambda _b, h: sent.append(h[0]), probe)

    with caplog.at_level(logging.INFO, logger="bucketbridge"):
        threads = [threading.Thread(target=stage, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(probes) == 1 and _switches(caplog) == 1
    assert sent == ["content-md5"] * 8 and choice.kind == "md5"
    assert "Eby8" not in caplog.text  # no secret: the endpoint and the status only


def test_a_part_refused_after_the_probe_goes_again_once_with_its_md5() -> None:
    choice = checksums.Choice("auto")
    sent: list[tuple[str, str]] = []

    def put(body: Body, checksum: tuple[str, str]) -> None:
        sent.append(checksum)
        if checksum[0] == checksums.CRC64_HEADER and len(sent) > 1:
            raise _refusal()  # the server changed its mind after the first part

    first = choice.stage(Body.of_bytes(b"one"), put, lambda: None)
    second = choice.stage(Body.of_bytes(b"two"), put, lambda: None)
    third = choice.stage(Body.of_bytes(b"three"), put, lambda: None)
    assert first == _crc64_token(b"one")
    assert second == hashlib.md5(b"two").hexdigest()
    assert third == hashlib.md5(b"three").hexdigest()
    assert [name for name, _ in sent] == [checksums.CRC64_HEADER] * 2 + ["content-md5"] * 2
    assert checksums.TOKEN.fullmatch(first) and checksums.TOKEN.fullmatch(second)


def test_explicit_settings_never_probe_and_crc64_is_not_softened() -> None:
    def never() -> checksums.Crc64Refused:
        raise AssertionError("an explicit setting probed")

    def refuse(body: Body, checksum: tuple[str, str]) -> None:
        raise _refusal()

    with pytest.raises(checksums.Crc64Refused, match=r"'crc64' is refused.*'auto' or 'md5'"):
        checksums.Choice("crc64").stage(Body.of_bytes(b"x"), refuse, never)
    sent: list[str] = []
    token = checksums.Choice("md5").stage(
        Body.of_bytes(b"x"), lambda _b, h: sent.append(h[0]), never
    )
    assert sent == ["content-md5"] and token == hashlib.md5(b"x").hexdigest()


def test_auto_is_md5_without_anycrc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checksums, "_crc64_model", None)
    monkeypatch.setitem(sys.modules, "anycrc", None)  # import fails
    choice = checksums.Choice(checksums.checked("auto"))
    assert choice.kind == "md5"
    with pytest.raises(InvalidConfigurationException, match="'crc64' needs the anycrc"):
        checksums.checked("crc64")


# --- strict Azurite (the session's): the fallback to MD5 -------------------------------


def _block_lists(server: AzuriteServer, bucket: str, key: str) -> tuple[int, int]:
    client = BlobServiceClient.from_connection_string(server.connection_string)
    try:
        committed, uncommitted = client.get_blob_client(bucket, key).get_block_list("all")
    finally:
        client.close()
    return len(committed), len(uncommitted)


def test_on_strict_azurite_the_default_falls_back_to_md5_once(
    azurite_server: AzuriteServer,
    make_provider: MakeProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = make_provider(azurite_server.config())
    assert provider.driver.settings.checksum == "auto"  # type: ignore[attr-defined]
    bucket = provider.storage.buckets.create(unique_bucket_name())
    try:
        data = os.urandom(3 * PART - 7)  # three parts, sent at once
        with caplog.at_level(logging.INFO, logger="bucketbridge"):
            stored = bucket.objects.create("k").upload(data, SMALL)
            again = bucket.objects.create("k2").upload(data, SMALL)
        assert _switches(caplog) == 1
        # MD5 tokens: the etag is S3's, the MD5 of the parts' MD5s
        md5s = [hashlib.md5(part).hexdigest() for part in _parts(data)]
        assert stored.etag == again.etag == multipart_etag(md5s)
        assert _content(bucket, "k") == data
        assert _block_lists(azurite_server, bucket.name, "k") == (3, 0)
        assert list(bucket.objects.incomplete_uploads()) == []
    finally:
        bucket.delete(delete_contents=True)


# --- loose Azurite: the CRC-64 goes out ----------------------------------------------------


@pytest.fixture(scope="module")
def loose_azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteServer]:
    with start_azurite(Path(tmp_path_factory.mktemp("azurite-loose")), loose=True) as server:
        yield server


class Recorder:
    """The fault proxy in front of ``server``, a rule that never fires
    recording the head of every Put Block and HEAD it sees."""

    def __init__(self, proxy: FaultProxy, server: AzuriteServer) -> None:
        self.proxy = proxy
        self.direct = server
        self.server = AzuriteServer(f"{proxy.url}/{ACCOUNT}")
        self.blocks: list[Request] = []
        self.heads: list[Request] = []
        proxy.add(Match(where=self._record), Reply(500, "never"), times=0)

    def _record(self, request: Request) -> bool:
        if request.method == "PUT" and request.query.get("comp") == ["block"]:
            self.blocks.append(request)
        elif request.method == "HEAD":
            self.heads.append(request)
        return True


@pytest.fixture
def recorded(loose_azurite: AzuriteServer) -> Iterator[Recorder]:
    port = int(loose_azurite.endpoint_url.rsplit(":", 1)[1].split("/")[0])
    with FaultProxy(("127.0.0.1", port)) as proxy:
        yield Recorder(proxy, loose_azurite)
        assert proxy.errors == []


@pytest.fixture
def loose_bucket(loose_azurite: AzuriteServer, make_provider: MakeProvider) -> Iterator[Bucket]:
    bucket = make_provider(loose_azurite.config()).storage.buckets.create(unique_bucket_name())
    yield bucket
    bucket.delete(delete_contents=True)


def _through(recorded: Recorder, make_provider: MakeProvider, bucket: Bucket) -> Bucket:
    provider: CloudProvider = make_provider(recorded.server.config(max_attempts=2))
    found = provider.storage.buckets.get(bucket.name)
    assert found is not None
    return found


def _crc64_header(data: bytes) -> str:
    return checksums.header("crc64", _crc64_token(data))[1]


def test_on_loose_azurite_the_default_sends_each_parts_crc64(
    recorded: Recorder, make_provider: MakeProvider, loose_bucket: Bucket
) -> None:
    bucket = _through(recorded, make_provider, loose_bucket)
    data = os.urandom(3 * PART - 7)
    stored = bucket.objects.create("k").upload(data, SMALL)
    sent = sorted(
        (request.query["blockid"][0], request.header(checksums.CRC64_HEADER))
        for request in recorded.blocks
    )
    assert [value for _, value in sent] == [_crc64_header(part) for part in _parts(data)]
    assert all(request.header("content-md5") is None for request in recorded.blocks)
    assert len(recorded.heads) == 1  # the probe, once per driver
    assert stored.etag == multipart_etag([_crc64_token(part) for part in _parts(data)])
    assert _content(loose_bucket, "k") == data


def _strict_refusal() -> Reply:
    """What strict Azurite answers a request carrying x-ms-content-crc64."""
    return azure_error_reply(
        500,
        "Internal Server Error",
        "FeatureNotSupported",
        "x-ms-content-crc64 header or parameter is not supported in Azurite strict mode.",
    )


def _carries_crc64(request: Request) -> bool:
    return request.header(checksums.CRC64_HEADER) is not None


def test_an_upload_resumed_across_the_switch_completes_with_both_kinds_of_token(
    recorded: Recorder,
    make_provider: MakeProvider,
    loose_bucket: Bucket,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Part 1 staged with its CRC-64; then the server refuses the header
    (as strict Azurite does): part 2 is refused once and goes again with
    its MD5 under the same block id, part 3 goes with its MD5 at once.
    The refusal is answered at once, not retried (``fired == 1`` with
    ``max_attempts=2``: HttpClient.send's ``final``)."""
    bucket = _through(recorded, make_provider, loose_bucket)
    data = os.urandom(2 * PART + 99)
    one, two, three = _parts(data)
    upload = bucket.objects.create("k").create_multipart_upload()
    first = upload.upload_part(1, one)
    refuse = recorded.proxy.add(Match("PUT", where=_carries_crc64), _strict_refusal())
    with caplog.at_level(logging.INFO, logger="bucketbridge"):
        second = upload.upload_part(2, two)
        third = upload.upload_part(3, three)
    assert refuse.fired == 1 and _switches(caplog) == 1
    assert first.etag == _crc64_token(one)
    assert (second.etag, third.etag) == (
        hashlib.md5(two).hexdigest(),
        hashlib.md5(three).hexdigest(),
    )
    done = upload.complete([third, first, second])
    assert done.etag == multipart_etag([first.etag, second.etag, third.etag])
    assert _content(loose_bucket, "k") == data
    assert loose_bucket.objects.get("k").etag == done.etag  # type: ignore[union-attr]
    assert _block_lists(recorded.direct, loose_bucket.name, "k") == (3, 0)


def test_another_500_on_a_crc64_part_is_retried_and_switches_nothing(
    recorded: Recorder,
    make_provider: MakeProvider,
    loose_bucket: Bucket,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only strict Azurite's own refusal (500 FeatureNotSupported) switches."""
    bucket = _through(recorded, make_provider, loose_bucket)
    error = Reply(
        500,
        "Internal Server Error",
        b"<Error><Code>InternalError</Code></Error>",
        [("x-ms-error-code", "InternalError")],
    )
    failed = recorded.proxy.add(Match("PUT", where=_carries_crc64), error, times=1)
    data = os.urandom(PART + 1)
    with caplog.at_level(logging.INFO, logger="bucketbridge"):
        bucket.objects.create("k").upload(data, SMALL)
    assert failed.fired == 1 and _switches(caplog) == 0
    assert all(_carries_crc64(request) for request in recorded.blocks)
    assert _content(loose_bucket, "k") == data
