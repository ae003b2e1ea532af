"""The exception hierarchy: every error bucketbridge raises derives from one base.

Names follow CloudBridge so code written against it keeps catching what it
caught; the classes CloudBridge lacks (not found, permission denied,
precondition failed, bucket not empty, provider not installed) are what a user
of a storage library needs to tell failures apart. A driver maps its SDK's
errors into these and keeps the SDK error as ``__cause__``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class BucketBridgeException(Exception):
    """Base class of every bucketbridge error."""


CloudBridgeBaseException = BucketBridgeException
"""CloudBridge's name for the base class, kept so existing ``except`` clauses work."""


class WaitStateException(BucketBridgeException):
    """A wait for a resource state gave up (kept for CloudBridge compatibility)."""


class InvalidConfigurationException(BucketBridgeException):
    """The provider configuration is missing a value or holds a wrong one."""


class ProviderNotInstalledException(InvalidConfigurationException):
    """The SDK a provider needs is not installed; the message names the pip extra."""


class ProviderInternalException(BucketBridgeException):
    """The provider failed in a way bucketbridge has no better name for."""


class ProviderConnectionException(BucketBridgeException):
    """The provider could not be reached, or kept failing after retries."""


class DuplicateResourceException(BucketBridgeException):
    """A bucket or object with that name already exists."""


class NotFoundException(BucketBridgeException):
    """The bucket or object does not exist (raised on reads; ``get`` returns None)."""


class PermissionDeniedException(BucketBridgeException):
    """The credentials were refused, or do not allow this operation."""


class PreconditionFailedException(BucketBridgeException):
    """A conditional request failed, e.g. create-if-absent on an existing object."""


class UploadSupersededException(BucketBridgeException):
    """Another upload committed the same object name while this multipart
    upload was in flight and, as Azure does, discarded its parts. Uploads of
    files and seekable streams are re-run by the transfer engine; this is
    raised when that kept happening, or the source could not be read again."""


class BucketNotEmptyException(BucketBridgeException):
    """A bucket still holds objects; pass ``delete_contents=True`` to remove them too."""


class InvalidValueException(BucketBridgeException):
    """A parameter has a value outside what is allowed."""

    def __init__(self, param: str, value: Any, reason: str | None = None) -> None:
        self.param = param
        self.value = value
        message = f"invalid value for {param}: {value!r}"
        if reason:
            message += f" ({reason})"
        super().__init__(message)


class InvalidNameException(BucketBridgeException):
    """A bucket or object name breaks the naming rules."""


class InvalidLabelException(InvalidNameException):
    """A label breaks the naming rules (kept for CloudBridge compatibility)."""


class InvalidParamException(InvalidNameException):
    """A method was given a parameter it does not accept."""


def wrap_foreign_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Let bucketbridge errors through; turn anything else into a
    ProviderInternalException with the original as ``__cause__``.

    The public methods wear this as a safety net: drivers map the errors they
    know, and a user never has to catch an SDK's exception type.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except BucketBridgeException:
            raise
        except Exception as error:
            raise ProviderInternalException(f"{type(error).__name__}: {error}") from error

    return wrapper
