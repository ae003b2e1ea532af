"""Azure Blob on Azurite: bucketbridge (lean and SDK data planes) against obstore,
azure-storage-blob and curl.

    python bench/bench_azure.py              # issue 13's rows: 512 MiB, 10,000 blobs, 5 rounds
    python bench/bench_azure.py --quick      # small sizes, one round (the smoke test)

Azurite keeps blobs in files under the work directory and runs ``--loose``,
so the client does against it what it does against Azure: bucketbridge's
default (``azure_checksum = auto``) sends each block's CRC-64, which loose
Azurite ignores (strict Azurite refuses it, and the default would fall back
to MD5, which Azurite would then verify in node on the same cores). So in
the upload row no server checks a checksum: obstore and the SDK send none,
and Azurite does not check the CRC-64. tests/azure/test_checksum_auto.py
proves the checksum both ways (the CRC-64 goes out with the right value;
strict Azurite gets, and verifies, MD5). Peers at their best
use: the SDK's ``download_blob(max_concurrency=8).readinto(file)`` and
``upload_blob(max_concurrency=8)`` with 16 MiB blocks, paged ``list_blobs``,
``get_blob_properties``, ``upload_blob`` / ``download_blob`` from a thread
pool of the same width; obstore as in bench/peers.py; curl with a read SAS
URL as the physical reference. The rows and their regimes: bench/README.md.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import harness
import peers
from harness import DATA_BUCKET, LIST_BUCKET, SMALL_BUCKET, Action, External, MiB, expect, in_pool

SDK = "azure-storage-blob"
CONCURRENCY = 8


@contextmanager
def server(work: Path) -> Iterator[dict[str, Any]]:
    from tests.servers.azurite import start_azurite

    # --loose: see the module doc (the CRC-64 header is ignored, not refused)
    with start_azurite(work / "azurite", in_memory=False, loose=True) as started:
        yield {
            "provider": "azure",
            "config": started.config(),
            "endpoint": started.endpoint_url,
            "account": started.account,
            "account_key": started.account_key,
            "connection_string": started.connection_string,
        }


def _sdk(spec: dict[str, Any]) -> Action:
    from azure.storage.blob import BlobServiceClient

    scenario, key, path = spec["scenario"], spec["key"], spec["path"]
    service = BlobServiceClient.from_connection_string(
        spec["server"]["connection_string"], max_block_size=16 * MiB, max_single_put_size=32 * MiB
    )
    if scenario in ("download", "download-shm"):
        blob = service.get_blob_client(DATA_BUCKET, key)

        def download() -> None:
            with open(path, "wb") as target:
                blob.download_blob(max_concurrency=CONCURRENCY).readinto(target)

        return download
    if scenario == "upload":
        blob = service.get_blob_client(DATA_BUCKET, key)

        def upload() -> None:
            with open(path, "rb") as source:
                blob.upload_blob(source, overwrite=True, max_concurrency=CONCURRENCY)

        return upload
    if scenario == "find":
        found = service.get_blob_client(LIST_BUCKET, key)
        return lambda: found.get_blob_properties()
    if scenario == "list":
        listed = service.get_container_client(LIST_BUCKET)
        return lambda: expect(sum(1 for _ in listed.list_blobs()), spec["objects"], "keys")
    small = service.get_container_client(SMALL_BUCKET)
    count, size = spec["small"], spec["small_size"]
    if scenario == "small-up":
        payloads = [harness.small_payload(i, size) for i in range(count)]
        return lambda: in_pool(
            spec["width"],
            count,
            lambda i: small.upload_blob(harness.small_key(key, i), payloads[i], overwrite=True),
        )
    return lambda: in_pool(
        spec["width"],
        count,
        lambda i: expect(
            len(small.download_blob(harness.small_key(key, i)).readall()), size, "bytes"
        ),
    )


def _obstore_store(server: dict[str, Any]) -> Any:
    from obstore.store import AzureStore

    def store(container: str) -> Any:
        return AzureStore(
            container,
            account_name=server["account"],
            account_key=server["account_key"],
            endpoint=server["endpoint"],
            client_options={"allow_http": True},
        )

    return store


def _sas_url(server: dict[str, Any], key: str) -> str:
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    sas = generate_blob_sas(
        server["account"],
        DATA_BUCKET,
        key,
        account_key=server["account_key"],
        permission=BlobSasPermissions(read=True),
        expiry=datetime.now(timezone.utc) + timedelta(hours=2),
    )
    return f"{server['endpoint']}/{DATA_BUCKET}/{key}?{sas}"


def make_action(spec: dict[str, Any]) -> Action:
    contender = spec["contender"]
    if contender.startswith("bucketbridge"):
        return peers.bucketbridge_action(spec)
    if contender == "obstore":
        return peers.obstore_action(spec, _obstore_store(spec["server"]))
    if contender == "curl":
        url = _sas_url(spec["server"], spec["key"])
        return External(["curl", "-sS", "--fail", "-o", spec["path"], url])
    return _sdk(spec)


def versions(server: dict[str, Any]) -> dict[str, str]:
    import json

    from tests.servers.azurite import PREFIX

    package = PREFIX / "node_modules" / "azurite" / "package.json"
    return {"Azurite": json.loads(package.read_text()).get("version", "?")}


BENCH = harness.Bench(
    name="azure",
    server=server,
    prepare=peers.fill,
    rows=lambda sizes: peers.standard_rows(sizes, SDK),
    make_action=make_action,
    prime=peers.prime,
    versions=versions,
    check=peers.check,
)

if __name__ == "__main__":
    harness.main(BENCH, sys.argv[1:])
