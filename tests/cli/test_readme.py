"""The README's tour and first commands run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bucketbridge import CloudProvider
from tests.cli.conftest import REPO, Cli

README = (REPO / "README.md").read_text(encoding="utf-8")


def _block(after: str, language: str) -> str:
    section = README[README.index(after) :]
    match = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert match is not None, f"no {language} block after {after!r}"
    return match.group(1)


def test_the_readme_opens_with_the_demo_and_the_test_command() -> None:
    first = _block("# bucketbridge", "bash").splitlines()
    assert [line.split("#")[0].strip() for line in first] == [
        "pip install . && bucketbridge demo",
        "bash scripts/test.sh",
    ]


def test_the_tour_runs_and_prints_what_its_comment_says(tmp_path: Path) -> None:
    code = _block("## A short tour", "python")
    env = {**os.environ, "LOCAL_ROOT": str(tmp_path / "root"), "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    comment = re.search(r"print\(obj.size, obj.last_modified, obj.etag\)\s+# (.*)", code)
    assert comment is not None
    size, _, etag = comment.group(1).split()
    printed = result.stdout.splitlines()[0].split()
    assert printed[0] == size and printed[2] == etag
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", printed[1])


def test_the_first_commands_run_as_written(
    cli_for: Callable[..., tuple[Cli, dict[str, Any]]],
    s3_seaweedfs_provider_factory: Callable[..., CloudProvider],
    tmp_path: Path,
) -> None:
    cli, _ = cli_for("local", "s3")
    backup = s3_seaweedfs_provider_factory().storage.buckets.create("backup")
    try:
        (tmp_path / "notes.txt").write_text("notes\n")
        (tmp_path / "photos").mkdir()
        (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8 a cat")
        script = (
            "set -euo pipefail\n"
            f'bucketbridge() {{ "{sys.executable}" -m bucketbridge "$@"; }}\n'
            + _block("## First commands", "bash")
        )
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=cli.env(),
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr.decode()
        assert b"hello" in result.stdout
        names = sorted(o.name for o in backup.objects)
        assert names == ["2026/hello.txt", "2026/notes.txt", "2026/photos/cat.jpg"]
    finally:
        backup.delete(delete_contents=True)
