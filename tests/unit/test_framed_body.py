"""``Body.framed``: a body between two byte strings reads as their
concatenation, from any offset (what an SDK or a TLS socket reads); the
lean plane sends its parts separately (tests/gcs/test_lean_plane.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bucketbridge.drivers.records import Body

HEAD, INNER, TAIL = b"--head--", os.urandom(1000), b"--tail--"
WHOLE = HEAD + INNER + TAIL


@pytest.mark.parametrize(
    ("offset", "length"),
    [(0, len(WHOLE)), (0, 3), (5, 10), (8, 1000), (500, 600), (1007, 3), (1010, 100), (0, 0)],
)
def test_a_framed_body_reads_as_head_inner_tail(offset: int, length: int, tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"pad" + INNER)
    with open(path, "rb") as source:
        for inner in (Body.of_bytes(INNER), Body.of_file(source.fileno(), 3, len(INNER))):
            body = Body.framed(HEAD, inner, TAIL)
            assert body.size == len(WHOLE)
            assert body.frame == (HEAD, inner, TAIL)
            body.seek(offset)
            assert body.read(length) == WHOLE[offset : offset + length]
            body.seek(0)
            assert body.read() == WHOLE
