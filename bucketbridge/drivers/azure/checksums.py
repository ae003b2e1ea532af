"""The checksum each staged block carries, which the server verifies.

``azure_checksum`` picks it:

- ``md5`` (the default): ``Content-MD5``, which Azure and Azurite both
  verify (a wrong one is refused). The part's MD5 is also its token, and a
  multipart blob's etag is S3's (the MD5 of the parts' MD5s, a dash, the
  count). Its cost is MD5's speed: hashlib (OpenSSL) hashes ~650-700 MB/s
  a core here, 0.8 CPU-s of client time per 512 MiB, and MD5 is serial
  within a part, so no library makes one part's MD5 much cheaper.
- ``crc64``: ``x-ms-content-crc64``, Azure's own CRC-64 (the CRC-64/NVME
  parameters: reflected polynomial 0x9A6C9329AC4BC9B5, all-ones initial
  value and final XOR; tests/azure/test_checksums.py checks the vectors of
  Microsoft's azure-storage-extensions tests), computed by ``anycrc`` at
  ~6 GB/s (0.1-0.2 CPU-s per 512 MiB; azure-storage-extensions' own is
  ~1.2 GB/s). Azure verifies it on Put Block. **Azurite does not**: it
  refuses the header in its default strict mode (500 FeatureNotSupported)
  and ignores it with ``--loose``, so keep ``md5`` there. The part token is
  then the CRC-64 (16 hex digits), and a multipart blob's etag the MD5 of
  those, a dash and the count: S3's form, not S3's value (``sync`` compares
  etags of one provider's objects, or the source etag it stored).

A file window is read in 1 MiB slices into one reused buffer (the pages
the send reads next, from the page cache), other bodies through their reads.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable
from typing import Any

from ...errors import InvalidConfigurationException, InvalidValueException
from ..records import Body

CHECKSUMS = ("md5", "crc64")
SLICE = 1024 * 1024
TOKEN = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{16})$")
"""A part token: an MD5 or a CRC-64, in hex."""

_crc64_model: Any = None


def checked(name: str) -> str:
    """The ``azure_checksum`` setting, refused by name if unknown or if
    ``crc64`` is asked for without anycrc installed."""
    if name not in CHECKSUMS:
        raise InvalidConfigurationException(
            f"config key 'azure_checksum': {name!r} is not one of {', '.join(CHECKSUMS)}"
        )
    if name == "crc64":
        _crc64()
    return name


def _crc64() -> Any:
    global _crc64_model
    if _crc64_model is None:
        try:
            import anycrc  # type: ignore[import-untyped]
        except ImportError as error:
            raise InvalidConfigurationException(
                "config key 'azure_checksum': 'crc64' needs the anycrc package"
                " (pip install 'bucketbridge[azure]')"
            ) from error
        _crc64_model = anycrc.Model("CRC64-NVME")
    return _crc64_model


def crc64(data: bytes | memoryview, crc: int | None = None) -> int:
    """Azure's CRC-64 of ``data``, continuing ``crc`` (that of the bytes before)."""
    model = _crc64()
    return int(model.calc(data) if crc is None else model.calc(data, crc))


def md5_of(body: Body) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    _fold(body, digest.update)
    return digest.hexdigest()


def crc64_of(body: Body) -> str:
    value: int | None = None

    def update(piece: bytes | memoryview) -> None:
        nonlocal value
        value = crc64(piece, value)

    _fold(body, update)
    return f"{crc64(b'') if value is None else value:016x}"


TOKEN_OF: dict[str, Callable[[Body], str]] = {"md5": md5_of, "crc64": crc64_of}


def header(kind: str, token: str) -> tuple[str, str]:
    """The request header that carries a part's token for the server to
    verify: MD5 as Content-MD5's base64 of 16 bytes, the CRC-64 as the
    base64 of its 8 bytes little-endian (the SDK's encoding)."""
    if kind == "crc64":
        raw = int(token, 16).to_bytes(8, "little")
        return "x-ms-content-crc64", base64.b64encode(raw).decode()
    return "content-md5", base64.b64encode(bytes.fromhex(token)).decode()


def _fold(body: Body, update: Callable[[bytes | memoryview], object]) -> None:
    """Feed the body to ``update`` in slices: a file window read with
    ``os.preadv`` into one reused buffer (no new bytes object a slice),
    other bodies through their reads; the body is left rewound."""
    if body.window is None:
        body.seek(0)
        while chunk := body.read(SLICE):
            update(chunk)
        body.seek(0)
        return
    fd, offset = body.window
    buffer = bytearray(min(SLICE, body.size))
    view = memoryview(buffer)
    done = 0
    while done < body.size:
        length = os.preadv(fd, [view[: min(SLICE, body.size - done)]], offset + done)
        if length <= 0:
            raise InvalidValueException(
                "file", f"offset {offset + done}", "it shrank while it was read"
            )
        update(view[:length])
        done += length
