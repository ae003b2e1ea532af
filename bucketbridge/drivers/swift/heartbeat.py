"""The answer to a server-side copy sent with ``?heartbeat=on``.

A segment's copy can be as large as ``max_file_size`` (5 GiB), and Swift
answers a plain copy only once it is done: longer than any sensible
``read_timeout``. With ``heartbeat=on`` (Swift's copy middleware, 2.38 as
tried on tests/servers/swift.py) the proxy answers ``202 Accepted`` at once,
sends a space every ``yield_frequency`` seconds (10 by default) while it
copies, then a body with the real outcome; asked with ``Accept:
application/json`` that body is::

    {"Response Status": "201 Created", "Response Body": "", "Etag": "...",
     "Last-Modified": "...", "X-Copied-From": "...", ..., "Errors": []}

So the read timeout applies between spaces, not to the whole copy. A copy
refused before it starts (the source missing, or not matching
``If-Match``) still gets its plain status, not 202.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from ...errors import ProviderConnectionException

QUERY = [("heartbeat", "on")]


@dataclass(frozen=True)
class Outcome:
    status: int
    reason: str
    headers: Mapping[str, str]  # names lower-cased, values as Swift sent them


def parse(body: bytes) -> Outcome:
    """The copy's outcome from a heartbeat body (leading spaces and all)."""
    try:
        answer = json.loads(body)
        status_line = str(answer.pop("Response Status"))
        code, _, reason = status_line.partition(" ")
        status = int(code)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        # a body cut short (the proxy died mid-copy) or not Swift's
        shown = body.strip()[:200].decode("utf-8", "replace")
        raise ProviderConnectionException(
            f"Swift's heartbeat answer to a copy had no status: {shown!r}"
        ) from error
    detail = str(answer.get("Response Body") or "").strip()
    headers = {
        str(name).lower(): str(value)
        for name, value in answer.items()
        if name not in ("Response Body", "Errors")
    }
    return Outcome(status, f"{reason}: {detail}" if detail else reason, headers)
