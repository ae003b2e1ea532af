"""Swift's own meanings of a few statuses; every other status and network
failure is :mod:`..http_errors`'. Messages name the token's role, never the token."""

from __future__ import annotations

import socket

from keystoneauth1.exceptions.base import ClientException as KeystoneError
from keystoneauth1.exceptions.connection import ConnectionError as KeystoneConnectionError
from keystoneauth1.exceptions.http import HttpError as KeystoneHttpError
from requests.exceptions import RequestException
from swiftclient.exceptions import ClientException
from urllib3.exceptions import HTTPError as Urllib3Error

from ...errors import (
    BucketBridgeException,
    InvalidConfigurationException,
    InvalidValueException,
    PermissionDeniedException,
    ProviderInternalException,
)
from ..http_errors import Subject, error_for_status, network_error

NETWORK_ERRORS = (RequestException, Urllib3Error, socket.error, KeystoneConnectionError)
SWIFT_ERRORS = (ClientException, KeystoneError, *NETWORK_ERRORS)

TOKEN_HINTS = {
    "token": "the token (os_auth_token) has expired or is invalid: get a new one"
    " (openstack token issue, or swift auth) with its storage URL",
    "v1": "check os_username and os_password",
    "keystone": "check the Keystone credentials (os_username/os_password or the"
    " application credential) and the project's roles",
}


def translate(
    error: BaseException, subject: Subject, mode: str, attempts: int = 1
) -> BucketBridgeException:
    """The bucketbridge exception for a swiftclient (or requests) error;
    ``mode`` is how the driver authenticates, for the hint of a refusal."""
    if isinstance(error, ClientException):
        status = error.http_status
        if status is None:  # swiftclient's own refusal before any request: bad auth setup
            if "auth" in str(error.msg).lower():
                return PermissionDeniedException(
                    f"Swift authentication failed: {error.msg}; {TOKEN_HINTS[mode]}"
                )
            return InvalidConfigurationException(f"Swift client: {error.msg}")
        return status_error(status, str(error.http_reason or ""), subject, mode, attempts)
    if isinstance(error, KeystoneHttpError):  # Keystone refused the credentials, or failed
        return error_for_status(
            error.http_status or 500,
            subject,
            message=str(error.message or ""),
            denied_hint=TOKEN_HINTS[mode],
        )
    if isinstance(error, NETWORK_ERRORS):
        return network_error(error, subject)
    if isinstance(error, KeystoneError):  # no object-store endpoint, a bad auth plugin setup
        return InvalidConfigurationException(f"Keystone: {error}")
    return ProviderInternalException(
        f"Swift request on {subject.describe()} failed: {type(error).__name__}"
    )


def status_error(
    status: int, reason: str, subject: Subject, mode: str, attempts: int = 1
) -> BucketBridgeException:
    """The exception for a Swift error status, whichever client got it
    (swiftclient's ClientException, or the lean data plane's response)."""
    if status == 401 and mode == "token":
        return PermissionDeniedException(
            f"Swift endpoint {subject.endpoint} refused the token for"
            f" {subject.describe()}: {TOKEN_HINTS['token']}"
        )
    if status == 413:
        return InvalidValueException(
            "size", subject.describe(), "larger than the Swift server accepts in one request"
        )
    return error_for_status(
        status, subject, message=reason, attempts=attempts, denied_hint=TOKEN_HINTS[mode]
    )
