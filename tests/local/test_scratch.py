"""Named scratch files (no ``O_TMPFILE``) and another process's sweep: a
download's file is never swept in the moment between its creation and its
lock, and a pending name a killed process left is swept once it is old."""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import scratch
from bucketbridge.scratch import PENDING_GRACE, ScratchFile, sweep_stale


@pytest.fixture(autouse=True)
def no_o_tmpfile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)


class SweepBeforeLock:
    """``fcntl`` as scratch.py sees it, but the first lock a download takes
    is preceded by another download's sweep of the directory: the moment
    that sweep would have found the new file unlocked."""

    def __init__(self, directory: Path) -> None:
        self._directory = str(directory)
        self.swept_in_the_gap = False
        self.seen: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(fcntl, name)

    def flock(self, fd: int, operation: int) -> None:
        if not self.swept_in_the_gap:
            self.swept_in_the_gap = True
            self.seen = sorted(os.listdir(self._directory))
            sweep_stale(self._directory, ".data.bin.")
        fcntl.flock(fd, operation)


def test_a_sweep_between_creation_and_lock_spares_the_new_scratch_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gap = SweepBeforeLock(tmp_path)
    monkeypatch.setattr(scratch, "fcntl", gap)
    destination = tmp_path / "data.bin"
    with ScratchFile(str(destination)) as file:
        os.write(file.fd, b"whole")
        file.publish()
    assert gap.swept_in_the_gap
    # the sweep saw the file, under its pending name, and left it
    assert len(gap.seen) == 1 and gap.seen[0].endswith(".bbnew"), gap.seen
    assert destination.read_bytes() == b"whole"
    assert os.listdir(tmp_path) == ["data.bin"]


def test_while_held_the_file_has_its_scratch_name(tmp_path: Path) -> None:
    with ScratchFile(str(tmp_path / "data.bin")) as file:
        (name,) = os.listdir(tmp_path)
        assert re.fullmatch(r"\.data\.bin\.[0-9a-f]{12}\.bbpart", name)
        sweep_stale(str(tmp_path), ".data.bin.")  # locked: spared
        assert os.listdir(tmp_path) == [name]
        file.publish()
    assert os.listdir(tmp_path) == ["data.bin"]


def test_a_pending_name_is_swept_once_older_than_the_grace(tmp_path: Path) -> None:
    """What a process killed between creating and renaming its file left."""
    old, young = (tmp_path / f".data.bin.{token * 12}.bbnew" for token in "ab")
    for path in (old, young):
        path.write_bytes(b"")
    aged = os.stat(old).st_mtime - PENDING_GRACE - 5
    os.utime(old, (aged, aged))
    with ScratchFile(str(tmp_path / "data.bin")) as file:
        file.publish()
    assert sorted(os.listdir(tmp_path)) == sorted(["data.bin", young.name])
