"""Azure Blob Storage's own error codes; statuses and network failures are
:mod:`..http_errors`'. Credentials are named by the account only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import (
    BucketBridgeException,
    DuplicateResourceException,
    InvalidNameException,
    InvalidValueException,
    NotFoundException,
    PermissionDeniedException,
    PreconditionFailedException,
    ProviderInternalException,
)
from ..http_errors import Subject, error_for_status, network_error
from ..lazy import SdkErrors

if TYPE_CHECKING:
    import azure.core.exceptions as sdk
    from azure.core.exceptions import HttpResponseError
else:
    # azure-core's classes once the SDK path loaded it; until then nothing
    # raised them (the lean plane raises bucketbridge's own)
    sdk = SdkErrors("azure.core.exceptions")


def network_errors() -> tuple[type[Exception], ...]:
    return (
        sdk.ServiceRequestError,
        sdk.ServiceResponseError,
        sdk.IncompleteReadError,
        sdk.DecodeError,
        sdk.StreamClosedError,
        OSError,
    )


def sdk_errors() -> tuple[type[Exception], ...]:
    """What a call through the SDK raises: azure-core's errors, and a
    network failure while a body streams."""
    return (sdk.AzureError, *network_errors())


DENIED = frozenset(
    {
        "AuthenticationFailed",
        "AuthorizationFailure",
        "AuthorizationPermissionMismatch",
        "AuthorizationResourceTypeMismatch",
        "AuthorizationServiceMismatch",
        "AuthorizationProtocolMismatch",
        "AuthorizationSourceIPMismatch",
        "InsufficientAccountPermissions",
        "AccountIsDisabled",
        "NoAuthenticationInformation",
        "InvalidAuthenticationInfo",
    }
)
BAD_NAMES = frozenset({"InvalidResourceName", "OutOfRangeInput", "InvalidUri"})
BUSY = frozenset({"ServerBusy", "OperationTimedOut", "InternalError"})


def error_code(error: HttpResponseError) -> str:
    code: Any = getattr(error, "error_code", None)  # set by the storage SDK only
    if code is None and error.response is not None:
        code = getattr(error.response, "headers", {}).get("x-ms-error-code")
    return str(getattr(code, "value", code) or "")


def status_of(error: HttpResponseError) -> int:
    return int(error.status_code or 0)


def translate(error: Exception, subject: Subject, auth: str) -> BucketBridgeException:
    """The bucketbridge exception for an azure-core error. ``auth`` names the
    kind of credentials used, for the hint of a refusal."""
    if isinstance(error, sdk.HttpResponseError) and error.status_code:
        return _response_error(error, subject, auth)
    if isinstance(error, sdk.ClientAuthenticationError):
        # no HTTP status: azure-identity could not get a token at all
        return PermissionDeniedException(
            f"no Azure credentials for {subject.describe()}: {_first_line(error)};"
            " set azure_account_key, azure_sas_token, azure_connection_string or a service"
            " principal (azure_client_id, azure_secret, azure_tenant)"
        )
    if isinstance(error, network_errors()) or _lost_connection(error):
        return network_error(error, subject)
    if isinstance(error, sdk.AzureError):
        return ProviderInternalException(
            f"Azure Blob request on {subject.describe()} failed: {_first_line(error)}"
        )
    return ProviderInternalException(
        f"Azure Blob request on {subject.describe()} failed: {type(error).__name__}: {error}"
    )


def _lost_connection(error: Exception) -> bool:
    """azure-core wraps a connection that broke while a body streamed (a
    reset, a read timeout) in an HttpResponseError with no status; the
    network error is in its ``inner_exception`` or chain."""
    if not isinstance(error, sdk.HttpResponseError) or error.status_code:
        return False
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) or type(current).__module__.startswith(
            ("requests.", "urllib3.")
        ):
            return True
        inner = getattr(current, "inner_exception", None)
        current = (
            inner
            if isinstance(inner, BaseException)
            else (current.__cause__ or current.__context__)
        )
    return False


def _response_error(error: HttpResponseError, subject: Subject, auth: str) -> BucketBridgeException:
    return response_error(status_of(error), error_code(error), _first_line(error), subject, auth)


def response_error(
    status: int, code: str, message: str, subject: Subject, auth: str
) -> BucketBridgeException:
    """The bucketbridge exception for an error response: its status, its
    ``x-ms-error-code`` and the first line of its message. The SDK path and
    the lean plane (:mod:`.wire`) both come here, so a refusal is the same
    exception whichever sent the request."""
    what = subject.describe()
    if code == "ContainerNotFound":
        return NotFoundException(f"bucket {subject.bucket!r} does not exist")
    if code == "BlobNotFound":
        return NotFoundException(f"{what} does not exist")
    if code == "ContainerAlreadyExists":
        return DuplicateResourceException(f"bucket {subject.bucket!r} already exists")
    if code == "ContainerBeingDeleted":
        return DuplicateResourceException(
            f"bucket {subject.bucket!r} is still being deleted; its name is free again in a"
            " few seconds"
        )
    if code == "BlobAlreadyExists":  # If-None-Match: * answered 409, not 412
        return PreconditionFailedException(f"{what} already exists")
    if code == "InvalidBlockList":
        return InvalidValueException(
            "parts", what, "a part was not uploaded, or the upload was aborted or completed"
        )
    if code == "InvalidMetadata":
        return InvalidValueException("metadata", what, "refused by Azure")
    if code in BAD_NAMES and subject.key is None and subject.bucket is not None:
        return InvalidNameException(f"bucket name {subject.bucket!r}: {code}")
    if code in DENIED or status in (401, 403):
        return PermissionDeniedException(
            f"Azure Blob endpoint {subject.endpoint} refused access to {what}"
            f" (HTTP {status}: {code or 'no code'}); {_hint(auth)}"
        )
    if code in BUSY:
        status = max(status, 503)
    return error_for_status(status, subject, code=code, message=message)


def _hint(auth: str) -> str:
    if auth == "key":
        return "check azure_storage_account and azure_account_key (or the connection string)"
    if auth == "sas":
        return "check azure_sas_token: its permissions, services and expiry"
    return (
        "check that the identity has a Storage Blob Data role on the account"
        " (Contributor to write, Reader to read)"
    )


def _first_line(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error)
    return str(message).strip().splitlines()[0] if str(message).strip() else type(error).__name__
