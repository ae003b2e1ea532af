"""Every subcommand, round trip, on every landed provider's real server."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.cli.conftest import BACKENDS, PART, Cli, address

ALL = list(BACKENDS)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("backend", ALL)
def test_round_trip_through_every_subcommand(
    backend: str,
    cli_for: Callable[..., tuple[Cli, dict[str, Any]]],
    bucket_name: str,
    tmp_path: Path,
) -> None:
    cli, _ = cli_for(backend)
    at = lambda key="": address(backend, bucket_name, key)  # noqa: E731
    scheme = BACKENDS[backend][0]
    cli.run("mb", at())
    try:
        assert f"{scheme}://{bucket_name}/" in cli.run("ls", f"{scheme}://").stdout.decode()
        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(PART + 1024))  # above the lowered threshold: in parts
        cli.run(
            "cp",
            str(big),
            at("in/"),
            "--content-type",
            "application/x-test",
            "--metadata",
            "owner=ana",
        )
        stat = json.loads(cli.run("stat", "--json", at("in/big.bin")).stdout)
        assert stat["size"] == PART + 1024
        assert stat["content_type"] == "application/x-test"
        assert stat["metadata"] == {"owner": "ana"}

        # stdin and stdout
        cli.run("cp", "-", at("piped.txt"), input=b"through a pipe\n")
        assert cli.run("cat", at("piped.txt")).stdout == b"through a pipe\n"
        assert cli.run("cp", at("in/big.bin"), "-").stdout == big.read_bytes()

        # object -> file, object -> object, mv
        cli.run("cp", at("in/big.bin"), str(tmp_path / "back.bin"))
        assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()
        cli.run("cp", at("in/big.bin"), at("copy/big.bin"))
        cli.run("mv", at("piped.txt"), at("moved/piped.txt"))
        listing = cli.run("ls", "-r", at()).stdout.decode().split()
        assert listing == ["copy/big.bin", "in/big.bin", "moved/piped.txt"]
        assert cli.run("ls", at()).stdout.decode().split() == ["copy/", "in/", "moved/"]
        long = cli.run("ls", "-l", at("in/")).stdout.decode()
        assert str(PART + 1024) in long and "in/big.bin" in long
        rows = [
            json.loads(line) for line in cli.run("ls", "-r", "--json", at()).stdout.splitlines()
        ]
        assert [row["key"] for row in rows] == listing
        assert rows[0]["size"] == PART + 1024

        # a signed URL (the local provider's URL server lives with its process)
        url = cli.run("url", "--expires", "60", at("moved/piped.txt")).stdout.decode().strip()
        assert url.startswith("http")
        if backend != "local":
            assert requests.get(url, timeout=30).content == b"through a pipe\n"

        # directories: cp -r up and down, sync, sync --delete
        source = tmp_path / "tree"
        (source / "sub").mkdir(parents=True)
        (source / "a.txt").write_bytes(b"a" * 10)
        (source / "sub" / "b.txt").write_bytes(b"b" * 20)
        cli.run("cp", "-r", str(source), at("tree"))
        cli.run("cp", "-r", at("tree"), str(tmp_path / "down"))
        assert _tree(tmp_path / "down") == _tree(source)
        (source / "c.txt").write_bytes(b"new")
        (source / "a.txt").unlink()
        dry = cli.run("sync", "--dry-run", "--delete", str(source), at("tree")).stdout.decode()
        assert dry.splitlines() == ["(dry run) copy c.txt", "(dry run) delete a.txt"]
        cli.run("sync", "--delete", str(source), at("tree"))
        assert cli.run("ls", "-r", at("tree/")).stdout.decode().split() == [
            "tree/c.txt",
            "tree/sub/b.txt",
        ]
        assert cli.run("sync", "--dry-run", str(source), at("tree")).stdout == b""
        cli.run("sync", "--delete", at("tree"), str(tmp_path / "down"))
        assert _tree(tmp_path / "down") == _tree(source)

        # rm, rm -r, rb
        cli.run("rm", at("moved/piped.txt"))
        cli.run("rm", "-r", at("tree/"))
        assert cli.run("ls", "-r", at()).stdout.decode().split() == ["copy/big.bin", "in/big.bin"]
        refused = cli.run("rb", at(), ok=False)
        assert refused.returncode == 1 and bucket_name in refused.stderr.decode()
        cli.run("rb", "--force", at())
        assert f"{bucket_name}/" not in cli.run("ls", f"{scheme}://").stdout.decode()
    finally:
        cli.run("rb", "--force", at(), ok=False)


@pytest.mark.parametrize(
    ("source", "target"),
    [("local", "s3"), ("s3", "azure"), ("azure", "gcs"), ("gcs", "swift"), ("swift", "local")],
)
def test_cross_provider_cp_and_sync_are_byte_identical(
    source: str,
    target: str,
    cli_for: Callable[..., tuple[Cli, dict[str, Any]]],
    bucket_name: str,
    tmp_path: Path,
) -> None:
    cli, _ = cli_for(source, target)
    there, here = address(target, bucket_name), address(source, bucket_name)
    payload = os.urandom(PART + 4096)
    (tmp_path / "tree" / "d").mkdir(parents=True)
    (tmp_path / "tree" / "one.bin").write_bytes(payload)
    (tmp_path / "tree" / "d" / "two.txt").write_bytes(b"two")
    cli.run("mb", here)
    cli.run("mb", there)
    try:
        cli.run("cp", "-r", str(tmp_path / "tree"), here + "p/")
        cli.run("cp", here + "p/one.bin", there + "single.bin")  # streamed, in parts
        assert cli.run("cat", there + "single.bin").stdout == payload
        cli.run("sync", here + "p/", there + "q/")
        cli.run("cp", "-r", there + "q/", str(tmp_path / "back"))
        assert _tree(tmp_path / "back") == _tree(tmp_path / "tree")
        assert cli.run("sync", "--dry-run", here + "p/", there + "q/").stdout == b""
    finally:
        cli.run("rb", "--force", here, ok=False)
        cli.run("rb", "--force", there, ok=False)


def test_ls_r_lists_every_page_and_stops_cleanly_when_the_reader_does(
    cli_for: Callable[..., tuple[Cli, dict[str, Any]]], bucket_name: str
) -> None:
    """More keys than a page (1,000): each page is asked for while the one
    before is printed; a reader that stops early ends the command at once."""
    from bucketbridge import CloudProviderFactory

    cli, configs = cli_for("local")
    names = [f"k/{index:05d}" for index in range(2003)]
    with CloudProviderFactory().create_provider("local", configs["local"]) as provider:
        bucket = provider.storage.buckets.create(bucket_name)
        for name in names:
            bucket.objects.create(name).upload(b"")
    listed = cli.run("ls", "-r", f"local://{bucket_name}/k/").stdout.decode().splitlines()
    assert listed == names
    rows = cli.run("ls", "-r", "--json", f"local://{bucket_name}/").stdout.splitlines()
    assert [json.loads(row)["key"] for row in rows] == names
    with cli.popen("ls", "-r", f"local://{bucket_name}/") as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline() == b"k/00000\n"
        process.stdout.close()
        assert process.wait(timeout=60) == 0
        assert process.stderr.read() == b""
