"""The limits a Swift cluster publishes in ``/info``, read once, when first needed.

Swift refuses a listing page of more names than its
``container_listing_limit`` (or ``account_listing_limit``) with a 412
("Maximum limit is N"): 10,000 by default, and lowered on some clusters.
The driver asks for the default and learns the cluster's limit only when
a page is refused, so a listing on a default cluster pays no ``/info``
round trip. An SLO of more segments than ``max_manifest_segments`` is
refused too; that one is read before the first large upload's manifest.
Where ``/info`` is disabled, Swift's defaults hold.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ...errors import (
    InvalidValueException,
    NotFoundException,
    PermissionDeniedException,
    PreconditionFailedException,
    ProviderConnectionException,
)

T = TypeVar("T")

DEFAULT_SEGMENTS = 1000
DEFAULT_LISTING_LIMIT = 10_000

# what a cluster with /info disabled (or behind a proxy that hides it) answers
_UNPUBLISHED = (
    ProviderConnectionException,
    InvalidValueException,
    NotFoundException,
    PermissionDeniedException,
)


class PublishedLimits:
    """The cluster's ``/info``, read by ``read_info`` at most once."""

    def __init__(self, read_info: Callable[[], Mapping[str, Any]]) -> None:
        self._read_info = read_info
        self._info: Mapping[str, Any] | None = None
        self._lock = threading.Lock()
        self.container_listing = ListingLimit(
            lambda: self._limit("swift", "container_listing_limit", DEFAULT_LISTING_LIMIT)
        )
        self.account_listing = ListingLimit(
            lambda: self._limit("swift", "account_listing_limit", DEFAULT_LISTING_LIMIT)
        )

    def manifest_segments(self) -> int:
        """The most segments an SLO manifest may name (at least 2, so that
        nesting always makes progress)."""
        return max(2, self._limit("slo", "max_manifest_segments", DEFAULT_SEGMENTS))

    def _limit(self, section: str, name: str, default: int) -> int:
        with self._lock:
            if self._info is None:
                try:
                    self._info = self._read_info()
                except _UNPUBLISHED:
                    self._info = {}
        value = self._info.get(section, {}).get(name, default)
        return int(value) if isinstance(value, int) and value > 0 else default


class ListingLimit:
    """The most names one listing page may ask for, learned from the
    cluster the first time it refuses a page."""

    def __init__(self, published: Callable[[], int]) -> None:
        self._published = published
        self._limit: int | None = None

    def page(self, limit: int, fetch: Callable[[int], T]) -> tuple[T, int]:
        """``fetch(n)`` of one page with ``n`` the most names asked for,
        and ``n``: ``limit``, or the cluster's limit where that is lower (a
        page of ``n`` names, not ``limit``, then says there may be more)."""
        known = self._limit
        asked = limit if known is None else min(limit, known)
        try:
            return fetch(asked), asked
        except PreconditionFailedException:
            # a listing sends no precondition: its 412 is the page's size
            if known is not None:
                raise
            self._limit = known = self._published()
            if known >= asked:
                raise
            return fetch(known), known
