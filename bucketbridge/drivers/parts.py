"""Multipart rules shared by every provider: part numbers, part sizes, and S3's etag.

The limits are S3's, the lowest of the providers, so code tested on one
provider works on all. The core checks part numbers and the parts list
before a driver sees them; a driver that stores parts itself (local,
memory) checks sizes and computes the etag with these helpers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ..config import MIN_PART_SIZE as MIN_PART_SIZE  # its home: config.py (start-up cost)
from ..errors import InvalidValueException
from .records import PartInfo

MAX_PARTS = 10_000
"""Most parts one upload may have."""


def check_part_number(part_number: object) -> int:
    if isinstance(part_number, bool) or not isinstance(part_number, int):
        raise InvalidValueException("part_number", part_number, "must be an integer")
    if not 1 <= part_number <= MAX_PARTS:
        raise InvalidValueException("part_number", part_number, f"must be 1 to {MAX_PARTS}")
    return part_number


def ordered_parts(parts: Sequence[PartInfo]) -> list[PartInfo]:
    """The parts of a completion in ascending number, each number once."""
    if not parts:
        raise InvalidValueException("parts", list(parts), "at least one part is needed")
    numbers = [part.part_number for part in parts]
    if len(set(numbers)) != len(numbers):
        raise InvalidValueException("parts", numbers, "a part number appears twice")
    return sorted(parts, key=lambda part: part.part_number)


def check_part_sizes(parts: Sequence[PartInfo]) -> None:
    """Every part but the last is at least MIN_PART_SIZE, as S3 requires."""
    for part in parts[:-1]:
        if part.size < MIN_PART_SIZE:
            raise InvalidValueException(
                "parts",
                part.part_number,
                f"{part.size} bytes; every part but the last needs at least {MIN_PART_SIZE}",
            )


def multipart_etag(part_md5s: Sequence[str]) -> str:
    """S3's etag of an object stored in parts: the MD5 of the parts' MD5s
    (hex), a dash, and the number of parts."""
    digest = hashlib.md5(usedforsecurity=False)
    for md5 in part_md5s:
        digest.update(bytes.fromhex(md5))
    return f"{digest.hexdigest()}-{len(part_md5s)}"
