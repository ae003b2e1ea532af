"""What the command prints: requests with -v (never a secret), nothing but
results when piped, its version; and that it starts without the SDKs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bucketbridge
from tests.cli.conftest import PART, REPO, Cli, address


def test_verbose_logs_each_request_without_secrets(
    cli_for: Callable[..., tuple[Cli, dict[str, Any]]], bucket_name: str, tmp_path: Path
) -> None:
    cli, configs = cli_for("s3")
    cli.run("mb", f"s3://{bucket_name}")
    try:
        (tmp_path / "f.txt").write_bytes(b"data")
        quiet = cli.run("cp", str(tmp_path / "f.txt"), f"s3://{bucket_name}/f.txt")
        assert (quiet.stdout, quiet.stderr) == (b"", b"")  # piped: no bar, no summary
        stderr = cli.run("-v", "cat", f"s3://{bucket_name}/f.txt").stderr.decode()
        assert re.search(rf"GET \S*/{bucket_name}/f.txt\S* .*200", stderr), stderr
        assert configs["s3"]["aws_secret_key"] not in stderr
        assert "Signature=" not in stderr.replace("Signature=***", "")
    finally:
        cli.run("rb", "--force", f"s3://{bucket_name}", ok=False)


def test_version_everywhere(cli_for: Callable[..., tuple[Cli, dict[str, Any]]]) -> None:
    cli, _ = cli_for("local")
    shown = cli.run("--version").stdout.decode().strip()
    assert shown == f"bucketbridge {bucketbridge.__version__}"
    assert re.fullmatch(r"bucketbridge \d+\.\d+\.\d+\S*", shown)


def test_help_and_listing_local_import_no_sdk(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from bucketbridge.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        # --help only parses: no provider machinery, no logging
        "later = ('logging', 'traceback', 'bucketbridge.config', 'bucketbridge.factory')\n"
        "print('help:', sorted(m for m in later if m in sys.modules))\n"
        "main(['ls', 'local://'])\n"
        "sdks = ('boto3', 'botocore', 'azure', 'google', 'swiftclient', 'tqdm')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in sdks))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PYTHONPATH": str(REPO), "LOCAL_ROOT": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "exit codes:" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "help: []" in result.stdout.splitlines()


def test_a_tree_download_reads_each_small_object_in_one_request(
    cli_for: Callable[..., tuple[Cli, dict[str, Any]]], bucket_name: str, tmp_path: Path
) -> None:
    """The listing gave each object's size: a small one is one GET, no HEAD first."""
    cli, _ = cli_for("s3")
    cli.run("mb", f"s3://{bucket_name}")
    try:
        for name in ("a.txt", "b.txt", "c.txt"):
            cli.run("cp", "-", f"s3://{bucket_name}/t/{name}", input=name.encode())
        stderr = cli.run("-v", "cp", "-r", f"s3://{bucket_name}/t/", str(tmp_path / "d")).stderr
        requests = re.findall(r"\b(GET|HEAD|PUT) \S*", stderr.decode())
        assert sorted(set(requests)) == ["GET"], stderr.decode()
        assert len(requests) == 4  # the listing, and one GET an object
        assert (tmp_path / "d" / "c.txt").read_bytes() == b"c.txt"
    finally:
        cli.run("rb", "--force", f"s3://{bucket_name}", ok=False)


# backend -> the SDK modules its lean-plane commands must not load
LEAN_PLANE_SDKS = {
    # boto3 (~0.3 s to import and load its S3 model) and botocore's client
    "s3": ("boto3", "botocore.session", "botocore.client"),
    "azure": ("azure", "requests"),
    # anonymous access (the emulator's) needs no google-auth either
    "gcs": ("google.cloud", "google.api_core", "google.resumable_media", "google.auth", "requests"),
    "swift": ("swiftclient", "keystoneauth1", "requests"),
}


# backend -> the commands beyond ls/cat/stat/cp -r/sync that are lean there
# too: making and removing buckets (rb --force: DeleteObjects and the open
# uploads' list), a multipart upload (Create/Complete), signed URLs
LEAN_PLANE_EXTRAS: dict[str, tuple[str, ...]] = {"s3": ("mb", "rb", "multipart", "url")}


@pytest.mark.parametrize("backend", sorted(LEAN_PLANE_SDKS))
def test_lean_plane_commands_import_no_sdk(
    cli_for: Callable[..., tuple[Cli, dict[str, Any]]],
    bucket_name: str,
    tmp_path: Path,
    backend: str,
) -> None:
    """With the endpoint and credentials in the config, ls/cat/stat/cp -r/sync
    (and LEAN_PLANE_EXTRAS) take only lean-plane calls, so the provider's SDK
    (0.1-0.6 s of start-up each, the whole start-up of a small command) is
    never imported."""
    extras = LEAN_PLANE_EXTRAS.get(backend, ())
    cli, configs = cli_for(backend)
    if backend == "gcs":  # the key only signs URLs; parsing it takes google-auth
        del configs["gcs"]["gcp_service_creds_dict"]
        cli.write()
    root = address(backend, bucket_name)
    if "mb" not in extras:
        cli.run("mb", root)
    try:
        tree = tmp_path / "tree"
        tree.mkdir()
        for name in ("a.txt", "b.txt"):
            (tree / name).write_bytes(name.encode())
        lines = ["import sys", "from bucketbridge.cli import main", f"b = {root.rstrip('/')!r}"]
        if "mb" in extras:
            lines.append("assert main(['mb', b]) == 0")
        lines += [
            f"assert main(['-q', 'cp', '-r', {str(tree)!r}, b + '/t/']) == 0",
            f"assert main(['-q', 'sync', {str(tree)!r}, b + '/t/']) == 0",
            "assert main(['ls', '-r', b + '/']) == 0",
            "assert main(['stat', b + '/t/a.txt']) == 0",
            "assert main(['cat', b + '/t/b.txt']) == 0",
            f"assert main(['-q', 'cp', '-r', b + '/t/', {str(tmp_path / 'down')!r}]) == 0",
            "print()",  # cat's output ends without one
        ]
        if "multipart" in extras:  # above the config's 5 MiB threshold: in parts
            big = tmp_path / "big.bin"
            big.write_bytes(os.urandom(PART + 1024))
            lines.append(f"assert main(['-q', 'cp', {str(big)!r}, b + '/big.bin']) == 0")
        if "url" in extras:  # signed on the lean plane, and taken by the server
            lines += [
                "import contextlib, io, urllib.request",
                "shown = io.StringIO()",
                "with contextlib.redirect_stdout(shown):",
                "    assert main(['url', b + '/t/a.txt']) == 0",
                "with urllib.request.urlopen(shown.getvalue().strip(), timeout=30) as got:",
                "    assert got.read() == b'a.txt'",
            ]
        if "rb" in extras:
            lines += [
                "assert main(['rb', '--force', b]) == 0",
                "assert main(['ls', b + '/']) != 0",
            ]
        lines += [
            f"sdks = {LEAN_PLANE_SDKS[backend]!r}",
            "print(sorted(m for m in sys.modules if m.startswith(sdks)))",
        ]
        code = "\n".join(lines) + "\n"
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=cli.env(),
        )
        assert result.returncode == 0, result.stderr
        assert "t/a.txt" in result.stdout
        assert (tmp_path / "down" / "b.txt").read_bytes() == b"b.txt"
        assert result.stdout.strip().splitlines()[-1] == "[]"
    finally:
        cli.run("rb", "--force", root, ok=False)


# what ls/stat/cat must not import: the engines that move bytes (multipart
# transfers, scratch files, copies, sync, file trees) and the command
# module that drives them; ~10% of a listing's start-up on a local root
LISTING_SKIPS = (
    "bucketbridge.transfer",
    "bucketbridge.copying",
    "bucketbridge.sync",
    "bucketbridge.filetree",
    "bucketbridge.scratch",
    "bucketbridge.filesink",
    "bucketbridge.cli.transfers",
)


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_listing_and_reading_import_no_transfer_engine(
    cli_for: Callable[..., tuple[Cli, dict[str, Any]]], bucket_name: str, backend: str
) -> None:
    """ls, stat and cat list and read: they start without the transfer,
    copy and sync machinery that cp, mv and sync import."""
    cli, _ = cli_for(backend)
    root = address(backend, bucket_name)
    cli.run("mb", root)
    try:
        cli.run("cp", "-", root + "t/a.txt", input=b"a")
        code = "\n".join(
            [
                "import sys",
                "from bucketbridge.cli import main",
                f"b = {root!r}",
                "assert main(['ls', '-r', b]) == 0",
                "assert main(['ls', '-l', '--json', b + 't/']) == 0",
                "assert main(['stat', b + 't/a.txt']) == 0",
                "assert main(['cat', b + 't/a.txt']) == 0",
                "print()",  # cat's output ends without one
                f"skips = {LISTING_SKIPS!r}",
                "print(sorted(m for m in sys.modules if m in skips))",
            ]
        )
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=cli.env(),
        )
        assert result.returncode == 0, result.stderr
        assert "t/a.txt" in result.stdout
        assert result.stdout.strip().splitlines()[-1] == "[]"
    finally:
        cli.run("rb", "--force", root, ok=False)


@pytest.mark.parametrize(
    "value",
    [None, "plain", 'q"uote \\ back\nline\x01', "é€😀", 0, -7, 10**30, True, 1.5, [1, "x"]],
)
def test_ls_json_values_are_json_dumps_text(value: object) -> None:
    """``ls --json`` formats its lines without a json.dumps call a key: the
    text must stay exactly what json.dumps wrote, scripts compare it."""
    from bucketbridge.cli.output import json_object, json_value

    assert json_value(value) == json.dumps(value, default=str)
    fields = {"key": "k", "size": 3, "value": value}
    assert json_object(fields) == json.dumps(fields, default=str)


def test_listed_times_keep_their_text() -> None:
    """``ls -l`` and ``--json`` print BucketObject.last_modified: UTC,
    milliseconds cut (not rounded), ``Z``, whatever zone the driver gave."""
    from datetime import datetime, timedelta, timezone

    from bucketbridge.drivers.records import ObjectInfo
    from bucketbridge.resources import format_timestamp

    def text(moment: datetime) -> str:
        return format_timestamp(ObjectInfo(key="k", size=0, last_modified=moment))

    utc = timezone.utc
    assert text(datetime(2026, 11, 28, 1, 14, 13, tzinfo=utc)) == "2026-11-28T01:14:13.000Z"
    assert text(datetime(2026, 1, 2, 3, 4, 5, 999_999, utc)) == "2026-01-02T03:04:05.999Z"
    east = timezone(timedelta(hours=5, minutes=30))
    assert text(datetime(2026, 1, 1, 2, 0, 0, 1_500, east)) == "2025-12-31T20:30:00.001Z"
    assert text(datetime(999, 12, 31, 23, 59, 59, 0, utc)).endswith("-12-31T23:59:59.000Z")
