"""The checksum each staged block carries, which the server verifies.

``azure_checksum`` picks it:

- ``auto`` (the default): the CRC-64, unless the server refuses that header
  (as Azurite does in its default strict mode: HTTP 500 with
  ``x-ms-error-code: FeatureNotSupported``); then the driver takes MD5 for
  good (:class:`Choice`, logged once at INFO) and sends the refused block
  again, once, with its MD5, under the same block id (which replaces
  whatever the refused request might have staged: nothing is orphaned or
  doubled). Without anycrc installed, ``auto`` is MD5.
- ``md5``: ``Content-MD5``, which Azure and Azurite both verify (a wrong
  one is refused). The part's MD5 is also its token, and a multipart blob's
  etag is S3's (the MD5 of the parts' MD5s, a dash, the count). Its cost is
  MD5's speed: hashlib (OpenSSL) hashes ~650-700 MB/s a core here, 0.8
  CPU-s of client time per 512 MiB, and MD5 is serial within a part, so no
  library makes one part's MD5 much cheaper.
- ``crc64``: ``x-ms-content-crc64``, Azure's own CRC-64 (the CRC-64/NVME
  parameters: reflected polynomial 0x9A6C9329AC4BC9B5, all-ones initial
  value and final XOR; tests/azure/test_checksums.py checks the vectors of
  Microsoft's azure-storage-extensions tests), computed by ``anycrc`` at
  ~6 GB/s (0.1-0.2 CPU-s per 512 MiB; azure-storage-extensions' own is
  ~1.2 GB/s). Azure verifies it on Put Block; Azurite ignores it with
  ``--loose`` and refuses it in strict mode, where this setting fails with
  :class:`Crc64Refused` (it means the CRC-64 or nothing). The part token is
  then the CRC-64 (16 hex digits), and a multipart blob's etag the MD5 of
  those, a dash and the count: S3's form, not S3's value (``sync`` compares
  etags of one provider's objects, or the source etag it stored).

Tokens of both kinds may meet in one upload (parts staged before a switch,
parts after): :data:`TOKEN` accepts either, and the etag is the MD5 of the
tokens' bytes as they are, so the same parts always give the same etag.
Put Blob (an object sent in one request) carries no checksum: Azure hashes
it and answers its MD5, which is its etag (see :mod:`.wire`).

A file window is read in 1 MiB slices into one reused buffer (the pages
the send reads next, from the page cache), other bodies through their reads.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable
from typing import Any

from ...errors import InvalidConfigurationException, InvalidValueException
from ..records import Body

log = logging.getLogger("bucketbridge")

CHECKSUMS = ("auto", "md5", "crc64")
DEFAULT = "auto"
CRC64_HEADER = "x-ms-content-crc64"
REFUSAL = (500, "FeatureNotSupported")
"""What Azurite (3.35, strict mode) answers a request carrying
``x-ms-content-crc64``: the status and ``x-ms-error-code`` (its message:
"x-ms-content-crc64 header or parameter is not supported in Azurite strict
mode"). Nothing else makes ``auto`` switch to MD5."""
SLICE = 1024 * 1024
TOKEN = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{16})$")
"""A part token: an MD5 or a CRC-64, in hex."""

_crc64_model: Any = None


def checked(name: str) -> str:
    """The ``azure_checksum`` setting, refused by name if unknown or if
    ``crc64`` is asked for without anycrc installed (``auto`` then means MD5)."""
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


def crc64_available() -> bool:
    try:
        _crc64()
    except InvalidConfigurationException:
        return False
    return True


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
        return CRC64_HEADER, base64.b64encode(raw).decode()
    return "content-md5", base64.b64encode(bytes.fromhex(token)).decode()


class Crc64Refused(InvalidConfigurationException):
    """The server refused a block's ``x-ms-content-crc64`` as :data:`REFUSAL`
    says: under ``auto`` the block goes again with its MD5; under ``crc64``
    this is what the caller sees."""

    def __init__(self, endpoint: str, what: str) -> None:
        super().__init__(
            f"config key 'azure_checksum': 'crc64' is refused by the Azure Blob endpoint"
            f" {endpoint} for {what} (HTTP {REFUSAL[0]} {REFUSAL[1]}: Azurite in its"
            " default strict mode supports no x-ms-content-crc64); set azure_checksum to"
            " 'auto' or 'md5', or start Azurite with --loose"
        )
        self.endpoint = endpoint


Put = Callable[[Body, tuple[str, str]], object]
"""Stages a body as the part's block, with a checksum header (see
:func:`header`); raises :class:`Crc64Refused` for :data:`REFUSAL`."""
Probe = Callable[[], Crc64Refused | None]
"""Asks the server, with a request that changes nothing, whether it takes
``x-ms-content-crc64``: its refusal, or None."""


class Choice:
    """The checksum one driver's blocks carry; thread-safe.

    Under ``auto`` the first block a driver stages is preceded by a probe:
    Get Blob Properties of its blob carrying ``x-ms-content-crc64``, which
    strict Azurite refuses as it refuses Put Block (it checks the header on
    every request) and Azure and ``--loose`` Azurite ignore. So no part's
    body is sent to be refused: strict Azurite answers the refusal before
    it reads the body, and through a hop that closes the connection (the
    fault proxy of tests/faults) it then resets the connection under the
    body still being sent, so the answer never comes. The other parts wait
    for the probe's answer (one round trip, once per driver). A refusal of
    a part itself (a server that changed its mind) still switches and sends
    that part again, once, with its MD5, under the same block id. The switch
    is made and logged once."""

    def __init__(self, setting: str) -> None:
        self.setting = setting
        crc = setting == "crc64" or (setting == "auto" and crc64_available())
        self._kind = "crc64" if crc else "md5"
        self._decided = setting != "auto" or not crc
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        return self._kind

    def stage(self, body: Body, put: Put, probe: Probe) -> str:
        """Stage ``body`` through ``put`` and return its token: its CRC-64,
        or its MD5 where that is the choice or the CRC-64 was refused and
        ``auto`` allows the one resend with MD5."""
        if not self._decided:
            with self._lock:
                if not self._decided:
                    refusal = probe()  # a failure propagates and leaves the choice open
                    if refusal is not None:
                        self._switch(refusal)
                    self._decided = True
        kind = self._kind
        token = TOKEN_OF[kind](body)
        try:
            put(body, header(kind, token))
        except Crc64Refused as refusal:
            if kind != "crc64" or self.setting != "auto":
                raise
            with self._lock:
                self._switch(refusal)
            token = md5_of(body)
            put(body, header("md5", token))
        return token

    def _switch(self, refusal: Crc64Refused) -> None:
        """MD5 for good (called holding the lock); logged by the one switch."""
        if self._kind == "crc64":
            self._kind = "md5"
            self._decided = True
            log.info(
                "Azure Blob endpoint %s refused x-ms-content-crc64 (HTTP %d %s, as Azurite"
                " does in strict mode): staged blocks carry Content-MD5 from now on",
                refusal.endpoint,
                *REFUSAL,
            )


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
