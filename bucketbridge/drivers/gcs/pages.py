"""Listing pages on the lean plane, decoded straight into what the driver reads.

A listing page is the driver's largest JSON by far: GCS sends what
``fields=`` asks for, but fake-gcs-server ignores ``fields=`` and answers
~825 bytes an object (8 MB per 10,000 keys). Decoding that into dicts with
``json`` cost ~60 ms per 10,000 keys here, and building the records from
the dicts as much again. msgspec decodes into the typed structs below in
C, skipping every field not named (~11 ms per 10,000 keys), and parses the
timestamp and the base64 MD5 on the way. The records are then made as
:func:`.driver.info_of` makes them from a resource, with the same rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import msgspec

from ...errors import ProviderInternalException
from ..records import ObjectInfo
from .uploads import ETAG_METADATA_KEY

T = TypeVar("T")


class Listed(msgspec.Struct):
    """The fields of an object resource :func:`info_of_listed` reads."""

    name: str
    updated: datetime
    generation: str | int
    size: str | int = 0
    md5Hash: bytes | None = None  # noqa: N815 (GCS's name)
    crc32c: str | None = None
    contentType: str | None = None  # noqa: N815
    metadata: dict[str, str] | None = None
    etag: str | None = None


class ListPage(msgspec.Struct):
    """One ``objects.list`` page; ``prefixes`` with a delimiter only."""

    items: list[Listed] = msgspec.field(default_factory=list)
    nextPageToken: str | None = None  # noqa: N815
    prefixes: list[str] = msgspec.field(default_factory=list)


_DECODER = msgspec.json.Decoder(ListPage)
_RESOURCE_DECODER = msgspec.json.Decoder(Listed)


def decode_page(data: bytes, describe: str) -> ListPage:
    """The page in ``data``; ProviderInternalException naming ``describe``
    (the request's subject) if it is not an object listing."""
    return _decoded(_DECODER, data, describe, "an object listing")


def decode_resource(data: bytes, describe: str) -> Listed:
    """One object resource (``objects.get``'s answer) in ``data``;
    ProviderInternalException naming ``describe`` if it is not one."""
    return _decoded(_RESOURCE_DECODER, data, describe, "an object resource")


def _decoded(decoder: msgspec.json.Decoder[T], data: bytes, describe: str, what: str) -> T:
    """``data`` decoded by ``decoder``; ProviderInternalException naming
    ``describe`` (the request's subject) and ``what`` it should have been."""
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as failure:
        raise ProviderInternalException(
            f"GCS answered {describe} with a body that is not {what} ({len(data)} bytes: {failure})"
        ) from failure


class _Token(msgspec.Struct):
    nextPageToken: str | None = None  # noqa: N815


_TOKEN_DECODER = msgspec.json.Decoder(_Token)


def next_token_of(data: bytes, describe: str) -> str | None:
    """A page's ``nextPageToken`` alone (every other field skipped: a few
    ms per 10,000 keys), so the next page can be asked for before this one
    is decoded by :func:`decode_page`."""
    return _decoded(_TOKEN_DECODER, data, describe, "an object listing").nextPageToken or None


def info_of_listed(listed: Listed) -> ObjectInfo:
    """The record :func:`.driver.info_of` makes of the same resource."""
    metadata = listed.metadata or {}
    stored_etag = metadata.pop(ETAG_METADATA_KEY, None) if metadata else None
    if stored_etag:  # a composed object: the etag its upload computed
        etag = stored_etag
    elif listed.md5Hash:  # S3's etag of a single-request object: its MD5, in hex
        etag = listed.md5Hash.hex()
    else:  # composed by another tool
        etag = (listed.etag or "").strip('"')
    return ObjectInfo(
        key=listed.name,
        size=int(listed.size),
        last_modified=listed.updated,
        etag=etag,
        content_type=listed.contentType or "application/octet-stream",
        metadata=metadata,
        revision=f"{listed.generation}/{listed.crc32c or ''}",
    )
