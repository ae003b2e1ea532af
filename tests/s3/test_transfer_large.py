"""A 1 GiB file goes up and comes back byte for byte on SeaweedFS, with memory
bounded by the transfer settings rather than the object size."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from bucketbridge import Bucket
from bucketbridge.config import DEFAULT_MAX_CONCURRENCY, DEFAULT_PART_SIZE

MiB = 1024 * 1024
SIZE = 1024 * MiB


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} in /proc/self/status")


def _write_random(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for offset in range(0, size, 16 * MiB):
            block = os.urandom(min(16 * MiB, size - offset))
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while block := source.read(16 * MiB):
            digest.update(block)
    return digest.hexdigest()


@pytest.mark.slow
def test_one_gib_round_trip_with_bounded_memory(seaweed_bucket: Bucket, tmp_path: Path) -> None:
    source, target = tmp_path / "source.bin", tmp_path / "target.bin"
    expected = _write_random(source, SIZE)
    before = _status_mib("VmRSS")
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # forget the peak so far (Linux 4.0+)

    obj = seaweed_bucket.objects.create("one-gib.bin").upload_from_file(source)
    assert (
        obj.size == SIZE
        and obj.etag is not None
        and obj.etag.endswith(f"-{SIZE // DEFAULT_PART_SIZE}")
    )
    obj.download_to_file(target)
    peak = _status_mib("VmHWM") - before

    assert target.stat().st_size == SIZE
    assert _sha256(target) == expected
    # parts in flight, twice over for the SDK's copies, and room for the rest
    bound = 2 * DEFAULT_PART_SIZE * DEFAULT_MAX_CONCURRENCY / MiB + 128
    print(f"\npeak memory above baseline for a 1 GiB round trip: {peak:.0f} MiB")
    assert peak < bound, f"peak {peak:.0f} MiB above baseline, bound {bound:.0f} MiB"
