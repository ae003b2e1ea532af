"""The GCS driver's hot calls on the lean data plane (drivers/gcs/wire.py),
beside the SDK path they replace, on fake-gcs-server."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Any

import google_crc32c
import pytest

from bucketbridge import (
    BucketBridgeException,
    CloudProvider,
    NotFoundException,
    PreconditionFailedException,
    ProviderInternalException,
)
from bucketbridge.drivers.gcs import wire
from bucketbridge.drivers.gcs.errors import parse_error_body
from bucketbridge.drivers.records import Body, ReadOptions, WriteOptions
from tests.gcs.conftest import unique_bucket_name
from tests.servers.fake_gcs import GcsServer

PLANES = ["lean", "sdk"]


@pytest.fixture(params=PLANES)
def planed(
    request: pytest.FixtureRequest,
    fake_gcs_server: GcsServer,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
) -> CloudProvider:
    provider = make_provider(fake_gcs_server.config(data_plane=request.param))
    assert (provider.driver.wire is not None) == (request.param == "lean")  # type: ignore[attr-defined]
    return provider


def _error(call: Callable[[], object]) -> BucketBridgeException:
    with pytest.raises(BucketBridgeException) as caught:
        call()
    return caught.value


def test_errors_are_the_sdk_paths_errors(planed: CloudProvider) -> None:
    """Each hot call's failures, as the same exception on both planes."""
    driver: Any = planed.driver
    missing = unique_bucket_name()
    options = WriteOptions("text/plain")
    failures = {
        "list, no bucket": _error(
            lambda: driver.list_objects(missing, prefix=None, marker=None, limit=5)
        ),
        "put, no bucket": _error(
            lambda: driver.put_object(missing, "k", Body.of_bytes(b"x"), options)
        ),
        "read, no bucket": _error(lambda: driver.read_object(missing, "k", ReadOptions())),
    }
    bucket = unique_bucket_name()
    driver.create_bucket(bucket, None)
    try:
        driver.put_object(bucket, "k", Body.of_bytes(b"x"), options)
        create_only = WriteOptions("text/plain", create_only=True)
        failures["put, create-only over an object"] = _error(
            lambda: driver.put_object(bucket, "k", Body.of_bytes(b"y"), create_only)
        )
        failures["read, no object"] = _error(
            lambda: driver.read_object(bucket, "gone", ReadOptions())
        )
        assert driver.head_object(bucket, "gone") is None
        assert driver.head_object(missing, "k") is None
    finally:
        driver.delete_object(bucket, "k")
        driver.delete_bucket(bucket)
    kinds = {what: type(error) for what, error in failures.items()}
    assert kinds == {
        "list, no bucket": NotFoundException,
        "put, no bucket": NotFoundException,
        "read, no bucket": NotFoundException,
        "put, create-only over an object": PreconditionFailedException,
        "read, no object": NotFoundException,
    }
    assert repr(missing) in str(failures["list, no bucket"])
    assert "'k'" in str(failures["put, create-only over an object"])


def test_an_upload_changed_on_the_way_is_an_error(
    gcs: CloudProvider, gcs_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GCS refuses a body whose CRC32C is not the one sent with it;
    fake-gcs-server stores it and answers its own (it verifies neither
    ``crc32c`` nor ``md5Hash``), so the driver compares that too."""
    monkeypatch.setattr(wire, "crc32c_of", lambda body: "AAAAAA==")
    driver: Any = gcs.driver
    with pytest.raises(ProviderInternalException, match="CRC32C"):
        driver.put_object(gcs_bucket.name, "k", Body.of_bytes(b"data"), WriteOptions("a/b"))


def test_a_file_windows_crc32c_is_the_bytes_crc32c(tmp_path: Any) -> None:
    data = os.urandom(600_000)
    path = tmp_path / "f"
    path.write_bytes(b"x" * 1000 + data + b"y" * 10)
    expected = google_crc32c.Checksum(data).digest()
    with open(path, "rb") as source:
        window = Body.of_file(source.fileno(), 1000, len(data))
        assert wire.crc32c_of(window) == wire.crc32c_of(Body.of_bytes(data))
    assert base64.b64decode(wire.crc32c_of(Body.of_bytes(data))) == expected


def test_bytes_in_memory_are_checksummed_without_being_read_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = os.urandom(5000)
    expected = google_crc32c.Checksum(data[10:]).digest()
    monkeypatch.setattr(Body, "read", lambda self, size=-1: pytest.fail("read out into a copy"))
    # bytes whole, a bytearray, and a slice of bytes (not the bytes it is cut from)
    for given in (data[10:], bytearray(data[10:]), memoryview(data)[10:]):
        assert base64.b64decode(wire.crc32c_of(Body.of_bytes(given))) == expected


def test_a_file_window_is_uploaded_and_read_back_whole(
    gcs: CloudProvider, gcs_bucket: Any, tmp_path: Any
) -> None:
    """A window of a file, sent with os.sendfile inside the multipart
    envelope, read back into a caller's buffer."""
    data = os.urandom(3 * 1024 * 1024 + 7)
    path = tmp_path / "f"
    path.write_bytes(b"-" * 4096 + data)
    driver: Any = gcs.driver
    with open(path, "rb") as source:
        window = Body.of_file(source.fileno(), 4096, len(data))
        info = driver.put_object(gcs_bucket.name, "w", window, WriteOptions("a/b", {"m": "v"}))
    assert info.size == len(data) and info.metadata == {"m": "v"}
    stream = driver.read_object(gcs_bucket.name, "w", ReadOptions(start=5, end=len(data) - 1))
    buffer = bytearray(len(data))
    got = stream.readinto(memoryview(buffer))
    assert stream.readinto(memoryview(buffer)[got:]) == 0
    assert bytes(buffer[:got]) == data[5:-1]


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
def test_a_proxied_endpoint_keeps_the_sdk(
    variable: str,
    fake_gcs_server: GcsServer,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, "http://proxy.invalid:3128")
    provider = make_provider(fake_gcs_server.config())
    assert provider.driver.wire is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"error":{"code":412,"message":"Precondition Failed",'
            b'"errors":[{"domain":"global","reason":"conditionNotMet"}]}}',
            ("conditionNotMet", "Precondition Failed"),
        ),
        (b"Not Found\n", ("", "Not Found")),
        (b"", ("", "")),
        (b'["not", "an", "error"]', ("", '["not", "an", "error"]')),
    ],
)
def test_error_bodies_are_read_as_the_sdk_reads_them(
    body: bytes, expected: tuple[str, str]
) -> None:
    assert parse_error_body(body) == expected


@pytest.mark.parametrize("create_only", [False, True])
def test_lean_records_are_the_sdk_paths_records_in_every_field(
    create_only: bool,
    gcs: CloudProvider,
    gcs_bucket: Any,
    fake_gcs_server: GcsServer,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
) -> None:
    """``find`` (head_object), the upload's answer and a listing's item on
    the lean plane (msgspec-decoded) are the record the SDK path makes
    (json + info_of) of the same object: key, size, last_modified to the
    microsecond, etag, content type, metadata (a key's case and non-ASCII
    values kept) and revision."""
    lean: Any = gcs.driver
    sdk: Any = make_provider(fake_gcs_server.config(data_plane="sdk")).driver
    key = "dir/a key é,(1).txt"
    options = WriteOptions("text/csv", {"Mixed-Case": "Value", "x": "ü é"}, create_only=create_only)
    uploaded = lean.put_object(gcs_bucket.name, key, Body.of_bytes(b"a,b\n1,2\n"), options)
    found = lean.head_object(gcs_bucket.name, key)
    expected = sdk.head_object(gcs_bucket.name, key)
    (listed,) = lean.list_objects(gcs_bucket.name, prefix="dir/", marker=None, limit=10).items
    assert expected.last_modified.microsecond  # the emulator's updated has a fraction
    assert expected.metadata == {"Mixed-Case": "Value", "x": "ü é"}
    fields = ("key", "size", "last_modified", "etag", "content_type", "metadata", "revision")
    for record in (uploaded, found, listed):
        for name in fields:
            assert getattr(record, name) == getattr(expected, name), name
    assert lean.head_object(gcs_bucket.name, "dir/missing") is None
