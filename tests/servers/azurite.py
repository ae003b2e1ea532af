"""Azurite (npm ``azurite``), Microsoft's Blob Storage emulator, on loopback.

One ``azurite-blob`` per test session, in memory, on a free port, with the
emulator's documented development account (``devstoreaccount1``) and shared
key checked on every request. scripts/test.sh installs it with npm into
:data:`PREFIX` when it is missing.

What Azurite (3.35) does NOT do as Azure does; see ``UNENFORCED``:

- ``key_order``: it lists blob names in UTF-16 code-unit order (JavaScript's
  string order), so a name with a character beyond U+FFFF sorts before one
  with U+E000..U+FFFF; S3 and Azure sort by UTF-8 bytes. Paging still
  visits every name once.
- ``suffix_ranges``: a suffix range (``Range: bytes=-10``) gets the whole
  blob, with a broken ``Content-Range: bytes NaN-10/1024``.
- ``expiry_reason``: an expired SAS is refused (403) with the same
  ``AuthorizationFailure`` body as a bad signature, not saying it expired.

What it enforces (tests/azure proves each): the shared key (a wrong key is
403), SAS signatures (a changed ``sig``, ``se``, ``sp`` or an added ``rsct``
is 403), SAS expiry, SAS permissions (read-only cannot PUT, create+write
cannot GET), ``If-None-Match: *`` on Put Blob and Put Block List (409
BlobAlreadyExists), fixed-width block ids, and metadata names that are C#
identifiers.

No pytest here: bench/ starts the same server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bucketbridge import ProviderList
from tests.servers.backend import ServerBackend
from tests.servers.process import ServerStartError, free_ports, http_probe, run_server

ACCOUNT = "devstoreaccount1"
# Azurite's published development key, the same in every installation.
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
PREFIX = CACHE / "bucketbridge" / "azurite"
"""Where scripts/test.sh installs Azurite with ``npm install --prefix``."""
PROGRAM = PREFIX / "node_modules" / ".bin" / "azurite-blob"
INSTALL_HINT = f"npm install --prefix {PREFIX} azurite@3 (or bash scripts/test.sh)"

UNENFORCED = frozenset(
    {
        "key_order",
        "suffix_ranges",
        "expiry_reason",
    }
)
"""What the conformance suite cannot prove on this server (see the module doc)."""


@dataclass(frozen=True)
class AzuriteServer:
    endpoint_url: str
    account: str = ACCOUNT
    account_key: str = ACCOUNT_KEY

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account};"
            f"AccountKey={self.account_key};BlobEndpoint={self.endpoint_url};"
        )

    def config(self, **extra: Any) -> dict[str, Any]:
        return {
            "azure_storage_account": self.account,
            "azure_account_key": self.account_key,
            "azure_endpoint_url": self.endpoint_url,
            **extra,
        }


def server_busy_response() -> tuple[int, dict[str, str], bytes]:
    """What Azure answers when it throttles (status, headers, body): for a
    fault proxy that makes Azurite look busy. The SDK retries it."""
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code>'
        b"<Message>The server is currently unable to receive requests. Please retry your"
        b" request.</Message></Error>"
    )
    headers = {
        "Content-Type": "application/xml",
        "Content-Length": str(len(body)),
        "x-ms-error-code": "ServerBusy",
        "Retry-After": "1",
    }
    return 503, headers, body


@contextmanager
def start_azurite(
    root: Path, *, in_memory: bool = True, loose: bool = False
) -> Iterator[AzuriteServer]:
    """Run ``azurite-blob``; its blobs in memory, or (``in_memory=False``,
    for the benchmark's gigabytes) in files under ``root``. ``loose``
    ignores headers Azurite does not support, such as ``x-ms-content-crc64``,
    instead of refusing the request (500 FeatureNotSupported): the
    benchmarks run so, for the client to do what it does against Azure, and
    tests/azure/test_checksum_auto.py starts one to see the CRC-64 go out."""
    if not PROGRAM.is_file():
        raise ServerStartError(f"Azurite is not installed: run {INSTALL_HINT}")
    (port,) = free_ports(1)
    root.mkdir(parents=True, exist_ok=True)
    command = [
        str(PROGRAM),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        *(["--inMemoryPersistence"] if in_memory else ["--location", str(root)]),
        "--skipApiVersionCheck",  # newer SDKs send API versions Azurite does not know yet
        "--disableTelemetry",  # it would try to reach a telemetry host
        *(["--loose"] if loose else []),
    ]
    endpoint = f"http://127.0.0.1:{port}/{ACCOUNT}"
    with run_server("Azurite", command, log=root / "azurite.log", cwd=root,
                    ready=http_probe(endpoint)):  # fmt: skip
        yield AzuriteServer(endpoint)


BACKEND = ServerBackend(
    "azurite_server", "azure_azurite", start_azurite, ProviderList.AZURE, UNENFORCED
)
