"""moto in server mode (PyPI moto[server]) on loopback: the session-token path.

The conformance backend ``s3_moto`` uses temporary credentials from moto's STS
(GetSessionToken), passed as ``aws_session_token`` exactly as the seed does.

What moto does NOT enforce (checked with moto 5.2): signatures (any key and
secret are accepted), presigned-URL signatures and expiry, the method a URL was
signed for, response-header overrides (ignored), ListBuckets paging
(MaxBuckets honoured but no ContinuationToken, creation order; the driver
pages such a list itself), duplicate bucket creation in us-east-1 (answered
200, as AWS does for your own bucket; the driver looks first), a part sent
to an aborted upload (500 Internal Server Error instead of 404 NoSuchUpload),
when an upload started (ListMultipartUploads answers the same ``Initiated``
of 2010-11-10 for every upload), metadata names holding ``_`` (its WSGI
server drops such headers), and the conditions of a server-side copy
(``copy_conditions``): ``x-amz-copy-source-if-match`` on CopyObject and
UploadPartCopy and ``If-None-Match: *`` on CopyObject are ignored, so a copy
of a replaced revision, or onto an existing object without overwrite,
succeeds (its CompleteMultipartUpload does honour ``If-None-Match``), and a
PutObject's metadata with its body (``metadata_with_body``: moto stores the
object, then sets its metadata, so a read racing the write may see the new
bytes with no metadata yet).
Those are proven on SeaweedFS instead; see ``UNENFORCED``.

No pytest here; the fixtures are made in tests/servers/fixtures.py.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from bucketbridge import ProviderList
from tests.servers.backend import ServerBackend
from tests.servers.process import free_ports, require_module, run_server, tcp_probe

INSTALL_HINT = "pip install 'moto[server]' (or pip install -e '.[test]')"
LONG_TERM_KEY = "AKIAMOTOLONGTERM"
LONG_TERM_SECRET = "moto-long-term-secret"

UNENFORCED = frozenset(
    {
        "signatures",
        "signed_url_expiry",
        "signed_url_method",
        "response_overrides",
        "no_such_upload",
        "upload_initiated",
        "metadata_underscores",
        "copy_conditions",
        "metadata_with_body",
    }
)
"""What the conformance suite cannot prove on this server (see the module doc)."""


@dataclass(frozen=True)
class SessionCredentials:
    access_key: str
    secret_key: str
    session_token: str


@dataclass(frozen=True)
class MotoServer:
    endpoint_url: str
    region: str = "us-east-1"

    def session_credentials(self) -> SessionCredentials:
        sts = boto3.client(
            "sts",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=LONG_TERM_KEY,
            aws_secret_access_key=LONG_TERM_SECRET,
            region_name=self.region,
        )
        issued = sts.get_session_token(DurationSeconds=3600)["Credentials"]
        return SessionCredentials(
            issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"]
        )

    def config(self, **extra: Any) -> dict[str, Any]:
        credentials = self.session_credentials()
        return {
            "aws_access_key": credentials.access_key,
            "aws_secret_key": credentials.secret_key,
            "aws_session_token": credentials.session_token,
            "s3_endpoint_url": self.endpoint_url,
            **extra,
        }


@contextmanager
def start_moto(root: Path) -> Iterator[MotoServer]:
    require_module("moto.server", INSTALL_HINT)
    require_module("flask", INSTALL_HINT)
    (port,) = free_ports(1)
    with run_server(
        "moto server",
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        log=root / "moto.log",
        cwd=root,
        ready=tcp_probe(port),
    ):
        yield MotoServer(f"http://127.0.0.1:{port}")


BACKEND = ServerBackend("moto_server", "s3_moto", start_moto, ProviderList.AWS, UNENFORCED)
