"""The ``bucketbridge`` command run as a user runs it: ``python -m
bucketbridge`` in a subprocess, configured through a config file
(``BUCKETBRIDGE_CONFIG``) that holds a section for every running server.

Multipart thresholds are lowered to the 5 MiB minimum in that file, so a
6 MiB payload goes up in parts on every provider and the tests stay small.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import bucketbridge

REPO = Path(bucketbridge.__file__).resolve().parent.parent
PART = 5 * 1024 * 1024

# backend -> (address scheme, provider id, session fixture of its server)
BACKENDS: dict[str, tuple[str, str, str | None]] = {
    "local": ("local", "local", None),
    "s3": ("s3", "aws", "seaweedfs_server"),
    "azure": ("az", "azure", "azurite_server"),
    "gcs": ("gs", "gcp", "fake_gcs_server"),
    "swift": ("swift", "openstack", "swift_server"),
}


def _ini_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, dict) else str(value)


@dataclass
class Cli:
    """Runs the command with the config file of the servers it was given."""

    home: Path
    config_file: Path
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    profiles: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def write(self) -> None:
        lines: list[str] = []
        for name, values in self.sections.items():
            lines.append(f"[{name}]")
            lines += [f"{key} = {_ini_value(value)}" for key, value in values.items()]
        for name, (provider_id, values) in self.profiles.items():
            lines += [f"[profile {name}]", f"provider = {provider_id}"]
            lines += [f"{key} = {_ini_value(value)}" for key, value in values.items()]
        self.config_file.write_text("\n".join(lines) + "\n")

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key != "LOCAL_ROOT"}
        env["BUCKETBRIDGE_CONFIG"] = str(self.config_file)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "bucketbridge", *args]

    def run(
        self, *args: str, input: bytes | None = None, ok: bool = True, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run(
            self.command(*args),
            input=input,
            capture_output=True,
            env=self.env(),
            cwd=cwd or self.home,
            timeout=180,
            check=False,
        )
        if ok:
            assert result.returncode == 0, (args, result.returncode, result.stderr.decode())
        return result

    def popen(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.command(*args),
            env=self.env(),
            cwd=self.home,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )


@pytest.fixture
def cli_for(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[..., tuple[Cli, dict[str, Any]]]:
    """``cli_for(*backends)``: a Cli configured for those backends' servers
    (started on first use), and each backend's provider config."""
    cli = Cli(tmp_path, tmp_path / "config.ini")
    configs: dict[str, dict[str, Any]] = {}

    def make(*backends: str) -> tuple[Cli, dict[str, Any]]:
        for backend in backends:
            _, provider_id, server = BACKENDS[backend]
            extra = {"multipart_threshold": PART, "multipart_part_size": PART}
            if server is None:
                config = {"local_root": str(tmp_path / "local-root"), **extra}
            else:
                config = request.getfixturevalue(server).config(**extra)
            configs[backend] = config
            cli.sections[provider_id] = config
        cli.write()
        return cli, configs

    return make


@pytest.fixture
def bucket_name() -> Iterator[str]:
    yield f"cli-{uuid.uuid4().hex[:10]}"


def address(backend: str, bucket: str, key: str = "") -> str:
    return f"{BACKENDS[backend][0]}://{bucket}/{key}"
