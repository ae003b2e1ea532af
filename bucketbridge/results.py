"""ResultList: one page of a listing, with the marker that fetches the next."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


class ResultList(list[T]):
    """A list of results that knows whether more pages follow.

    Paging is always done by the server: ``marker`` is opaque, pass it back as
    ``list(marker=...)`` to get the next page; it is None on the last page.
    """

    def __init__(self, items: Iterable[T] = (), marker: str | None = None) -> None:
        super().__init__(items)
        self.marker = marker

    @property
    def is_truncated(self) -> bool:
        return self.marker is not None

    @property
    def supports_server_paging(self) -> bool:
        return True

    @property
    def supports_total(self) -> bool:
        return False

    @property
    def total_results(self) -> int | None:
        """Unknown: the server pages and never tells the total."""
        return None

    @property
    def data(self) -> list[T]:
        return list(self)

    def __repr__(self) -> str:
        return f"ResultList({list.__repr__(self)}, marker={self.marker!r})"
