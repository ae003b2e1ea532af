"""The GCS client's retry stops after ``max_attempts`` tries in all (the
SDK's own policy counts time only). Pure logic: a function that fails."""

from __future__ import annotations

import pytest
from google.api_core.exceptions import NotFound, ServiceUnavailable

from bucketbridge.drivers.gcs.client import retry_policy


@pytest.mark.parametrize("max_attempts", [1, 3])
def test_transient_errors_are_tried_max_attempts_times(max_attempts: int) -> None:
    calls = []

    def failing() -> None:
        calls.append(1)
        raise ServiceUnavailable("busy")

    with pytest.raises(ServiceUnavailable):
        retry_policy(max_attempts)(failing)()
    assert len(calls) == max_attempts


def test_other_errors_are_not_retried() -> None:
    calls = []

    def missing() -> None:
        calls.append(1)
        raise NotFound("gone")

    with pytest.raises(NotFound):
        retry_policy(5)(missing)()
    assert len(calls) == 1
