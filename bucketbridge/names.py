"""Bucket and object name rules, checked client-side the same way for every provider."""

from __future__ import annotations

import re

from .errors import InvalidNameException

_BUCKET_NAME = re.compile(r"[a-z][-a-z0-9]{1,61}[a-z0-9]")
MAX_KEY_BYTES = 1024


def validate_bucket_name(name: object) -> str:
    """Return ``name`` if it is a valid bucket name, else raise InvalidNameException.

    The rule is the intersection of what S3, Azure, GCS and Swift accept
    (CloudBridge's): 3-63 characters, lowercase letters, digits and hyphens,
    starting with a letter and not ending with a hyphen. No dots, so a name can
    never look like an IP address or clash with virtual-host addressing.
    """
    if not isinstance(name, str) or not _BUCKET_NAME.fullmatch(name):
        raise InvalidNameException(
            f"bucket name {name!r}: use 3-63 lowercase letters, digits and hyphens,"
            " starting with a letter and not ending with a hyphen"
        )
    return name


def validate_object_key(key: object) -> str:
    """Return ``key`` if every provider can store it, else raise InvalidNameException."""
    if not isinstance(key, str) or not key:
        raise InvalidNameException(f"object name {key!r}: must be a non-empty string")
    if "\x00" in key:
        raise InvalidNameException(f"object name {key!r}: must not contain a NUL character")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidNameException(f"object name {key!r}: must be valid Unicode") from error
    if len(encoded) > MAX_KEY_BYTES:
        raise InvalidNameException(
            f"object name {key[:40]!r}...: {len(encoded)} bytes in UTF-8, at most {MAX_KEY_BYTES}"
        )
    return key
