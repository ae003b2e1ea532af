"""What one bulk call (``copy``, ``get``, ``put``, ``rm``) has already learnt.

fsspec's generic bulk calls list the source once (``expand_path``), then ask
``isdir``/``info`` of every path they listed -- a HEAD, and for a miss a LIST,
per path, when the listing already said what each path is. A scope keeps the
entries the listings and lookups of one such call returned, for that call
only: nothing outlives it, so no other writer's change is hidden longer than
fsspec's own call takes, and this filesystem's own writes inside it drop what
they change (``forget``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any


class Scopes:
    """The open scope of each thread (a filesystem may be shared by threads)."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextlib.contextmanager
    def opened(self) -> Iterator[None]:
        """A scope for the call; a call inside another's shares the outer one."""
        if getattr(self._local, "entries", None) is not None:
            yield
            return
        self._local.entries = {}
        try:
            yield
        finally:
            self._local.entries = None

    def _entries(self) -> dict[str, dict[str, Any]] | None:
        entries: dict[str, dict[str, Any]] | None = getattr(self._local, "entries", None)
        return entries

    def known(self, path: str) -> dict[str, Any] | None:
        entries = self._entries()
        return None if entries is None else entries.get(path)

    def remember(self, entry: dict[str, Any]) -> None:
        """Keep ``entry`` (an ``info`` dict); a file wins over a directory of
        the same name, as ``info`` answers the object first."""
        entries = self._entries()
        if entries is None:
            return
        name = entry["name"]
        if entry["type"] == "file" or name not in entries:
            entries[name] = entry

    def forget(self, path: str) -> None:
        """``path`` was written or deleted: drop it, and its parents, which a
        delete may have emptied."""
        entries = self._entries()
        if entries is None:
            return
        while path:
            entries.pop(path, None)
            path = path.rpartition("/")[0]
