"""Swift's own meanings of a few statuses; every other status and network
failure is :mod:`..http_errors`'. Messages name the token's role, never the token."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from ...errors import (
    BucketBridgeException,
    InvalidConfigurationException,
    InvalidValueException,
    PermissionDeniedException,
    ProviderInternalException,
)
from ..http_errors import Subject, error_for_status, network_error
from ..lazy import SdkErrors

if TYPE_CHECKING:
    import keystoneauth1.exceptions.base as keystone_base
    import keystoneauth1.exceptions.connection as keystone_connection
    import keystoneauth1.exceptions.http as keystone_http
    import requests.exceptions as requests_errors
    import swiftclient.exceptions as swift_sdk
    import urllib3.exceptions as urllib3_errors
else:
    # each SDK's classes once a call through it loaded it; until then nothing
    # raised them (the lean plane raises bucketbridge's own)
    keystone_base = SdkErrors("keystoneauth1.exceptions.base")
    keystone_connection = SdkErrors("keystoneauth1.exceptions.connection")
    keystone_http = SdkErrors("keystoneauth1.exceptions.http")
    requests_errors = SdkErrors("requests.exceptions")
    swift_sdk = SdkErrors("swiftclient.exceptions")
    urllib3_errors = SdkErrors("urllib3.exceptions")


def network_errors() -> tuple[type[Exception], ...]:
    return (
        requests_errors.RequestException,
        urllib3_errors.HTTPError,
        socket.error,
        keystone_connection.ConnectionError,
    )


def swift_errors() -> tuple[type[Exception], ...]:
    """What a call through swiftclient (or keystoneauth1) raises."""
    return (swift_sdk.ClientException, keystone_base.ClientException, *network_errors())


def refused_range(error: BaseException) -> bool:
    """swiftclient's 416: a range that starts at or past the end."""
    return isinstance(error, swift_sdk.ClientException) and error.http_status == 416


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
    if isinstance(error, swift_sdk.ClientException):
        status = error.http_status
        if status is None:  # swiftclient's own refusal before any request: bad auth setup
            if "auth" in str(error.msg).lower():
                return PermissionDeniedException(
                    f"Swift authentication failed: {error.msg}; {TOKEN_HINTS[mode]}"
                )
            return InvalidConfigurationException(f"Swift client: {error.msg}")
        return status_error(status, str(error.http_reason or ""), subject, mode, attempts)
    if isinstance(error, keystone_http.HttpError):  # Keystone refused the credentials, or failed
        return error_for_status(
            error.http_status or 500,
            subject,
            message=str(error.message or ""),
            denied_hint=TOKEN_HINTS[mode],
        )
    if isinstance(error, network_errors()):
        return network_error(error, subject)
    if isinstance(
        error, keystone_base.ClientException
    ):  # no object-store endpoint, a bad auth plugin setup
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
