"""Checks of the public API's parameters, written once.

Each helper returns the value it accepts (normalised where that helps the
caller) or raises InvalidValueException naming the parameter, the value and
what is allowed, so that a wrong type never surfaces as a raw TypeError from
deep inside a driver or an SDK. Names of buckets and objects have their own
rules in :mod:`bucketbridge.names`.
"""

from __future__ import annotations

import io
import math
import operator
import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, BinaryIO

from .errors import InvalidValueException


def integer(param: str, value: object) -> int:
    """An integer: ``int`` or anything with ``__index__`` (numpy's ints), but
    never a bool, a float or a numeric string."""
    if isinstance(value, bool):
        raise InvalidValueException(param, value, "must be an integer, not a bool")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidValueException(param, value, "must be an integer") from None


def positive_int(param: str, value: object) -> int:
    number = integer(param, value)
    if number < 1:
        raise InvalidValueException(param, value, "must be an integer >= 1")
    return number


def non_negative_int(param: str, value: object) -> int:
    number = integer(param, value)
    if number < 0:
        raise InvalidValueException(param, value, "must be an integer >= 0")
    return number


def int_between(param: str, value: object, low: int, high: int, unit: str = "") -> int:
    number = integer(param, value)
    if not low <= number <= high:
        raise InvalidValueException(param, value, f"must be an integer from {low} to {high}{unit}")
    return number


def duration(param: str, value: object) -> timedelta:
    """A span of time >= 0: a timedelta, or seconds as an int or a float
    (never a bool, NaN or infinity)."""
    if isinstance(value, timedelta):
        span = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise InvalidValueException(param, value, "must be a finite number of seconds")
        try:
            span = timedelta(seconds=value)
        except OverflowError:
            raise InvalidValueException(param, value, "longer than a timedelta can hold") from None
    else:
        raise InvalidValueException(param, value, "must be a timedelta or a number of seconds")
    if span < timedelta(0):
        raise InvalidValueException(param, value, "must be >= 0")
    return span


def boolean(param: str, value: object) -> bool:
    """True or False only: ``'no'`` or ``0`` would otherwise be read as a
    truth value, and a typo silently flips the meaning."""
    if not isinstance(value, bool):
        raise InvalidValueException(param, value, "must be True or False")
    return value


def optional_str(param: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidValueException(param, value, "must be a string or None")
    return value


def optional_callable(param: str, value: object) -> Callable[..., Any] | None:
    if value is not None and not callable(value):
        raise InvalidValueException(param, value, "must be a callable or None")
    return value


def local_path(param: str, value: object) -> str:
    """A filesystem path as ``str``: a non-empty string or an
    ``os.PathLike`` that gives one."""
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if isinstance(path, str) and path:
            return path
    raise InvalidValueException(param, value, "must be a non-empty str or os.PathLike path")


def writable_binary_stream(param: str, value: object) -> BinaryIO:
    """An open stream that takes bytes: checked before any byte is read, so
    a wrong target never costs a request."""
    if isinstance(value, io.TextIOBase) or not callable(getattr(value, "write", None)):
        raise InvalidValueException(
            param, type(value).__name__, "must be a binary stream opened for writing"
        )
    return value  # type: ignore[return-value]


def check_metadata(metadata: object) -> dict[str, str]:
    """User metadata: a mapping of ASCII-safe names to printable ASCII values
    without leading or trailing spaces, which survives every provider's
    headers. Names are lowercased, as S3 and Azure return them."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidValueException("metadata", metadata, "must be a mapping of str to str")
    checked: dict[str, str] = {}
    for name, value in metadata.items():
        if not isinstance(name, str) or not name or not header_safe(name, key=True):
            raise InvalidValueException(
                "metadata", name, "names must be ASCII letters, digits, '-' or '_'"
            )
        if not isinstance(value, str) or not header_safe(value, key=False):
            raise InvalidValueException(
                f"metadata[{name!r}]", value, "values must be printable ASCII strings"
            )
        if value != value.strip(" "):
            # HTTP trims header values: S3 servers and Azure all returned
            # " x" as "x", so such a value could never round-trip
            raise InvalidValueException(
                f"metadata[{name!r}]", value, "values must not start or end with a space"
            )
        checked[name.lower()] = value
    return checked


def header_value(param: str, value: object) -> str:
    """A value that can travel in an HTTP header: no control characters."""
    if not isinstance(value, str) or not header_safe(value, key=False):
        raise InvalidValueException(
            param, value, "must be printable ASCII (use RFC 5987 filename*= for others)"
        )
    return value


def optional_header_value(param: str, value: object) -> str | None:
    """None or ``''`` (not set), else a header value."""
    if value is None or value == "":
        return None
    return header_value(param, value)


def header_safe(text: str, *, key: bool) -> bool:
    if key:
        return all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in text)
    return all(" " <= ch <= "~" for ch in text)


def instances_of(param: str, value: object, kind: type[Any]) -> list[Any]:
    """A list or tuple whose every item is a ``kind``."""
    if not isinstance(value, (list, tuple)):
        raise InvalidValueException(param, value, f"must be a list of {kind.__name__}")
    for item in value:
        if not isinstance(item, kind):
            raise InvalidValueException(param, item, f"every item must be a {kind.__name__}")
    return list(value)
