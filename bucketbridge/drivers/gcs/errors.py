"""GCS's own errors on top of :mod:`..http_errors`: what the status alone
does not say, and the SDK's credential and network exception types."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ...errors import (
    BucketBridgeException,
    BucketNotEmptyException,
    PermissionDeniedException,
    ProviderInternalException,
)
from ..http_errors import Subject, error_for_status, network_error
from ..lazy import SdkErrors

if TYPE_CHECKING:
    import google.api_core.exceptions as api_core
    import google.auth.exceptions as auth
    import google.resumable_media.common as media
    import requests.exceptions as requests_errors
    import urllib3.exceptions as urllib3_errors
else:
    # each library's classes once a call through the SDK (or a token refresh)
    # loaded it; until then nothing raised them (the lean plane raises
    # bucketbridge's own)
    api_core = SdkErrors("google.api_core.exceptions")
    auth = SdkErrors("google.auth.exceptions")
    media = SdkErrors("google.resumable_media.common")
    requests_errors = SdkErrors("requests.exceptions")
    urllib3_errors = SdkErrors("urllib3.exceptions")


def sdk_errors() -> tuple[type[Exception], ...]:
    """What google-cloud-storage and google-auth raise, network failures
    under them included."""
    return (
        api_core.GoogleAPICallError,
        api_core.RetryError,
        auth.GoogleAuthError,
        media.InvalidResponse,
        *network_errors(),
    )


def network_errors() -> tuple[type[Exception], ...]:
    return (
        requests_errors.RequestException,
        urllib3_errors.HTTPError,
        auth.TransportError,
        OSError,
    )


def status_of(error: BaseException) -> int:
    """The HTTP status of an SDK error, 0 if it got no answer."""
    if isinstance(error, api_core.GoogleAPICallError):
        return int(error.code or 0)
    if isinstance(error, media.InvalidResponse):
        return int(getattr(error.response, "status_code", 0) or 0)
    return 0


def translate(
    error: BaseException, subject: Subject, *, attempts: int, who: str
) -> BucketBridgeException:
    """The bucketbridge exception for an error of google-cloud-storage (or of
    the requests session under it). ``who`` names the credentials in use."""
    if isinstance(error, api_core.RetryError) and error.cause is not None:
        return translate(error.cause, subject, attempts=attempts, who=who)
    if isinstance(error, auth.RefreshError):
        return PermissionDeniedException(
            f"GCS credentials of {who} could not get an access token ({error}): check"
            " gcp_service_creds_file / gcp_service_creds_dict or Application Default Credentials"
        )
    status = status_of(error)
    if status == 0:
        if isinstance(error, network_errors()):
            return network_error(error, subject)
        return ProviderInternalException(
            f"GCS request on {subject.describe()} failed: {type(error).__name__}: {error}"
        )
    message = str(getattr(error, "message", "") or "")
    return status_error(
        status, subject, reason=_reason(error), message=message, attempts=attempts, who=who
    )


def status_error(
    status: int, subject: Subject, *, reason: str, message: str, attempts: int, who: str
) -> BucketBridgeException:
    """The exception for a GCS error response, whichever client got it (the
    SDK's exception, or a lean-plane response read by :func:`parse_error_body`)."""
    if status in (409, 412) and subject.key is None and "empty" in message.lower():
        # GCS answers 409 "The bucket you tried to delete is not empty"; a 409
        # elsewhere is a name already taken
        return BucketNotEmptyException(f"bucket {subject.bucket!r} is not empty")
    return error_for_status(
        status,
        subject,
        code=reason,
        message=message,
        attempts=attempts,
        denied_hint=f"check the roles of {who} on this bucket (storage.objectAdmin)",
    )


def parse_error_body(body: bytes) -> tuple[str, str]:
    """``(reason, message)`` of a JSON API error body
    (``{"error": {"message": ..., "errors": [{"reason": ...}]}}``), as
    google-api-core reads it for the SDK; a body that is not JSON (a proxy's,
    fake-gcs-server's media 404) is the message."""
    try:
        error = json.loads(body).get("error") or {}
    except (ValueError, AttributeError):
        return "", body.decode("utf-8", "replace").strip()[:200]
    if not isinstance(error, dict):
        return "", str(error)[:200]
    reason = next(
        (
            str(item["reason"])
            for item in error.get("errors") or []
            if isinstance(item, dict) and item.get("reason")
        ),
        "",
    )
    return reason, str(error.get("message") or "")


def _reason(error: BaseException) -> str:
    """GCS's machine-readable reason (``notFound``, ``conflict``, ...)."""
    for item in getattr(error, "errors", None) or []:
        if isinstance(item, dict) and item.get("reason"):
            return str(item["reason"])
    return ""
