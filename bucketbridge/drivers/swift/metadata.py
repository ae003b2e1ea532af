"""User metadata names in ``X-Object-Meta-*`` headers, byte-identical both ways.

Swift's WSGI layer turns ``_`` in a header name into ``-`` (``run_id`` would
come back as ``run-id``); header names are case-insensitive, and the core
lowercases names already. A name with an ``_`` (or one that starts with our
prefix) is stored as ``bbx-`` and its hex, which Swift keeps as is; every
other name is stored as itself, so metadata written by other Swift tools
reads as they wrote it.

Values: swiftclient percent-decodes every response header (its convention
for non-ASCII values), so a value is written with each ``%`` as ``%25`` and
comes back byte for byte (as ``swift stat`` shows it too).
"""

from __future__ import annotations

from collections.abc import Mapping

HEADER = "x-object-meta-"
ENCODED = "bbx-"


def to_headers(metadata: Mapping[str, str]) -> dict[str, str]:
    return {HEADER + _encode(name): value.replace("%", "%25") for name, value in metadata.items()}


def from_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        _decode(name[len(HEADER) :]): value
        for name, value in headers.items()
        if name.lower().startswith(HEADER)
    }


def _encode(name: str) -> str:
    if "_" in name or name.startswith(ENCODED):
        return ENCODED + name.encode().hex()
    return name


def _decode(name: str) -> str:
    name = name.lower()
    if name.startswith(ENCODED):
        try:
            return bytes.fromhex(name[len(ENCODED) :]).decode()
        except ValueError:
            return name  # not ours: someone's name that merely starts alike
    return name
