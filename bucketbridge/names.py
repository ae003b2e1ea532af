"""Bucket and object name rules, checked client-side the same way for every provider.

Each rule is the strictest of what S3, Azure Blob, GCS, OpenStack Swift and
the local filesystem accept, so a name that works on one provider works on
all of them, and code tested on LOCAL or MEMORY behaves the same on a cloud.
A name that breaks a rule raises InvalidNameException before any request is
made, naming the name and what is allowed.

Bucket names
    3-63 characters: lowercase ASCII letters, digits and single hyphens,
    starting with a letter and ending with a letter or a digit; not one of the
    forms S3 or GCS reserve (``xn--``, ``sthree-``, ``amzn-s3-demo-`` or
    ``goog`` first, ``-s3alias`` last, ``google`` or a look-alike anywhere).
    No dots, so a name never looks like an IP address or breaks TLS on
    virtual-host addressing; no underscores (S3, Azure).

Object names
    1-1024 bytes of UTF-8, made of ``/``-separated segments, where:

    - no segment is empty: no leading ``/``, no trailing ``/``, no ``a//b``.
      AWS would store those, but a filesystem cannot (the local provider),
      S3-compatible servers fold them (SeaweedFS lists ``a//b`` as ``a/b``),
      Azure warns against a trailing ``/``, and a leading ``/`` is an
      absolute path to every tool that maps keys to files;
    - no segment ends with ``.``, which refuses ``.`` and ``..`` too. HTTP
      clients (``requests``, ``curl``, browsers) remove dot segments from a
      URL before sending it (RFC 3986, section 5.2.4), so a signed URL for
      ``a/../b`` reaches another key and fails its signature; GCS refuses
      ``.`` and ``..``; Azure refuses names ending with a dot, and Windows
      drops trailing dots from file names;
    - a segment is at most 255 bytes (a filesystem's file name limit) and a
      name has at most 254 segments (Azure);
    - no control characters (U+0000-U+001F, U+007F-U+009F): GCS refuses CR
      and LF, Azure refuses control characters, and S3's XML listings cannot
      carry them; no private-use or non-characters (Azure), no lone
      surrogates (not UTF-8 at all);
    - no backslash: Azure turns it into ``/``, URL parsers treat it as a path
      separator, and it separates paths on Windows;
    - the name does not start with ``.well-known/acme-challenge/`` (GCS) or
      with the segment ``.bucketbridge``: drivers keep their own objects there
      and never list them (the local provider's state, GCS's multipart parts).

    Objects already in a bucket under other names (written by other tools)
    are still listed, and their handles can be read and deleted; the rule
    governs the names this library is asked to create or look up.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import InvalidNameException

# Where the object-name rule comes from:
# - S3: "a maximum length of 1,024 bytes" of UTF-8, in
#   https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
# - GCS: 1-1,024 bytes of UTF-8, no carriage return or line feed, not "." or "..",
#   not starting with ".well-known/acme-challenge/", in
#   https://cloud.google.com/storage/docs/objects#naming
# - Azure: at most 1,024 characters and 254 path segments; control characters
#   and code points like \uE000 are not allowed; "avoid blob names that end with
#   a dot (.), a forward slash (/), or a sequence or combination of the two", in
#   https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata
# - Swift: max_object_name_length 1024 bytes (swift/common/constraints.py).
MAX_KEY_BYTES = 1024
"""S3, GCS and Swift count bytes of UTF-8; Azure counts characters, which is laxer."""
MAX_SEGMENT_BYTES = 255
"""NAME_MAX of Linux and macOS filesystems, where the local provider keeps each segment."""
MAX_SEGMENTS = 254
"""Azure: "The number of path segments comprising the blob name cannot exceed 254"."""
RESERVED_FIRST_SEGMENT = ".bucketbridge"
"""Where a driver keeps objects of its own inside a bucket, never listed: the
local provider's state directory, the GCS driver's multipart parts."""

_BUCKET_NAME = re.compile(r"[a-z][-a-z0-9]{1,61}[a-z0-9]")
_BUCKET_RULE = (
    "use 3-63 lowercase letters, digits and single hyphens, starting with a letter"
    " and ending with a letter or digit"
)

# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
# ("Bucket names must not start with the prefix xn--", "sthree-", "amzn-s3-demo-";
# "must not end with the suffix -s3alias", "--ol-s3", "--x-s3", "--table-s3").
# The "--" suffixes are also refused by Azure's no-consecutive-hyphens rule;
# they are listed so the message says who reserves them.
# https://cloud.google.com/storage/docs/buckets#naming ("Bucket names cannot
# begin with the "goog" prefix").
_RESERVED_PREFIXES = {
    "xn--": "S3 (punycode host names)",
    "sthree-": "S3",
    "amzn-s3-demo-": "S3",
    "goog": "GCS",
}
_RESERVED_SUFFIXES = {
    "-s3alias": "S3 (access point aliases)",
    "--ol-s3": "S3 (Object Lambda access point aliases)",
    "--x-s3": "S3 (directory buckets)",
    "--table-s3": "S3 (table buckets)",
}
# GCS: "Bucket names cannot contain "google" or close misspellings, such as
# "g00gle"". Google publishes no list; this catches the documented kind: digits
# standing in for letters and doubled letters (g00gle, go0gle, gooogle, goog1e).
_GOOGLE_LOOKALIKE = re.compile(r"g+o{2,}g+l+e")
_LOOKALIKE_DIGITS = str.maketrans("013", "ole")

# https://cloud.google.com/storage/docs/objects#naming ("Object names cannot
# start with .well-known/acme-challenge/").
_GCS_RESERVED_KEY_PREFIX = ".well-known/acme-challenge/"


def _forbidden_characters() -> re.Pattern[str]:
    """Controls (C0, DEL, C1), the backslash, private-use characters and the
    66 non-characters (U+FDD0-U+FDEF and the last two code points of every plane)."""
    ranges = ["\\x00-\\x1f", "\\x7f-\\x9f", "\\\\", "\\ue000-\\uf8ff", "\\ufdd0-\\ufdef"]
    ranges += ["\\U000f0000-\\U0010ffff"]  # planes 15 and 16 are private use
    for plane in range(17):
        ranges.append(f"\\U{plane * 0x10000 + 0xFFFE:08x}\\U{plane * 0x10000 + 0xFFFF:08x}")
    return re.compile("[" + "".join(ranges) + "]")


_FORBIDDEN_CHARACTER = _forbidden_characters()


def validate_bucket_name(name: object) -> str:
    """Return ``name`` if every provider accepts it as a bucket name, else
    raise InvalidNameException saying what is allowed."""
    if not isinstance(name, str) or not _BUCKET_NAME.fullmatch(name):
        raise InvalidNameException(f"bucket name {name!r}: {_BUCKET_RULE}")
    for prefix, owner in _RESERVED_PREFIXES.items():
        if name.startswith(prefix):
            raise InvalidNameException(
                f"bucket name {name!r}: the prefix {prefix!r} is reserved by {owner};"
                f" {_BUCKET_RULE}"
            )
    for suffix, owner in _RESERVED_SUFFIXES.items():
        if name.endswith(suffix):
            raise InvalidNameException(
                f"bucket name {name!r}: the suffix {suffix!r} is reserved by {owner};"
                f" {_BUCKET_RULE}"
            )
    # Azure: "Every dash (-) character must be immediately preceded and
    # followed by a letter or number; consecutive dashes are not permitted", in
    # https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata
    if "--" in name:
        raise InvalidNameException(
            f"bucket name {name!r}: consecutive hyphens are not allowed (Azure); {_BUCKET_RULE}"
        )
    if _GOOGLE_LOOKALIKE.search(name.translate(_LOOKALIKE_DIGITS)):
        raise InvalidNameException(
            f"bucket name {name!r}: GCS refuses names containing 'google' or a look-alike"
            " such as 'g00gle'"
        )
    return name


def validate_object_key(key: object) -> str:
    """Return ``key`` if every provider can store it and address it by URL,
    else raise InvalidNameException saying what is allowed (the rule is in
    this module's docstring)."""
    if not isinstance(key, str) or not key:
        raise InvalidNameException(f"object name {key!r}: must be a non-empty string")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError as error:
        raise InvalidNameException(
            f"object name {_shown(key)}: must be valid Unicode (it holds a lone surrogate)"
        ) from error
    if size > MAX_KEY_BYTES:
        raise InvalidNameException(
            f"object name {_shown(key)}: {size} bytes in UTF-8, at most {MAX_KEY_BYTES} are allowed"
        )
    forbidden = _FORBIDDEN_CHARACTER.search(key)
    if forbidden:
        raise InvalidNameException(
            f"object name {_shown(key)}: must not contain {_describe(forbidden.group())}"
        )
    segments = key.split("/")
    if len(segments) > MAX_SEGMENTS:
        raise InvalidNameException(
            f"object name {_shown(key)}: {len(segments)} '/'-separated segments,"
            f" at most {MAX_SEGMENTS} are allowed (Azure)"
        )
    # Each segment is looked at only where one can be at fault: an empty
    # one ("/" first or last, "//"), one ending with "." ("./", "." last:
    # "." and ".." too), one over MAX_SEGMENT_BYTES (a key no longer cannot
    # hold one). A copy of many objects checks every destination key.
    if size > MAX_SEGMENT_BYTES or key[0] == "/" or key[-1] in "/." or "//" in key or "./" in key:
        shown = _shown(key)
        for segment in segments:
            _check_segment(shown, segment)
    if segments[0] == RESERVED_FIRST_SEGMENT:
        raise InvalidNameException(
            f"object name {_shown(key)}: the first segment {RESERVED_FIRST_SEGMENT!r} is"
            " reserved for bucketbridge's own objects (the local provider's state, GCS upload"
            " parts)"
        )
    if key.startswith(_GCS_RESERVED_KEY_PREFIX):
        raise InvalidNameException(
            f"object name {_shown(key)}: names starting with {_GCS_RESERVED_KEY_PREFIX!r}"
            " are reserved by GCS"
        )
    return key


def _check_segment(shown: str, segment: str) -> None:
    if not segment:
        raise InvalidNameException(
            f"object name {shown}: must not start or end with '/' or hold '//';"
            " every '/'-separated segment needs at least one character"
        )
    if segment in (".", ".."):
        raise InvalidNameException(
            f"object name {shown}: must not hold a {segment!r} segment; HTTP clients remove"
            " dot segments from URLs, so no provider could serve it by URL"
        )
    if segment.endswith("."):
        raise InvalidNameException(
            f"object name {shown}: the segment {segment[:40]!r} ends with '.', which Azure"
            " and Windows file names do not keep; end each '/'-separated segment with another"
            " character"
        )
    size = len(segment.encode("utf-8"))
    if size > MAX_SEGMENT_BYTES:
        raise InvalidNameException(
            f"object name {shown}: a '/'-separated segment of {size} bytes in UTF-8,"
            f" at most {MAX_SEGMENT_BYTES} are allowed"
        )


def _describe(char: str) -> str:
    """Name a character ``_FORBIDDEN_CHARACTER`` matched."""
    if char == "\\":
        return "a backslash ('\\'); use '/' to separate segments"
    kind = {"Cc": "control character", "Co": "private-use character"}
    return f"the {kind.get(unicodedata.category(char), 'non-character')} U+{ord(char):04X}"


def _shown(key: str) -> str:
    """The key for a message: whole if short, else its start."""
    return repr(key) if len(key) <= 80 else f"{key[:60]!r}... ({len(key)} characters)"
