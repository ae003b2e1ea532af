"""How a finished scratch file takes the destination's place (bucketbridge/scratch.py):
a new destination in one link, with the mode a new file gets; an existing one
replaced whole by one rename, keeping its mode; nothing left beside either.
Real files in tmp_path; O_TMPFILE where the filesystem has it, else skipped
(tests/local/test_scratch.py covers named scratch files)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bucketbridge.scratch import ScratchFile


def _write(path: Path, data: bytes) -> None:
    with ScratchFile(str(path)) as scratch:
        if scratch._named is not None:
            pytest.skip("no O_TMPFILE on this filesystem")
        os.pwrite(scratch.fd, data, 0)
        scratch.publish()


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_destination_gets_a_new_files_mode_and_nothing_beside(tmp_path: Path) -> None:
    umask = os.umask(0o027)
    try:
        _write(tmp_path / "new.bin", b"whole")
    finally:
        os.umask(umask)
    assert (tmp_path / "new.bin").read_bytes() == b"whole"
    assert _mode(tmp_path / "new.bin") == 0o640
    assert os.listdir(tmp_path) == ["new.bin"]


def test_an_existing_destination_is_replaced_whole_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "old.bin"
    target.write_bytes(b"the old content, longer than the new")
    target.chmod(0o600)
    inode = os.stat(target).st_ino
    _write(target, b"new")
    assert target.read_bytes() == b"new"
    assert _mode(target) == 0o600
    assert os.stat(target).st_ino != inode  # replaced by a rename, not written over
    assert os.listdir(tmp_path) == ["old.bin"]


def test_a_symlink_at_the_destination_is_replaced_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.bin"
    elsewhere.write_bytes(b"untouched")
    link = tmp_path / "link.bin"
    link.symlink_to(elsewhere)
    _write(link, b"new")
    assert not link.is_symlink()
    assert link.read_bytes() == b"new"
    assert elsewhere.read_bytes() == b"untouched"
    assert sorted(os.listdir(tmp_path)) == ["elsewhere.bin", "link.bin"]


def test_a_directory_at_the_destination_fails_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError):
        _write(tmp_path / "dir", b"new")
    assert os.listdir(tmp_path) == ["dir"]
    assert os.listdir(tmp_path / "dir") == []
