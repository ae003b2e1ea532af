"""S3's own error codes and credential hints; statuses and network failures are
:mod:`..http_errors`'. Credentials are named by their access key id only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from botocore.exceptions import (
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ResponseStreamingError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from ...errors import (
    BucketBridgeException,
    BucketNotEmptyException,
    DuplicateResourceException,
    InvalidConfigurationException,
    InvalidNameException,
    InvalidValueException,
    NotFoundException,
    PermissionDeniedException,
    ProviderInternalException,
)
from ..http_errors import Subject, error_for_status, network_error
from ..lazy import SdkErrors

# urllib3 (~50 ms of a command's start-up) is botocore's transport: its
# errors exist once the SDK path has loaded it, and matter only then
_urllib3 = SdkErrors("urllib3.exceptions")


def network_errors() -> tuple[type[Exception], ...]:
    """What a request that got no answer raises, on either plane (urllib3's
    HTTPError only once botocore has loaded it)."""
    return (
        BotoConnectionError,
        HTTPClientError,
        IncompleteReadError,
        ResponseStreamingError,
        cast("type[Exception]", _urllib3.HTTPError),
        OSError,
    )


THROTTLED = frozenset({"SlowDown", "RequestTimeout", "Throttling", "RequestLimitExceeded"})


@dataclass(frozen=True)
class Credentials:
    """Which credentials a request used, for the hint of a refusal."""

    access_key_id: Callable[[], str | None]
    session_token: bool

    def named(self) -> str:
        try:
            key_id = self.access_key_id()
        except Exception:  # resolving credentials for a message must never mask the error
            key_id = None
        return f"access key id {key_id!r}" if key_id else "the configured access key"


class S3ResponseError(Exception):
    """An S3 error response read by the lean data plane (:mod:`.wire`): what
    botocore's ClientError carries, for the same mapping, and chained as the
    bucketbridge exception's cause as a ClientError is on the SDK path."""

    def __init__(self, status: int, code: str, message: str, attempts: int) -> None:
        super().__init__(f"HTTP {status} {code}: {message}" if message else f"HTTP {status} {code}")
        self.status = status
        self.code = code
        self.message = message
        self.attempts = attempts


ErrorResponse = (ClientError, S3ResponseError)
"""An S3 error response, from either data plane."""


def error_code(error: ClientError | S3ResponseError) -> str:
    if isinstance(error, S3ResponseError):
        return error.code
    return str(error.response.get("Error", {}).get("Code", ""))


def http_status(error: ClientError | S3ResponseError) -> int:
    if isinstance(error, S3ResponseError):
        return error.status
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def times_sent(error: ClientError | S3ResponseError) -> int:
    """How many times the request was sent before this answer."""
    if isinstance(error, S3ResponseError):
        return error.attempts
    return int(error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1


def translate(error: Exception, subject: Subject, who: Credentials) -> BucketBridgeException:
    """The bucketbridge exception for a botocore (or urllib3) error, or an
    error response of the lean data plane."""
    if isinstance(error, S3ResponseError):
        return from_response(error.status, error.code, error.message, error.attempts, subject, who)
    if isinstance(error, ClientError):
        message = str(error.response.get("Error", {}).get("Message", ""))
        return from_response(
            http_status(error), error_code(error), message, times_sent(error), subject, who
        )
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
        return InvalidValueException("request", subject.describe(), str(error))
    if isinstance(error, network_errors()):
        return network_error(error, subject)
    return ProviderInternalException(
        f"S3 request on {subject.describe()} failed: {type(error).__name__}: {error}"
    )


def from_response(
    status: int, code: str, message: str, attempts: int, subject: Subject, who: Credentials
) -> BucketBridgeException:
    """The bucketbridge exception for an S3 error response: its HTTP status,
    the ``<Code>`` and ``<Message>`` of its body (a HEAD's, which has none,
    as botocore names it: the status as the code), and how many times the
    request was sent."""
    what = subject.describe()
    if code == "NoSuchBucket":
        return NotFoundException(f"bucket {subject.bucket!r} does not exist")
    if code == "NoSuchUpload":
        return NotFoundException(f"the multipart upload of {what} was aborted or completed")
    if code == "BucketAlreadyOwnedByYou":
        return DuplicateResourceException(f"bucket {subject.bucket!r} already exists and is yours")
    if code == "BucketAlreadyExists":
        return DuplicateResourceException(
            f"bucket name {subject.bucket!r} is already taken by another account"
        )
    if code == "BucketNotEmpty":
        return BucketNotEmptyException(f"bucket {subject.bucket!r} is not empty")
    if code == "EntityTooSmall":
        return InvalidValueException(
            "multipart_part_size", what, "every part but the last must be at least 5 MiB"
        )
    if code in ("InvalidPart", "InvalidPartOrder"):
        return InvalidValueException("parts", what, message or code)
    if code == "InvalidBucketName":
        return InvalidNameException(f"bucket name {subject.bucket!r}: {message or code}")
    if code in PERMISSION_HINTS or status in (401, 403):
        hint = PERMISSION_HINTS.get(code, _check_all)
        return PermissionDeniedException(f"{what}: {hint(subject, who)}")
    if code in THROTTLED:
        status = max(status, 503)
    return error_for_status(status, subject, code=code, message=message, attempts=attempts)


def _invalid_key(subject: Subject, who: Credentials) -> str:
    if who.session_token:  # temporary credentials are looked up by key id and token together
        return (
            f"S3 endpoint {subject.endpoint} does not know {who.named()} with the session token"
            " given: check aws_access_key and aws_session_token"
        )
    return f"S3 endpoint {subject.endpoint} does not know {who.named()}: check aws_access_key"


def _bad_signature(subject: Subject, who: Credentials) -> str:
    return (
        f"S3 endpoint {subject.endpoint} refused the signature made for {who.named()}:"
        " check aws_secret_key (it does not belong to that access key)"
    )


def _expired(subject: Subject, who: Credentials) -> str:
    return (
        f"S3 endpoint {subject.endpoint} refused the session token of {who.named()}: it has"
        " expired or is invalid; get fresh temporary credentials and set aws_session_token"
    )


def _denied(subject: Subject, who: Credentials) -> str:
    return (
        f"access denied for {who.named()}: the credentials are valid but not allowed to do"
        " this (check the IAM or bucket policy)"
    )


def _check_all(subject: Subject, who: Credentials) -> str:
    return (
        f"S3 endpoint {subject.endpoint} refused access (HTTP 403) for {who.named()}:"
        " check aws_access_key, aws_secret_key and the policies"
    )


PERMISSION_HINTS: dict[str, Callable[[Subject, Credentials], str]] = {
    "InvalidAccessKeyId": _invalid_key,
    "SignatureDoesNotMatch": _bad_signature,
    "ExpiredToken": _expired,
    "InvalidToken": _expired,
    "TokenRefreshRequired": _expired,
    "AccessDenied": _denied,
    "AllAccessDisabled": _denied,
    "AccountProblem": _denied,
}


def permission_denied(code: str, subject: Subject, who: Credentials) -> PermissionDeniedException:
    """A refusal known only by its code (a HEAD's 403 has no body; see the driver)."""
    hint = PERMISSION_HINTS.get(code, _check_all)
    return PermissionDeniedException(f"{subject.describe()}: {hint(subject, who)}")
