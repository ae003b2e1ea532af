"""A response's headers as the drivers read them: http.client's ``HTTPMessage``.

``http.client.parse_headers`` runs every response's headers through
``email.parser``: measured, that was the largest single cost of a HEAD on
the lean plane (~3x the SigV4 signature). :mod:`.http11` splits the header
lines itself and stores them here, in the same ``HTTPMessage`` the SDK
path's code and the drivers read (``get``, ``items``, ``get_all``).
"""

from __future__ import annotations

import http.client
from email.policy import compat32
from typing import Any


class FastMessage(http.client.HTTPMessage):
    """http.client's header message, read without the policy's call per value.

    Under the compat32 policy, every ``get`` and ``items`` passes each value
    through ``_sanitize_header``, which only changes a str holding surrogate
    escapes. Values decoded from ISO-8859-1 never hold one, so the values
    stored are returned as they are (the drivers read every response's
    headers this way: a few calls per request)."""

    _index: dict[str, str] | None = None
    """The first value of each header by lower-case name, made by
    :class:`.http11.RawResponse` (a request's handling asks a few headers:
    each scan lowered every name); dropped by any change to the headers."""

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

    def __init__(self, headers: list[tuple[str, str]], index: dict[str, str]) -> None:
        """``headers`` as received (name, value), ``index`` the first value
        of each by lower-case name."""
        self._headers = headers
        self._index = index
        self.defects: list[Any] = []

    def get(self, name: str, failobj: Any = None) -> Any:
        index = self._index
        if index is not None:
            return index.get(name.lower(), failobj)
        name = name.lower()
        for key, value in self._headers:
            if key.lower() == name:
                return value
        return failobj

    def __setitem__(self, name: str, value: Any) -> None:
        self._index = None
        super().__setitem__(name, value)

    def __delitem__(self, name: str) -> None:
        self._index = None
        super().__delitem__(name)

    def replace_header(self, name: str, value: Any) -> None:
        self._index = None
        super().replace_header(name, value)

    def set_raw(self, name: str, value: Any) -> None:
        self._index = None
        super().set_raw(name, value)

    def add_header(self, _name: str, _value: str, **params: Any) -> None:
        self._index = None
        super().add_header(_name, _value, **params)

    def items(self) -> list[tuple[str, Any]]:
        return list(self._headers)

    def values(self) -> list[Any]:
        return [value for _, value in self._headers]
