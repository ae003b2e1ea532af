"""Blob properties as the records the core wants."""

from __future__ import annotations

import binascii
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import TYPE_CHECKING

from ..records import ObjectInfo
from . import metadata

if TYPE_CHECKING:
    from azure.storage.blob import BlobProperties

_TOTAL = re.compile(r"/(\d+)\s*$")
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def object_info(key: str, properties: BlobProperties, size: int) -> ObjectInfo:
    """The record of a blob from its properties (a HEAD, a GET or a listing)."""
    user_metadata, stored_etag = metadata.decode(properties.metadata)
    md5 = properties.content_settings.content_md5
    etag = stored_etag or (bytes(md5).hex() if md5 else unquoted(properties.etag))
    modified = properties.last_modified
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=timezone.utc)
    return ObjectInfo(
        key=key,
        size=size,
        last_modified=modified,
        etag=etag,
        content_type=properties.content_settings.content_type or "application/octet-stream",
        metadata=user_metadata,
        revision=quoted(properties.etag),
    )


def total_size(properties: BlobProperties) -> int:
    """The whole blob's size: a ranged GET's Content-Range ends in it."""
    match = _TOTAL.search(properties.content_range or "")
    return int(match.group(1)) if match else int(properties.size)


def unquoted(etag: str) -> str:
    return etag.strip('"')


def quoted(etag: str) -> str:
    """Azure's ETag in one spelling (listings give it bare, headers quoted)."""
    return f'"{unquoted(etag)}"'


def md5_hex(base64_md5: str) -> str:
    return binascii.a2b_base64(base64_md5).hex()


@lru_cache(maxsize=4096)
def http_datetime(text: str) -> datetime:
    """An RFC 1123 date (``Fri, 27 Nov 2026 13:02:36 GMT``), as Azure
    writes every one, in a few microseconds (email.utils takes ten times
    more); remembered, as the blobs of a listing share their seconds."""
    try:
        _, day, month, year, clock, _zone = text.split()
        hour, minute, second = clock.split(":")
        return datetime(
            int(year),
            _MONTHS[month],
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone.utc,
        )
    except (ValueError, KeyError):
        from email.utils import parsedate_to_datetime

        parsed = parsedate_to_datetime(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
