"""User metadata names as Azure can hold them, and the etag bucketbridge keeps beside them.

Azure metadata names must be C# identifiers: a letter or ``_`` first, then
letters, digits and ``_``. bucketbridge's names (lowercase ASCII letters,
digits, ``-`` and ``_``, :func:`bucketbridge.checks.check_metadata`) may
hold a ``-`` or start with a digit. Such a name is stored as ``bbx_`` and the
name with every character but ``[a-z0-9]`` written ``_`` + two hex digits:
``run-id`` -> ``bbx_run_2did``. A name Azure can hold is stored as it is, so
other tools read it unchanged, unless it starts with ``bbx_`` itself (then
it is encoded too, so decoding is never ambiguous). The encoding depends on
the name only, so whichever program wrote an object through bucketbridge,
every reader gets the same names back, byte for byte.

The S3-style etag (see :mod:`.driver`) of an object committed from blocks
rides in the reserved name ``bbx__etag``, which the encoder never produces
(``_e`` + ``t`` is no escape) and readers never see.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

PREFIX = "bbx_"
ETAG_NAME = "bbx__etag"
_PLAIN = frozenset(string.ascii_lowercase + string.digits)
_HEX = frozenset("0123456789abcdef")


def _azure_can_hold(name: str) -> bool:
    return name.isascii() and name.isidentifier() and not name.lower().startswith(PREFIX)


def encode_name(name: str) -> str:
    if _azure_can_hold(name):
        return name
    return PREFIX + "".join(ch if ch in _PLAIN else f"_{ord(ch):02x}" for ch in name)


def decode_name(stored: str) -> str:
    name = stored.lower()
    if not name.startswith(PREFIX):
        return name
    body = name[len(PREFIX) :]
    out: list[str] = []
    index = 0
    while index < len(body):
        ch = body[index]
        if ch == "_":
            escape = body[index + 1 : index + 3]
            if len(escape) != 2 or not set(escape) <= _HEX:
                return name  # not ours: someone else's name that starts alike
            out.append(chr(int(escape, 16)))
            index += 3
        else:
            out.append(ch)
            index += 1
    return "".join(out)


def encode(metadata: Mapping[str, str], etag: str | None = None) -> dict[str, str]:
    stored = {encode_name(name): value for name, value in metadata.items()}
    if etag is not None:
        stored[ETAG_NAME] = etag
    return stored


def decode(stored: Mapping[str, str] | None) -> tuple[dict[str, str], str | None]:
    """The user's metadata and the etag bucketbridge stored, if any."""
    metadata: dict[str, str] = {}
    etag: str | None = None
    for name, value in (stored or {}).items():
        if name.lower() == ETAG_NAME:
            etag = value
        else:
            metadata[decode_name(name)] = value
    return metadata, etag
