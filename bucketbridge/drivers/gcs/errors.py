"""GCS's own errors on top of :mod:`..http_errors`: what the status alone
does not say, and the SDK's credential and network exception types."""

from __future__ import annotations

import json

import requests
from google.api_core.exceptions import GoogleAPICallError, RetryError
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.resumable_media.common import InvalidResponse
from urllib3.exceptions import HTTPError as Urllib3Error

from ...errors import (
    BucketBridgeException,
    BucketNotEmptyException,
    PermissionDeniedException,
    ProviderInternalException,
)
from ..http_errors import Subject, error_for_status, network_error

SDK_ERRORS = (GoogleAPICallError, RetryError, GoogleAuthError, InvalidResponse)
NETWORK_ERRORS = (requests.RequestException, Urllib3Error, TransportError, OSError)


def status_of(error: BaseException) -> int:
    """The HTTP status of an SDK error, 0 if it got no answer."""
    if isinstance(error, GoogleAPICallError):
        return int(error.code or 0)
    if isinstance(error, InvalidResponse):
        return int(getattr(error.response, "status_code", 0) or 0)
    return 0


def translate(
    error: BaseException, subject: Subject, *, attempts: int, who: str
) -> BucketBridgeException:
    """The bucketbridge exception for an error of google-cloud-storage (or of
    the requests session under it). ``who`` names the credentials in use."""
    if isinstance(error, RetryError) and error.cause is not None:
        return translate(error.cause, subject, attempts=attempts, who=who)
    if isinstance(error, RefreshError):
        return PermissionDeniedException(
            f"GCS credentials of {who} could not get an access token ({error}): check"
            " gcp_service_creds_file / gcp_service_creds_dict or Application Default Credentials"
        )
    status = status_of(error)
    if status == 0:
        if isinstance(error, NETWORK_ERRORS):
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
