"""Paging helpers for drivers whose server returns a whole list at once."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from .records import BucketInfo, Page


def page_of_names(names: Sequence[str], after: str | None, limit: int) -> Page[BucketInfo]:
    """The first ``limit`` of the sorted bucket ``names`` that come after
    ``after``, with the last name as the marker when more follow."""
    start = bisect.bisect_right(names, after) if after is not None else 0
    page = list(names[start : start + limit])
    more = start + limit < len(names)
    return Page([BucketInfo(name) for name in page], page[-1] if more and page else None)
