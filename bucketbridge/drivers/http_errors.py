"""HTTP status and network failures mapped to bucketbridge exceptions, once for every driver.

A driver turns its SDK's error into ``(status, code, message)`` and calls
:func:`error_for_status`, or, for a failure below HTTP, :func:`network_error`.
It handles first only the codes that mean something more precise than their
status (S3's ``BucketNotEmpty`` is a 409 like ``BucketAlreadyExists``). Every
message names the subject (endpoint, bucket, object); none names a secret.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any, NamedTuple

from ..errors import (
    BucketBridgeException,
    DuplicateResourceException,
    InvalidValueException,
    NotFoundException,
    PermissionDeniedException,
    PreconditionFailedException,
    ProviderConnectionException,
    ProviderInternalException,
)


class Subject(NamedTuple):
    """What a request was about, for its error's message. (A named tuple:
    every request makes one, and a frozen dataclass costs three times as much
    to make.)"""

    service: str  # "S3", "Azure Blob", ...: how the user knows the server
    endpoint: str
    bucket: str | None = None
    key: str | None = None

    def describe(self) -> str:
        if self.bucket is None:
            return f"{self.service} endpoint {self.endpoint}"
        if self.key is None:
            return f"bucket {self.bucket!r}"
        return f"object {self.key!r} in bucket {self.bucket!r}"

    def on(self, bucket: str | None = None, key: str | None = None) -> Subject:
        return Subject(self.service, self.endpoint, bucket, key)


def error_for_status(
    status: int,
    subject: Subject,
    *,
    code: str = "",
    message: str = "",
    attempts: int = 1,
    denied_hint: str = "",
) -> BucketBridgeException:
    """The exception for an HTTP error response. ``code`` and ``message`` are
    the server's, shown as they help; ``attempts`` is how many times the
    request was sent; ``denied_hint`` says which credentials to check."""
    what = subject.describe()
    said = f": {code}" if code else ""
    if message and message != code:
        said += f" ({message})"
    if status == 404:
        if subject.key is None and subject.bucket is not None:
            return NotFoundException(f"bucket {subject.bucket!r} does not exist")
        return NotFoundException(f"{what} does not exist")
    if status == 409:
        return DuplicateResourceException(f"{what} conflicts with an existing resource{said}")
    if status == 412:
        return PreconditionFailedException(
            f"{what} already exists or changed (precondition failed){said}"
        )
    if status in (401, 403):
        hint = f"; {denied_hint}" if denied_hint else ""
        return PermissionDeniedException(
            f"{subject.service} endpoint {subject.endpoint} refused access to {what}"
            f" (HTTP {status}{said}){hint}"
        )
    if status == 416:
        return InvalidValueException("range", what, f"not satisfiable{said}")
    if status == 429 or status >= 500:
        return ProviderConnectionException(
            f"{subject.service} endpoint {subject.endpoint} kept failing on {what}"
            f" (HTTP {status}{said}) after {attempts} attempt(s)"
        )
    if 400 <= status < 500:
        return InvalidValueException("request", what, f"HTTP {status}{said}")
    return ProviderInternalException(f"{subject.service} answered HTTP {status} on {what}{said}")


def network_error(error: BaseException, subject: Subject) -> ProviderConnectionException:
    """The exception for a request that got no (complete) HTTP answer."""
    about = f" ({subject.describe()})" if subject.bucket is not None else ""
    return ProviderConnectionException(
        f"cannot reach {subject.service} endpoint {subject.endpoint}{about}:"
        f" {network_reason(error)}"
    )


def network_reason(error: BaseException) -> str:
    """A one-line reason, from the OS error deep in the chain if there is one
    (SDKs wrap it two or three times: botocore in ``kwargs['error']``,
    azure-core in ``inner_exception``, which it does not chain as a cause)."""
    seen: set[int] = set()
    current: Any = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return "the host name does not resolve"
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"the server's TLS certificate was refused: {current.verify_message}"
        if isinstance(current, ssl.SSLError):
            return f"TLS failed: {current.reason or current}"
        if (
            isinstance(current, (TimeoutError, socket.timeout))
            or "Timeout" in type(current).__name__
        ):
            kind = type(current).__name__
            if "Read" in kind:
                return "read timed out"
            if "Write" in kind:
                return "write timed out"
            return "connect timed out" if "Connect" in kind else "timed out"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, ConnectionResetError):
            return "connection reset by peer"
        if isinstance(current, OSError) and current.strerror:
            return str(current.strerror).lower()
        kwargs = getattr(current, "kwargs", None)
        nested = kwargs.get("error") if isinstance(kwargs, dict) else None
        inner = getattr(current, "inner_exception", None)
        nested = nested or (inner if isinstance(inner, BaseException) else None)
        current = nested or current.__cause__ or current.__context__
    name = type(error).__name__
    if "Incomplete" in name or "Closed" in name or "Protocol" in name or "Streaming" in name:
        return "the connection closed before the response was complete"
    return name
