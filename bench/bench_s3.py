"""S3 on SeaweedFS: bucketbridge (lean and SDK data planes) against obstore, boto3, curl.

    python bench/bench_s3.py                 # issue 13's rows: 512 MiB, 10,000 keys, 5 rounds
    python bench/bench_s3.py --quick         # small sizes, one round (the smoke test)
    python bench/bench_s3.py --scenarios find,list --rounds 3 --markdown

Peers at their best use: boto3's transfer manager (``download_file`` /
``upload_file``), its paginator, ``head_object``, ``put_object`` /
``get_object`` from a thread pool of the same width; obstore as in
bench/peers.py; curl with a presigned URL (the server checks a signature
either way) as the physical reference for the download into /dev/shm.
The rows and their regimes: bench/README.md.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import harness
import peers
from harness import DATA_BUCKET, LIST_BUCKET, SMALL_BUCKET, Action, External, expect, in_pool

if TYPE_CHECKING:
    from tests.servers.certs import Certificates

SDK = "boto3"


@contextmanager
def server(work: Path, tls: Certificates | None = None) -> Iterator[dict[str, Any]]:
    """SeaweedFS, over https with its own TLS if ``tls`` (``--tls``): every
    contender checks its certificate against the run's CA (bucketbridge by
    ``ca_bundle``; boto3 and curl by the environment harness.tls_environment
    sets; obstore by its client options)."""
    from tests.servers.seaweedfs import start_seaweedfs

    with start_seaweedfs(work / "seaweedfs", tls=tls) as started:
        yield {
            "provider": "aws",
            "config": started.config(**({"ca_bundle": str(tls.ca_file)} if tls else {})),
            "endpoint": started.endpoint_url,
            "access_key": started.access_key,
            "secret_key": started.secret_key,
            "region": started.region,
            "ca_file": str(tls.ca_file) if tls is not None else None,
        }


def _boto3(server: dict[str, Any], width: int = 10) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=server["endpoint"],
        aws_access_key_id=server["access_key"],
        aws_secret_access_key=server["secret_key"],
        region_name=server["region"],
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=max(10, width)),
    )


def _sdk(spec: dict[str, Any]) -> Action:
    scenario, key, path = spec["scenario"], spec["key"], spec["path"]
    client = _boto3(spec["server"], spec["width"])
    if scenario in ("download", "download-shm"):
        return lambda: client.download_file(DATA_BUCKET, key, path)
    if scenario == "upload":
        return lambda: client.upload_file(path, DATA_BUCKET, key)
    if scenario == "find":
        return lambda: client.head_object(Bucket=LIST_BUCKET, Key=key)
    if scenario == "list":

        def paginate() -> None:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=LIST_BUCKET)
            expect(sum(len(page.get("Contents", [])) for page in pages), spec["objects"], "keys")

        return paginate
    count, size = spec["small"], spec["small_size"]
    if scenario == "small-up":
        payloads = [harness.small_payload(i, size) for i in range(count)]
        return lambda: in_pool(
            spec["width"],
            count,
            lambda i: client.put_object(
                Bucket=SMALL_BUCKET, Key=harness.small_key(key, i), Body=payloads[i]
            ),
        )
    return lambda: in_pool(
        spec["width"],
        count,
        lambda i: expect(
            len(
                client.get_object(Bucket=SMALL_BUCKET, Key=harness.small_key(key, i))["Body"].read()
            ),
            size,
            "bytes",
        ),
    )


def _obstore_store(server: dict[str, Any]) -> Any:
    from obstore.store import S3Store

    def store(bucket: str) -> Any:
        return S3Store(
            bucket,
            endpoint=server["endpoint"],
            access_key_id=server["access_key"],
            secret_access_key=server["secret_key"],
            region=server["region"],
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
        url = _boto3(spec["server"]).generate_presigned_url(
            "get_object", Params={"Bucket": DATA_BUCKET, "Key": spec["key"]}, ExpiresIn=3600
        )
        return External(["curl", "-sS", "--fail", "-o", spec["path"], url])
    return _sdk(spec)


def versions(server: dict[str, Any]) -> dict[str, str]:
    return {
        "SeaweedFS": harness.command_version(["weed", "version"]),
        "curl": harness.command_version(["curl", "--version"]).split()[1],
    }


BENCH = harness.Bench(
    name="s3",
    server=server,
    prepare=peers.fill,
    rows=lambda sizes: peers.standard_rows(sizes, SDK),
    make_action=make_action,
    prime=peers.prime,
    versions=versions,
    check=peers.check,
    tls_server=server,
)

if __name__ == "__main__":
    harness.main(BENCH, sys.argv[1:])
