"""Which uploads a retried start may abort (drivers/s3/lost_starts.py):
pure logic, on listings written by hand. The fault suite proves the whole
path on real servers (tests/conformance/test_faults.py,
``test_a_multipart_start_whose_response_was_lost_leaves_no_upload_open``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bucketbridge.drivers.s3.control import ListedUpload
from bucketbridge.drivers.s3.lost_starts import failed_start_leftovers, leftovers

KEY = "dir/a.bin"
NOW = datetime(2026, 11, 28, 10, 0, 0, tzinfo=timezone.utc)
ME, OTHER = "me", "someone-else"


def _upload(
    upload_id: str, *, key: str = KEY, ago: float = 0.0, who: str | None = ME
) -> ListedUpload:
    return ListedUpload(key, upload_id, NOW - timedelta(seconds=ago), who)


def test_the_upload_an_earlier_attempt_made_is_found() -> None:
    listed = [_upload("lost", ago=1), _upload("ours")]
    assert leftovers(listed, KEY, "ours", attempts=2, elapsed=0.5) == ["lost"]


def test_a_start_sent_once_aborts_nothing() -> None:
    listed = [_upload("lost", ago=1), _upload("ours")]
    assert leftovers(listed, KEY, "ours", attempts=1, elapsed=0.5) == []


def test_other_keys_other_principals_and_older_uploads_are_left_alone() -> None:
    listed = [
        _upload("longer-key", key=KEY + ".other"),
        _upload("another-principal", who=OTHER),
        _upload("before-the-first-attempt", ago=10),
        _upload("ours"),
    ]
    assert leftovers(listed, KEY, "ours", attempts=3, elapsed=2.0) == []


def test_no_more_than_the_earlier_attempts_could_have_made_the_latest_first() -> None:
    listed = [_upload("a", ago=2), _upload("b", ago=1), _upload("c", ago=0), _upload("ours")]
    assert leftovers(listed, KEY, "ours", attempts=3, elapsed=2.0) == ["c", "b"]


def test_nothing_is_aborted_when_the_new_upload_is_not_listed() -> None:
    """Without its Initiated there is no window on the server's clock."""
    assert leftovers([_upload("lost")], KEY, "ours", attempts=2, elapsed=1.0) == []
    undated = ListedUpload(KEY, "ours", None, ME)
    assert leftovers([_upload("lost"), undated], KEY, "ours", attempts=2, elapsed=1.0) == []


# --- a start no copy of which was answered: the window ends at the listing's Date


def test_a_failed_start_takes_the_keys_uploads_of_its_window_at_most_one_per_copy() -> None:
    listed = [
        _upload("first", ago=3),
        _upload("second", ago=2),
        _upload("third", ago=1),
        _upload("longer-key", key=KEY + ".other", ago=1),
        _upload("long-before", ago=60),
    ]
    got = failed_start_leftovers(listed, KEY, attempts=2, elapsed=3.0, answered=NOW)
    assert got == ["third", "second"]


def test_a_failed_start_aborts_nothing_when_the_server_gives_no_date() -> None:
    listed = [_upload("lost", ago=1)]
    assert failed_start_leftovers(listed, KEY, attempts=3, elapsed=3.0, answered=None) == []
