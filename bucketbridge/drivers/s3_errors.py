"""botocore errors mapped into bucketbridge's exceptions.

Messages name the endpoint, the bucket and key, and for refused credentials
which config key to check, identifying the credentials by their access key id
only: the secret and the session token never appear.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from ..errors import (
    BucketBridgeException,
    BucketNotEmptyException,
    DuplicateResourceException,
    InvalidConfigurationException,
    InvalidNameException,
    InvalidValueException,
    NotFoundException,
    PermissionDeniedException,
    PreconditionFailedException,
    ProviderConnectionException,
    ProviderInternalException,
)

SERVER_TROUBLE = frozenset(
    {
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
    }
)


@dataclass(frozen=True)
class Target:
    """What a request was about, for the message of its error."""

    endpoint: str
    access_key_id: Callable[[], str | None]
    bucket: str | None = None
    key: str | None = None
    session_token: bool = False

    def describe(self) -> str:
        if self.bucket is None:
            return f"S3 endpoint {self.endpoint}"
        if self.key is None:
            return f"bucket {self.bucket!r}"
        return f"object {self.key!r} in bucket {self.bucket!r}"


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def http_status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def translate(error: Exception, target: Target) -> BucketBridgeException:
    """The bucketbridge exception for a botocore (or urllib3) error."""
    if isinstance(error, ClientError):
        return _client_error(error, target)
    if isinstance(error, NoCredentialsError):
        return PermissionDeniedException(
            "no AWS credentials found: set aws_access_key and aws_secret_key"
            " (or aws_profile, or the AWS environment variables / config files)"
        )
    if isinstance(error, PartialCredentialsError):
        return InvalidConfigurationException(
            f"incomplete AWS credentials: {error} (set both aws_access_key and aws_secret_key)"
        )
    if isinstance(error, ParamValidationError):
        return InvalidValueException("request", target.describe(), str(error))
    if isinstance(
        error,
        (BotoConnectionError, HTTPClientError, IncompleteReadError, OSError),
    ):
        return ProviderConnectionException(
            f"cannot reach S3 endpoint {target.endpoint}: {_network_reason(error)}"
        )
    if isinstance(error, BotoCoreError):
        return ProviderInternalException(f"S3 request on {target.describe()} failed: {error}")
    return ProviderInternalException(
        f"S3 request on {target.describe()} failed: {type(error).__name__}: {error}"
    )


def _client_error(error: ClientError, target: Target) -> BucketBridgeException:
    code = error_code(error)
    status = http_status(error)
    message = str(error.response.get("Error", {}).get("Message", "")) or code
    what = target.describe()
    if code == "NoSuchBucket":
        return NotFoundException(f"bucket {target.bucket!r} does not exist")
    if code == "NoSuchUpload":
        return NotFoundException(f"the multipart upload of {what} was aborted or completed")
    if status == 404:
        return NotFoundException(f"{what} does not exist")
    if code == "BucketAlreadyOwnedByYou":
        return DuplicateResourceException(f"bucket {target.bucket!r} already exists and is yours")
    if code == "BucketAlreadyExists":
        return DuplicateResourceException(
            f"bucket name {target.bucket!r} is already taken by another account"
        )
    if code == "BucketNotEmpty":
        return BucketNotEmptyException(f"bucket {target.bucket!r} is not empty")
    if code in ("PreconditionFailed", "ConditionalRequestConflict") or status == 412:
        return PreconditionFailedException(f"{what} already exists (create-only write refused)")
    if code == "EntityTooSmall":
        return InvalidValueException(
            "multipart_part_size", what, "every part but the last must be at least 5 MiB"
        )
    if code in ("InvalidPart", "InvalidPartOrder"):
        return InvalidValueException("parts", what, message)
    if code == "InvalidBucketName":
        return InvalidNameException(f"bucket name {target.bucket!r}: {message}")
    if code in ("KeyTooLongError", "InvalidArgument", "InvalidRequest", "MalformedXML"):
        return InvalidValueException("request", what, f"{code}: {message}")
    if code in PERMISSION_HINTS or status == 403:
        return PermissionDeniedException(permission_message(code, target))
    if code in SERVER_TROUBLE or status >= 500:
        attempts = int(error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1
        return ProviderConnectionException(
            f"S3 endpoint {target.endpoint} kept failing on {what}: {code or 'HTTP error'}"
            f" (HTTP {status}) after {attempts} attempt(s)"
        )
    return ProviderInternalException(f"S3 refused the request on {what}: {code}: {message}")


def _key_hint(target: Target) -> str:
    key_id = _safe_key_id(target)
    return f"access key id {key_id!r}" if key_id else "the configured access key"


def _safe_key_id(target: Target) -> str | None:
    try:
        return target.access_key_id()
    except Exception:  # resolving credentials for a message must never mask the error
        return None


def _invalid_key(target: Target) -> str:
    if target.session_token:
        # temporary credentials are looked up by key id and token together
        return (
            f"S3 endpoint {target.endpoint} does not know {_key_hint(target)} with the"
            " session token given: check aws_access_key and aws_session_token"
        )
    return f"S3 endpoint {target.endpoint} does not know {_key_hint(target)}: check aws_access_key"


def _bad_signature(target: Target) -> str:
    return (
        f"S3 endpoint {target.endpoint} refused the signature made for {_key_hint(target)}:"
        " check aws_secret_key (it does not belong to that access key)"
    )


def _expired(target: Target) -> str:
    return (
        f"S3 endpoint {target.endpoint} refused the session token of {_key_hint(target)}:"
        " it has expired or is invalid; get fresh temporary credentials and set"
        " aws_session_token"
    )


def _denied(target: Target) -> str:
    return (
        f"access denied to {target.describe()} for {_key_hint(target)}: the credentials are"
        " valid but not allowed to do this (check the IAM or bucket policy)"
    )


PERMISSION_HINTS: dict[str, Callable[[Target], str]] = {
    "InvalidAccessKeyId": _invalid_key,
    "SignatureDoesNotMatch": _bad_signature,
    "ExpiredToken": _expired,
    "InvalidToken": _expired,
    "TokenRefreshRequired": _expired,
    "AccessDenied": _denied,
    "AllAccessDisabled": _denied,
    "AccountProblem": _denied,
}


def permission_message(code: str, target: Target) -> str:
    hint = PERMISSION_HINTS.get(code)
    if hint is not None:
        return hint(target)
    return (
        f"S3 endpoint {target.endpoint} refused access to {target.describe()} (HTTP 403)"
        f" for {_key_hint(target)}: check aws_access_key, aws_secret_key and the policies"
    )


def _network_reason(error: BaseException) -> str:
    """A one-line reason: the OS error deep in urllib3's chain if there is one."""
    seen: set[int] = set()
    current: Any = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return str(current.strerror).lower()
        kwargs = getattr(current, "kwargs", None)
        nested = kwargs.get("error") if isinstance(kwargs, dict) else None
        current = nested or current.__cause__ or current.__context__
    if isinstance(error, (ConnectTimeoutError,)):
        return "connection timed out"
    if isinstance(error, ReadTimeoutError):
        return "read timed out"
    if isinstance(error, (ConnectionClosedError, IncompleteReadError, ResponseStreamingError)):
        return "connection closed before the response was complete"
    return type(error).__name__
