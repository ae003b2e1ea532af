"""Directories to locations and back (what ``cp -r`` and ``sync`` with a
path run), the progress and per-object callbacks of copy/sync, and named
profiles: on the real LOCAL provider."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from bucketbridge import (
    CloudProviderFactory,
    InvalidConfigurationException,
    InvalidValueException,
    Location,
    ProviderList,
    sync,
)
from bucketbridge.config import load_profile
from bucketbridge.filetree import download_tree, upload_tree


def _tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


@pytest.fixture
def location(tmp_path: Path) -> Location:
    config = {"local_root": str(tmp_path / "root")}
    with CloudProviderFactory().create_provider(ProviderList.LOCAL, config) as provider:
        provider.storage.buckets.create("tree-bucket")
    return Location("local", "tree-bucket", "p/", config)


def test_upload_then_download_reproduces_the_tree_and_a_sync_finds_it_unchanged(
    tmp_path: Path, location: Location
) -> None:
    source = tmp_path / "src"
    (source / "a" / "b").mkdir(parents=True)
    (source / "top.txt").write_bytes(b"top")
    (source / "a" / "b" / "deep.bin").write_bytes(os.urandom(5000))
    moved: list[int] = []
    names: list[str] = []
    report = upload_tree(source, location, progress=moved.append, on_object=names.append)
    assert (report.copied, report.copied_bytes, report.ok) == (2, 5003, True)
    assert sum(moved) == 5003 and sorted(names) == ["a/b/deep.bin", "top.txt"]
    assert upload_tree(source, location, only_changed=True).unchanged == 2

    target = tmp_path / "dst"
    download_tree(location, target)
    assert _tree(target) == _tree(source)
    again = download_tree(location, target, only_changed=True)
    assert (again.copied, again.unchanged) == (0, 2)


def test_sync_with_delete_changes_only_what_differs(tmp_path: Path, location: Location) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("keep", "change", "drop"):
        (source / name).write_bytes(name.encode())
    upload_tree(source, location)
    (source / "drop").unlink()
    (source / "change").write_bytes(b"changed!")  # another size
    (source / "new").write_bytes(b"new")
    dry = upload_tree(source, location, only_changed=True, delete=True, dry_run=True)
    assert (dry.to_copy, dry.to_delete, dry.unchanged) == (["change", "new"], ["drop"], 1)
    done = upload_tree(source, location, only_changed=True, delete=True)
    assert (done.copied, done.deleted, done.unchanged) == (2, 1, 1)
    target = tmp_path / "dst"
    target.mkdir()
    (target / "stale").write_bytes(b"stale")
    download_tree(location, target, only_changed=True, delete=True)
    assert _tree(target) == _tree(source)


def test_a_callback_that_raises_stops_the_transfer(tmp_path: Path, location: Location) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for index in range(20):
        (source / f"f{index:02d}").write_bytes(b"x" * 100)
    stop = threading.Event()

    def interrupt(nbytes: int) -> None:
        stop.set()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        upload_tree(source, location, progress=interrupt, workers=2)
    assert stop.is_set()


def test_bad_arguments_are_named(tmp_path: Path, location: Location) -> None:
    with pytest.raises(InvalidValueException, match="directory"):
        upload_tree(tmp_path / "missing", location)
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(InvalidValueException, match="directory"):
        download_tree(location, tmp_path / "file")
    with pytest.raises(InvalidValueException, match="workers"):
        upload_tree(tmp_path, location, workers=0)


def test_sync_between_locations_reports_bytes_and_objects(
    tmp_path: Path, location: Location
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "one").write_bytes(b"1" * 10)
    (source / "two").write_bytes(b"2" * 20)
    upload_tree(source, location)
    target = Location("local", "tree-bucket", "copy/", location.config)
    moved: list[int] = []
    names: list[str] = []
    report = sync(location, target, progress=moved.append, on_object=names.append)
    assert (report.copied, sum(moved), sorted(names)) == (2, 30, ["one", "two"])


def test_a_profile_names_its_provider_and_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.ini"
    config.write_text(
        "[profile weed]\nprovider = aws\ns3_endpoint_url = http://127.0.0.1:8333\n"
        "aws_secret_key = hush-hush-hush\n[profile nothing]\ns3_endpoint_url = x\n"
    )
    monkeypatch.setenv("BUCKETBRIDGE_CONFIG", str(config))
    profile = load_profile("weed")
    assert profile.provider_id == "aws"
    assert profile.values == {
        "s3_endpoint_url": "http://127.0.0.1:8333",
        "aws_secret_key": "hush-hush-hush",
    }
    assert "hush" not in repr(profile)
    with pytest.raises(InvalidConfigurationException, match=r"'missing'.*profiles there"):
        load_profile("missing")
    with pytest.raises(InvalidConfigurationException, match=r"'nothing'.*provider"):
        load_profile("nothing")


def test_a_file_is_unchanged_within_the_second_its_object_was_stamped() -> None:
    """S3 and Swift keep an object's time to the second: a file written at
    x.7 s and uploaded in that second is stored at x s, and is the same."""
    from bucketbridge.filetree import _merge, _Side

    local = [_Side("a.txt", 3, 1_700_000_000.7)]
    stored = [_Side("a.txt", 3, 1_700_000_000.0)]
    assert list(_merge(iter(local), iter(stored), only_changed=True)) == [("same", local[0])]
    newer = [_Side("a.txt", 3, 1_700_000_001.2)]
    assert list(_merge(iter(newer), iter(stored), only_changed=True)) == [("copy", newer[0])]


def test_a_tree_download_sweeps_stale_scratch_files_once_and_spares_live_ones(
    tmp_path: Path, location: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tree download lists each directory once (not once a file) for what
    killed downloads left; a scratch file a live download holds stays, and
    after the tree a single download sweeps for itself again."""
    import fcntl

    source = tmp_path / "src"
    source.mkdir()
    for name in ("a.txt", "b.txt", "c.txt", "d.txt"):
        (source / name).write_bytes(name.encode() * 100)
    upload_tree(source, location)
    out = tmp_path / "out"
    listings: list[str] = []
    listdir = os.listdir

    def counted(path: str) -> list[str]:
        listings.append(os.fspath(path))
        return listdir(path)

    monkeypatch.setattr(os, "listdir", counted)
    out.mkdir()
    stale = out / ".a.txt.0123456789ab.bbpart"
    stale.write_bytes(b"left by a killed download")
    live = out / ".b.txt.abcdef012345.bbpart"
    live.write_bytes(b"a download in progress")
    with open(live, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        download_tree(location, out)
        assert listings.count(str(out)) == 1
        names = {path.name for path in out.iterdir()}
    assert names == {"a.txt", "b.txt", "c.txt", "d.txt", live.name}
    assert _tree(out) == _tree(source) | {live.name: b"a download in progress"}

    stale.write_bytes(b"left by another killed download")
    with CloudProviderFactory().create_provider(ProviderList.LOCAL, location.config) as provider:
        bucket = provider.storage.buckets.get(location.bucket)
        assert bucket is not None
        bucket.objects.create("p/a.txt").download_to_file(out / "a.txt")
    # its own destination's only: b.txt's, unheld now, waits for b.txt's next download
    assert {path.name for path in out.iterdir()} == set(_tree(source)) | {live.name}
