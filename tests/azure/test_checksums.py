"""The checksums staged blocks carry (bucketbridge/drivers/azure/checksums.py).

The CRC-64 is checked against the vectors of Microsoft's own
azure-storage-extensions tests (sdk/storage/azure-storage-extensions/tests/
test_crc64.py: ``compute_crc64(data, initial) == expected``), since Azurite
cannot check it: it refuses ``x-ms-content-crc64`` (and ignores it with
``--loose``). MD5 is checked by Azurite itself (tests/azure/test_wire.py);
the default, ``auto``, is tested both ways in test_checksum_auto.py."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

from bucketbridge import InvalidConfigurationException, TransferConfig
from bucketbridge.drivers.azure import checksums
from bucketbridge.drivers.records import Body
from bucketbridge.errors import BucketBridgeException
from tests.servers.azurite import AzuriteServer

from .conftest import MakeProvider, unique_bucket_name

LONG = (
    b"This is a test where the data is longer than 64 characters"
    b" so that we can test that code path."
)
# (data, initial CRC, expected): Microsoft's vectors
VECTORS = [
    (b"", 0, 0),
    (b"Hello World!", 0, 208604604655264165),
    (b"123456789!@#$%^&*()", 0, 2153758901452455624),
    (LONG, 0, 2736107658526394369),
    (b"\xc8\xe1\x1b\x40\xd7\x93\xd1\x52\x60\x18", 0, 3386042136331673945),
    (b"", 208604604655264165, 208604604655264165),
    (b"Hello World!", 208604604655264165, 8707751150827052565),
    (b"123456789!@#$%^&*()", 208604604655264165, 16914450898118618261),
    (LONG, 208604604655264165, 13786689105496759098),
    (b"Hello World!", 2153758901452455624, 11658374609342321938),
    (b"Hello World!", 12345, 4200897209132841242),
    (LONG, 12345, 16182239408178475978),
]
MiB = 1024 * 1024


@pytest.mark.parametrize(("data", "initial", "expected"), VECTORS)
def test_crc64_is_azures(data: bytes, initial: int, expected: int) -> None:
    assert checksums.crc64(data, initial or None) == expected


def test_a_file_windows_checksums_are_those_of_its_bytes(tmp_path: Path) -> None:
    """Read in slices into one buffer, from an offset no page starts at."""
    data = os.urandom(3 * MiB + 77)
    path = tmp_path / "f"
    path.write_bytes(b"head" + data + b"tail")
    fd = os.open(path, os.O_RDONLY)
    try:
        window = Body.of_file(fd, 4, len(data))
        assert checksums.md5_of(window) == hashlib.md5(data).hexdigest()
        expected = checksums.crc64(data)
        assert checksums.crc64_of(window) == f"{expected:016x}"
        in_memory = Body.of_bytes(data)
        assert checksums.crc64_of(in_memory) == f"{expected:016x}"
        assert in_memory.tell() == 0  # rewound for the send
        assert checksums.crc64_of(Body.of_bytes(b"")) == "0" * 16
    finally:
        os.close(fd)


def test_the_headers_encode_as_the_sdk_sends_them() -> None:
    """Content-MD5: base64 of the 16 bytes; x-ms-content-crc64: base64 of
    the 8 bytes little-endian (azure-storage-blob's calculate_crc64_bytes)."""
    md5 = hashlib.md5(b"x")
    assert checksums.header("md5", md5.hexdigest()) == (
        "content-md5",
        base64.b64encode(md5.digest()).decode(),
    )
    token = f"{208604604655264165:016x}"
    name, value = checksums.header("crc64", token)
    assert name == "x-ms-content-crc64"
    assert base64.b64decode(value) == (208604604655264165).to_bytes(8, "little")
    assert checksums.TOKEN.fullmatch(token) and checksums.TOKEN.fullmatch(md5.hexdigest())


def test_an_unknown_checksum_is_refused_naming_it(
    azurite_server: AzuriteServer, make_provider: MakeProvider
) -> None:
    with pytest.raises(InvalidConfigurationException, match=r"azure_checksum.*'sha1'"):
        make_provider({**azurite_server.config(), "azure_checksum": "sha1"})


def test_crc64_parts_reach_the_server_with_their_crc64(
    azurite_server: AzuriteServer, make_provider: MakeProvider
) -> None:
    """Azurite refuses the header outright (FeatureNotSupported): the
    refusal shows that the block went with it, and nothing is committed.
    An explicit ``crc64`` means it or nothing: no fallback, a clear error."""
    provider = make_provider({**azurite_server.config(), "azure_checksum": "crc64"})
    assert provider.driver.settings.checksum == "crc64"  # type: ignore[attr-defined]
    bucket = provider.storage.buckets.create(unique_bucket_name())
    try:
        small = TransferConfig(threshold=5 * MiB, part_size=5 * MiB)
        refused = r"'crc64' is refused.*FeatureNotSupported.*'auto' or 'md5'"
        with pytest.raises(BucketBridgeException, match=refused):
            bucket.objects.create("k").upload(os.urandom(6 * MiB), small)
        assert bucket.objects.get("k") is None
        assert list(bucket.objects.incomplete_uploads()) == []
    finally:
        bucket.delete(delete_contents=True)
