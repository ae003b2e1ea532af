"""``drivers.ranges.within``: a range cut from a whole object's chunks
(a server that ignored ``Range``), at every boundary a chunk can fall on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bucketbridge.drivers.ranges import within

DATA = bytes(range(50))
SPLITS = ((50,), (1,) * 50, (7, 13, 0, 30), (10, 10, 10, 10, 10))
RANGES = ((0, None), (0, 50), (10, 20), (9, 11), (49, None), (0, 1), (30, 100), (50, None))


def _chunks(sizes: tuple[int, ...]) -> list[bytes]:
    chunks, at = [], 0
    for size in sizes:
        chunks.append(DATA[at : at + size])
        at += size
    return chunks


@pytest.mark.parametrize("sizes", SPLITS)
@pytest.mark.parametrize(("start", "end"), RANGES)
def test_the_range_is_cut_from_the_whole_object(
    sizes: tuple[int, ...], start: int, end: int | None
) -> None:
    assert b"".join(within(_chunks(sizes), start, end)) == DATA[start:end]


def test_reading_stops_at_the_ranges_end() -> None:
    read: list[int] = []

    def chunks() -> Iterator[bytes]:
        for at in range(0, 50, 10):
            read.append(at)
            yield DATA[at : at + 10]

    assert b"".join(within(chunks(), 5, 20)) == DATA[5:20]
    assert read == [0, 10]  # the chunks past the range never asked for
