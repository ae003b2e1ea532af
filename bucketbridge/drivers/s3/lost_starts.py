"""Which uploads a retried CreateMultipartUpload left behind.

CreateMultipartUpload (``POST ?uploads``) is not idempotent: each copy the
server carries out makes a new upload. When its answer is lost (a reset
after the server answered, a read timeout) the data plane, lean or botocore,
sends it again, and the first upload stays open for good: the transfer
knows only the id of the last, so it never aborts the first, which holds
no part but is listed by ``incomplete_uploads()`` (and billed for nothing)
until someone aborts it or a lifecycle rule does.

So a start that was sent more than once lists the key's open uploads and
aborts those an earlier copy of the request may have made. What is safe to
abort, and why (:func:`leftovers`):

- only uploads of exactly this key (a listing by prefix returns longer keys
  too);
- only those the same principal started (``Initiator``), where the server
  says: another account's upload is never ours;
- only those initiated within the attempts' window: from the time the
  first copy was sent to the new upload's creation. Both ends are read on
  the server's clock (the new upload's ``Initiated`` minus the seconds the
  attempts took, measured locally as a duration), so a skewed local clock
  changes nothing; a second of slack covers ``Initiated``'s whole seconds;
- at most one per earlier copy (``attempts - 1``), the latest first: never
  more uploads than the retries could have made.

What remains: an upload of the same key that another process with the same
credentials started within those few seconds looks the same as ours, and
may be aborted instead. Two writers racing on one key is a race already
(the last completion wins); the other writer's next part or completion
then fails loudly (NoSuchUpload), and no stored object is ever touched.
If the server does not list the new upload (nothing to place the window
on), nothing is aborted: ``abort_incomplete_uploads`` still can.

A start that got no answer at all (every copy's connection failed, the
caller is told ProviderConnectionException) holds no upload to compare
with: :func:`failed_start_leftovers` places the window on the listing's own
answer (its Date, the server's clock) and takes the key's uploads initiated
since the first copy could have been sent, at most one per copy. Without an
upload of ours there is no ``Initiator`` to match, so this is the weaker
rule: another principal's upload of the same key started in those seconds
is taken for ours (again a race on one key, failing loudly). A server that
says no Date, or no ``Initiated``, gets nothing aborted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from .control import ListedUpload

CLOCK_SLACK = timedelta(seconds=1)
"""``Initiated`` is cut to whole seconds: an upload made in the same second
as the window's start may be listed a second before it."""


def leftovers(
    uploads: Iterable[ListedUpload], key: str, upload_id: str, attempts: int, elapsed: float
) -> list[str]:
    """The ids of ``key``'s uploads that the earlier copies of a start sent
    ``attempts`` times over ``elapsed`` seconds may have made, beside
    ``upload_id``, the one it answered."""
    mine = [upload for upload in uploads if upload.key == key]
    ours = next((upload for upload in mine if upload.upload_id == upload_id), None)
    if ours is None or ours.initiated is None or attempts < 2:
        return []
    latest = ours.initiated
    earliest = latest - timedelta(seconds=math.ceil(elapsed)) - CLOCK_SLACK
    candidates = [
        (upload.initiated, upload.upload_id)
        for upload in mine
        if upload.upload_id != upload_id
        and upload.initiator == ours.initiator
        and upload.initiated is not None
        and earliest <= upload.initiated <= latest
    ]
    candidates.sort(reverse=True)  # the latest first
    return [found for _, found in candidates[: attempts - 1]]


def failed_start_leftovers(
    uploads: Iterable[ListedUpload],
    key: str,
    attempts: int,
    elapsed: float,
    answered: datetime | None,
) -> list[str]:
    """The ids of ``key``'s uploads that a start sent up to ``attempts``
    times, none answered, may have made: initiated within ``elapsed``
    seconds (from before the first copy to the listing's answer) before the
    listing's ``answered`` time."""
    if answered is None or attempts < 1:
        return []
    earliest = answered - timedelta(seconds=math.ceil(elapsed)) - CLOCK_SLACK
    latest = answered + CLOCK_SLACK
    candidates = [
        (upload.initiated, upload.upload_id)
        for upload in uploads
        if upload.key == key
        and upload.initiated is not None
        and earliest <= upload.initiated <= latest
    ]
    candidates.sort(reverse=True)  # the latest first
    return [found for _, found in candidates[:attempts]]
