"""The info of an object just written, from what was sent and what Swift answered.

Swift's answer to a PUT (an object, a copy, an SLO manifest) carries the
stored etag and ``Last-Modified`` but not the new ``X-Timestamp``: the info
has no ``revision`` (reads pin to the revision their own response gives) and
``last_modified`` in whole seconds. A HEAD would tell more, at one more
round trip (~11 ms) per write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from ..records import ObjectInfo, WriteOptions


def written_info(
    key: str, size: int, headers: Mapping[str, str], options: WriteOptions
) -> ObjectInfo:
    """``headers``: the answer's, names lower-cased."""
    return ObjectInfo(
        key=key,
        size=size,
        last_modified=http_date(headers),
        etag=(headers.get("etag") or "").strip('"') or None,
        content_type=options.content_type,
        metadata=dict(options.metadata),
    )


def http_date(headers: Mapping[str, str]) -> datetime:
    value = headers.get("last-modified") or headers.get("date")
    if value:
        try:
            return parsedate_to_datetime(value).astimezone(timezone.utc)
        except (TypeError, ValueError):
            pass
    return datetime.now(timezone.utc)
