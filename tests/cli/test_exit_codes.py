"""Each kind of failure has its exit code and one line on stderr naming the address."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli

USAGE, NOT_FOUND, PERMISSION, CONNECTION = 2, 3, 4, 5


def _fails(cli: Cli, code: int, *args: str, names: str | None = None) -> str:
    result = cli.run(*args, ok=False)
    stderr = result.stderr.decode()
    assert result.returncode == code, (args, result.returncode, stderr)
    assert stderr.startswith("bucketbridge: ") or stderr.startswith("usage: "), stderr
    if names is not None:
        assert names in stderr
        assert len(stderr.strip().splitlines()) == 1, stderr
    assert "Traceback" not in stderr
    return stderr


@pytest.mark.parametrize(
    "args",
    [
        ("ls", "nope://bucket"),
        ("cp", "a.txt", "b.txt"),
        ("cp", "-", "local://bucket/k", "-r"),
        ("ls", "local://Bad_Bucket"),
        ("--profile", "missing", "ls"),
        ("cp", "--part-size", "lots", "a", "local://b/k"),
        ("cp",),
        # a cluster runs batches between object prefixes only, and one at a time
        ("cp", "local://b/k", "local://c/k", "--dask", "tcp://127.0.0.1:9"),
        ("sync", ".", "local://b/p/", "--ray", "auto"),
        ("sync", "local://a/", "local://b/", "--dask", "tcp://127.0.0.1:9", "--ray", "auto"),
    ],
)
def test_usage_errors_exit_2(
    args: tuple[str, ...], cli_for: Callable[..., tuple[Cli, dict[str, Any]]]
) -> None:
    cli, _ = cli_for("local")
    _fails(cli, USAGE, *args)


def test_missing_things_exit_3_naming_them(
    cli_for: Callable[..., tuple[Cli, dict[str, Any]]], bucket_name: str
) -> None:
    cli, _ = cli_for("local")
    where = f"local://{bucket_name}"
    _fails(cli, NOT_FOUND, "ls", where + "/", names=where)
    cli.run("mb", where)
    _fails(cli, NOT_FOUND, "stat", where + "/nothing", names=where + "/nothing")
    _fails(cli, NOT_FOUND, "cat", where + "/nothing", names=where + "/nothing")
    _fails(cli, NOT_FOUND, "cp", "no-such-file.txt", where + "/k", names="no-such-file.txt")


def test_refused_credentials_exit_4(
    cli_for: Callable[..., tuple[Cli, dict[str, Any]]],
) -> None:
    cli, configs = cli_for("s3")
    cli.profiles["wrong"] = ("aws", {**configs["s3"], "aws_secret_key": "not-the-secret-key"})
    cli.write()
    stderr = _fails(cli, PERMISSION, "--profile", "wrong", "ls", "s3://", names="s3://")
    assert "not-the-secret-key" not in stderr


def test_unreachable_server_exits_5(cli_for: Callable[..., tuple[Cli, dict[str, Any]]]) -> None:
    cli, _ = cli_for("local")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cli.profiles["down"] = (
        "aws",
        {
            "s3_endpoint_url": f"http://127.0.0.1:{port}",
            "aws_access_key": "AKIDEXAMPLE",
            "aws_secret_key": "secret-secret-secret",
            "max_attempts": 1,
            "connect_timeout": 2,
        },
    )
    cli.write()
    _fails(cli, CONNECTION, "--profile", "down", "ls", "s3://bucket/", names="s3://bucket/")


def test_an_unreachable_cluster_exits_5_at_once_naming_it(
    cli_for: Callable[..., tuple[Cli, dict[str, Any]]], bucket_name: str
) -> None:
    """``--dask``/``--ray`` at an address nobody listens on: exit 5 naming it,
    not Ray's minutes of retries (nor Dask's 30 s) and not a traceback."""
    cli, _ = cli_for("local")
    cli.run("mb", f"local://{bucket_name}")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    where = f"local://{bucket_name}/"
    for option, address in (("--dask", f"tcp://127.0.0.1:{port}"), ("--ray", f"127.0.0.1:{port}")):
        stderr = _fails(cli, CONNECTION, "sync", where + "a/", where + "b/", option, address)
        assert f"{option} {address}" in stderr


def test_a_profile_applies_to_its_own_providers_addresses_only(
    cli_for: Callable[..., tuple[Cli, dict[str, Any]]], bucket_name: str
) -> None:
    """``--profile weed`` (provider = aws) sets up the s3:// side of a
    copy to az://, which keeps the config file's [azure] section; a command
    with no s3:// address is refused rather than run without the profile."""
    cli, configs = cli_for("s3", "azure")
    cli.profiles["weed"] = ("aws", configs["s3"])
    cli.sections.pop("aws")  # only the profile knows the endpoint now
    cli.write()
    s3, az = f"s3://{bucket_name}", f"az://{bucket_name}"
    cli.run("--profile", "weed", "mb", s3)
    cli.run("mb", az)
    try:
        assert f"{s3}/" in cli.run("ls", "--profile", "weed").stdout.decode()
        cli.run("--profile", "weed", "cp", "-", f"{s3}/k", input=b"through the profile")
        cli.run("--profile", "weed", "cp", f"{s3}/k", f"{az}/k")
        assert cli.run("cat", f"{az}/k").stdout == b"through the profile"
        stderr = _fails(cli, USAGE, "--profile", "weed", "ls", f"{az}/", names=f"{az}/")
        assert "--profile weed is for s3:// addresses" in stderr
    finally:
        cli.run("--profile", "weed", "rb", "--force", s3)
        cli.run("rb", "--force", az, ok=False)


def test_a_partly_failed_recursive_copy_exits_1_naming_the_object(
    cli_for: Callable[..., tuple[Cli, dict[str, Any]]], bucket_name: str, tmp_path: Path
) -> None:
    cli, _ = cli_for("local")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "good.txt").write_bytes(b"good")
    (tree / "bad.").write_bytes(b"no object name ends with a dot")
    cli.run("mb", f"local://{bucket_name}")
    _fails(cli, 1, "cp", "-r", str(tree), f"local://{bucket_name}/", names=str(tree / "bad."))
    assert cli.run("ls", "-r", f"local://{bucket_name}").stdout == b"good.txt\n"
