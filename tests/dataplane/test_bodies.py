"""Bodies arrive byte for byte: file windows through os.sendfile, bytes,
again whole after a retry, over TLS without sendfile; progress counts each
byte once."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bucketbridge.dataplane import client as client_module
from bucketbridge.dataplane.client import HttpClient
from bucketbridge.drivers.records import Body
from bucketbridge.errors import (
    InvalidConfigurationException,
    InvalidValueException,
    ProviderConnectionException,
)
from bucketbridge.transfer import Progress, _counted
from tests.dataplane.conftest import CountingSigner, get, settings, subject
from tests.dataplane.server import Exchange, Server
from tests.faults.proxy import FaultProxy, Match, ResetRequest
from tests.servers import certs

OFFSET = 4097  # a window that starts mid-page, so an offset ignored would show
SIZES = [0, 1, 64 * 1024 + 1, 5 * 1024 * 1024 + 3]


@pytest.fixture(scope="module")
def content() -> bytes:
    return os.urandom(OFFSET + max(SIZES) + 100)


@pytest.fixture
def source(tmp_path: Path, content: bytes) -> Iterator[int]:
    path = tmp_path / "source"
    path.write_bytes(content)
    fd = os.open(path, os.O_RDONLY)
    yield fd
    os.close(fd)


@pytest.fixture
def sendfiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The byte counts os.sendfile was asked for, by the client."""
    calls: list[int] = []
    real = os.sendfile

    def counting(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        calls.append(count)
        return real(out_fd, in_fd, offset, count)

    monkeypatch.setattr(client_module.os, "sendfile", counting)
    return calls


def stored(exchange: Exchange) -> None:
    exchange.reply(201 if exchange.command == "PUT" else 200)


@pytest.mark.parametrize("size", SIZES)
def test_a_file_window_arrives_byte_for_byte_through_sendfile(
    size: int,
    content: bytes,
    source: int,
    sendfiles: list[int],
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
) -> None:
    server = serve(stored)
    body = Body.of_file(source, OFFSET, size)
    request = get(server.url, "/object", "PUT", body=body)
    response = make_client().send(request, CountingSigner(), subject(server.url))
    assert response.status == 201
    response.close()
    (seen,) = server.seen
    assert seen.headers["content-length"] == str(size)
    assert seen.body == content[OFFSET : OFFSET + size]
    assert (sum(sendfiles) >= size) and (bool(sendfiles) == bool(size))


def test_bytes_and_in_memory_bodies_arrive_whole(
    serve: Callable[..., Server], make_client: Callable[..., HttpClient]
) -> None:
    server = serve(stored)
    client = make_client()
    data = os.urandom(3 * 1024 * 1024 + 7)
    for body in (data, Body.of_bytes(data), b""):
        response = client.send(
            get(server.url, "/object", "PUT", body=body), CountingSigner(), subject(server.url)
        )
        response.close()
    assert [seen.body for seen in server.seen] == [data, data, b""]
    assert server.connections == 1


@pytest.mark.parametrize("window", [True, False])
def test_a_body_retried_after_503_is_sent_again_whole_and_counted_once(
    window: bool,
    content: bytes,
    source: int,
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
    delays: list[int],
) -> None:
    def busy_once(exchange: Exchange) -> None:
        exchange.reply(503 if len(exchange.server.seen) == 1 else 200)

    server = serve(busy_once)
    size = 2 * 1024 * 1024 + 5
    expected = content[OFFSET : OFFSET + size]
    reported: list[int] = []
    plain = Body.of_file(source, OFFSET, size) if window else Body.of_bytes(expected)
    body = _counted(plain, Progress(reported.append))
    response = make_client().send(
        get(server.url, "/object", "PUT", body=body), CountingSigner(), subject(server.url)
    )
    assert (response.status, response.attempts) == (200, 2)
    assert [seen.body == expected for seen in server.seen] == [True, True]
    assert sum(reported) == size
    assert all(count > 0 for count in reported)


def test_a_small_in_memory_body_leaves_as_it_is_whole_again_on_a_retry(
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A body of bytes up to COALESCE_LIMIT goes out from its memory with
    the head, never read out into a copy first (Body.memory), and a retry
    sends the same bytes: a bytearray's, a slice of bytes', bytes in an envelope."""

    def busy_once(exchange: Exchange) -> None:
        exchange.reply(503 if len(exchange.server.seen) % 2 == 1 else 200)

    def no_copy(self: Body, size: int | None = -1) -> bytes:
        raise AssertionError("a small in-memory body was read out into a copy")

    server = serve(busy_once)
    client = make_client()
    data = os.urandom(4096 + 10)
    monkeypatch.setattr(Body, "read", no_copy)
    bodies = (
        Body.of_bytes(bytearray(data[:4096])),
        Body.of_bytes(memoryview(data)[10:]),
        Body.framed(b"front", Body.of_bytes(data), b"tail"),  # GCS's multipart envelope
    )
    for body in bodies:
        response = client.send(
            get(server.url, "/object", "PUT", body=body), CountingSigner(), subject(server.url)
        )
        assert (response.status, response.attempts) == (200, 2)
        response.close()
    sent = [data[:4096], data[10:], b"front" + data + b"tail"]
    assert [seen.body for seen in server.seen] == [one for one in sent for _ in range(2)]


def test_a_file_window_past_the_end_of_its_file_is_a_bad_value_not_a_network_error(
    source: int,
    content: bytes,
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
) -> None:
    server = serve(stored)
    client = make_client()
    body = Body.of_file(source, len(content) - 10, 100)
    with pytest.raises(InvalidValueException, match="shrank"):
        client.send(
            get(server.url, "/object", "PUT", body=body), CountingSigner(), subject(server.url)
        )
    # the half-sent connection was closed, not kept: the next request is clean
    response = client.send(get(server.url, "/after"), CountingSigner(), subject(server.url))
    assert response.status == 200
    # (the server may log the cut-off PUT after it: its handler only ends
    # when that connection closes, so the order of the log is not asserted)
    assert [seen.target for seen in server.seen].count("/after") == 1


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> certs.Certificates:
    return certs.make(tmp_path_factory.mktemp("certs"))


def test_https_sends_a_file_window_without_sendfile_and_intact(
    tls: certs.Certificates,
    content: bytes,
    source: int,
    sendfiles: list[int],
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
) -> None:
    server = serve(stored, tls=tls.server)
    assert server.url.startswith("https://")
    client = make_client(verify=str(tls.ca_file))
    size = 3 * 1024 * 1024 + 1
    reported: list[int] = []
    body = _counted(Body.of_file(source, OFFSET, size), Progress(reported.append))
    for _ in range(2):
        response = client.send(
            get(server.url, "/object", "PUT", body=body), CountingSigner(), subject(server.url)
        )
        assert response.status == 201
        response.close()
    assert [seen.body == content[OFFSET : OFFSET + size] for seen in server.seen] == [True, True]
    assert sendfiles == []
    assert sum(reported) == size
    assert server.connections == 1


def test_an_untrusted_certificate_is_refused_by_default_and_not_retried(
    tls: certs.Certificates,
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
    delays: list[int],
) -> None:
    server = serve(stored, tls=tls.server)
    with pytest.raises(ProviderConnectionException) as raised:
        make_client(max_attempts=3).send(get(server.url), CountingSigner(), subject(server.url))
    message = str(raised.value)
    assert "certificate" in message and f"127.0.0.1:{server.port}" in message
    assert delays == []


def test_verify_false_accepts_the_untrusted_certificate(
    tls: certs.Certificates,
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
) -> None:
    server = serve(lambda exchange: exchange.reply(200, b"over tls"), tls=tls.server)
    response = make_client(verify=False).send(
        get(server.url), CountingSigner(), subject(server.url)
    )
    assert response.read() == b"over tls"


@pytest.mark.parametrize("content", [None, b"not a certificate"])
def test_a_ca_bundle_that_cannot_be_loaded_is_a_configuration_error(
    content: bytes | None, tmp_path: Path
) -> None:
    path = tmp_path / "bundle.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InvalidConfigurationException, match=f"CA bundle '{path}'"):
        HttpClient(settings(), verify=str(path))


def test_an_upload_reset_midway_is_sent_again_whole_and_counted_once(
    content: bytes,
    source: int,
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
    delays: list[int],
) -> None:
    server = serve(stored)
    size = 4 * 1024 * 1024 + 1
    with FaultProxy(("127.0.0.1", server.port)) as proxy:
        cut = proxy.add(Match(method="PUT"), ResetRequest(after=1024 * 1024), times=1)
        reported: list[int] = []
        body = _counted(Body.of_file(source, OFFSET, size), Progress(reported.append))
        request = get(proxy.url, "/object", "PUT", body=body)
        response = make_client(max_attempts=2).send(request, CountingSigner(), subject(proxy.url))
        assert (response.status, response.attempts) == (201, 2)
        assert cut.fired == 1
    (seen,) = server.seen
    assert seen.body == content[OFFSET : OFFSET + size]
    assert sum(reported) == size


@pytest.mark.parametrize("window", [True, False])
def test_an_answer_given_before_the_body_was_read_reaches_the_driver(
    window: bool,
    tmp_path: Path,
    serve: Callable[..., Server],
    make_client: Callable[..., HttpClient],
) -> None:
    """A server that refuses a large upload at its headers (S3's 403 for a
    bad signature) answers and closes without reading the body: the driver
    gets that answer to map, not "broken pipe"."""

    def deny(exchange: Exchange) -> None:
        if exchange.command == "PUT":
            exchange.reply(403, b"<Error><Code>AccessDenied</Code></Error>")
            exchange.close_connection = True
        else:
            exchange.reply(200, b"still here")

    server = serve(deny, read_bodies=False)
    size = 64 * 1024 * 1024  # more than the socket buffers on the way hold
    path = tmp_path / "sparse"
    with path.open("wb") as file:
        file.truncate(size)
    fd = os.open(path, os.O_RDONLY)
    try:
        body = Body.of_file(fd, 0, size) if window else Body.of_bytes(bytes(size))
        client = make_client(max_attempts=3)
        response = client.send(
            get(server.url, "/object", "PUT", body=body), CountingSigner(), subject(server.url)
        )
        assert (response.status, response.attempts) == (403, 1)
        assert b"AccessDenied" in response.read()
        after = client.send(get(server.url, "/after"), CountingSigner(), subject(server.url))
        assert after.read() == b"still here"
        assert server.connections == 2
    finally:
        os.close(fd)
