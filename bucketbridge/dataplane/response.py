"""A response's headers as the drivers read them: http.client's ``HTTPMessage``.

``http.client.parse_headers`` runs every response's headers through
``email.parser``: measured, that was the largest single cost of a HEAD on
the lean plane (~3x the SigV4 signature). :mod:`.http11` splits the header
lines itself and stores them here, in the same ``HTTPMessage`` the SDK
path's code and the drivers read (``get``, ``items``, ``get_all``).
"""

from __future__ import annotations

import http.client
from collections.abc import Mapping
from email.policy import compat32
from typing import Any


class FastMessage(http.client.HTTPMessage):
    """http.client's header message, read without the policy's call per value,
    and split into headers only when something asks for all of them.

    Under the compat32 policy, every ``get`` and ``items`` passes each value
    through ``_sanitize_header``, which only changes a str holding surrogate
    escapes. Values decoded from ISO-8859-1 never hold one, so the values
    stored are returned as they are.

    A head of plain CRLF lines without folding (every server here sends
    one) is kept as received (:meth:`of_block`): ``get`` finds its header
    with one search of the lower-cased block, the first value of that name
    as the split would give it, and the (name, value) list and the index of
    every name are made only when something reads them all (``items``,
    :meth:`index`, any change). A request's handling reads a few headers of
    ten to twenty: splitting and indexing all of them was ~9 of the 12
    CPU-us it took to read a SeaweedFS HEAD's head (bench/results.md,
    session 15)."""

    # Message.__init__'s defaults, as class attributes: every response makes
    # a message, and only its headers and defects list need be its own.
    # Assigning any of the others sets it on the instance, as
    # Message.__init__ would have.
    policy = compat32
    _unixfrom = None
    _payload = None
    _charset = None
    preamble = None
    epilogue = None
    _default_type = "text/plain"

    _block: str | None = None
    """The header lines as received, after a leading CRLF (so that every
    header's name follows one), while nothing has split them."""
    _lowered: str | None = None
    """``_block`` lower-cased (the same length: ISO-8859-1 text), made at the first ``get``."""
    _split: list[tuple[str, str]] | None = None
    _index: dict[str, str] | None = None
    """The first value of each header by lower-case name; dropped by any
    change to the headers."""

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        """``headers`` as received (name, value); their index is made when
        first needed."""
        self._split = headers
        self.defects: list[Any] = []

    @classmethod
    def of_block(cls, block: str) -> FastMessage:
        """The message of the header lines ``block`` (joined by CRLF, none
        folded), split when first needed."""
        message = cls.__new__(cls)
        message._block = "\r\n" + block if block else ""
        message.defects = []
        return message

    @property
    def _headers(self) -> list[tuple[str, str]]:
        """Message's own list of (name, value), split from the block at first use."""
        headers = self._split
        if headers is None:
            block = self._block or ""
            # as the email package keeps them: the name as sent, the value
            # without its leading blanks (trailing ones stay)
            headers = self._split = [
                (name, value.lstrip(" \t"))
                for name, colon, value in (line.partition(":") for line in block.split("\r\n")[1:])
                if colon  # a line with no colon names no header (http.client stops there)
            ]
        return headers

    @_headers.setter
    def _headers(self, headers: list[tuple[str, str]]) -> None:
        self._changed()
        self._split = headers

    def _changed(self) -> None:
        """Before a change: the list made (it is what changes), the block
        and the index no longer what the headers say."""
        self._split = self._headers
        self._block = self._lowered = self._index = None

    def index(self) -> dict[str, str]:
        """The first value of each header by lower-case name (made once)."""
        index = self._index
        if index is None:
            index = self._index = {name.lower(): value for name, value in reversed(self._headers)}
        return index

    def get(self, name: str, failobj: Any = None) -> Any:
        index = self._index
        if index is not None:
            return index.get(name.lower(), failobj)
        block = self._block
        if block is not None and self._searchable(block):
            lowered = self._lowered or ""
            key = f"\r\n{name.lower()}:"
            found = lowered.find(key)
            if found < 0:
                return failobj
            start = found + len(key)
            end = block.find("\r\n", start)
            return block[start : end if end >= 0 else None].lstrip(" \t")
        return self.index().get(name.lower(), failobj)

    def _searchable(self, block: str) -> bool:
        """Whether ``block`` can be searched lower-cased (made once): its
        offsets are the block's, as ISO-8859-1 text lowers character for
        character; a block that would not is split instead."""
        if self._lowered is not None:
            return True
        lowered = block.lower()
        if len(lowered) != len(block):
            self._changed()  # the split list stands for the block from now on
            return False
        self._lowered = lowered
        return True

    def with_prefix(self, prefix: str) -> dict[str, str]:
        """The first value of each header whose lower-case name starts with
        ``prefix`` (lower case), by that name without it: S3's user
        metadata, found in the block without splitting every header."""
        block = self._block
        if self._index is not None or block is None or not self._searchable(block):
            return prefixed(self.index(), prefix)
        lowered = self._lowered or ""
        found: dict[str, str] = {}
        marker = f"\r\n{prefix}"
        at = lowered.find(marker)
        while at >= 0:
            start = at + len(marker)
            end = lowered.find("\r\n", start)
            if end < 0:
                end = len(lowered)
            colon = lowered.find(":", start, end)
            if colon >= 0:  # a line without one names no header
                found.setdefault(lowered[start:colon], block[colon + 1 : end].lstrip(" \t"))
            at = lowered.find(marker, end)
        return found

    def __setitem__(self, name: str, value: Any) -> None:
        self._changed()
        super().__setitem__(name, value)

    def __delitem__(self, name: str) -> None:
        self._changed()
        super().__delitem__(name)

    def replace_header(self, name: str, value: Any) -> None:
        self._changed()
        super().replace_header(name, value)

    def set_raw(self, name: str, value: Any) -> None:
        self._changed()
        super().set_raw(name, value)

    def add_header(self, _name: str, _value: str, **params: Any) -> None:
        self._changed()
        super().add_header(_name, _value, **params)

    def items(self) -> list[tuple[str, Any]]:
        return list(self._headers)

    def values(self) -> list[Any]:
        return [value for _, value in self._headers]


def prefixed(index: Mapping[str, str], prefix: str) -> dict[str, str]:
    """The values of ``index`` (headers by lower-case name) whose name
    starts with ``prefix`` (lower case), by that name without it."""
    return {name[len(prefix) :]: value for name, value in index.items() if name.startswith(prefix)}
