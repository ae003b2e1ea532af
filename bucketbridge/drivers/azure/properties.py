"""Blob properties as the records the core wants."""

from __future__ import annotations

import re
from datetime import timezone
from typing import TYPE_CHECKING

from ..records import ObjectInfo
from . import metadata

if TYPE_CHECKING:
    from azure.storage.blob import BlobProperties

_TOTAL = re.compile(r"/(\d+)\s*$")


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
