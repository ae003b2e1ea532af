"""Does the shape of a GET's head change what Azurite spends on it?

    python bench/azurite_heads.py                      # 600 GETs a variant, 12 rounds
    python bench/azurite_heads.py --gets 1000 --rounds 4

Session 16 saw Azurite spend ~0.25 ms more CPU on each GET of ours than on
obstore's in the batch-down row (bench/batch_walls.py azure), with requests
of the same shape but for their heads: we send ``x-ms-version: 2026-10-06``
and ``x-ms-date``; obstore sends ``x-ms-version: 2023-11-03``, ``date``,
``accept: */*`` and a ``user-agent``. This sends 4 KiB GETs with each head in
turn -- ours, ours with each of obstore's differences, obstore's whole --
from one keep-alive ``http.client`` connection (one client for all, so only
the head differs), each signed with the driver's Shared Key signer, on one
file-backed Azurite as bench_azure.py runs it. Printed a variant: Azurite's
CPU-µs a GET (psutil: its processes' user + system over the loop) and the
loop's wall a GET, medians over the rounds, variants rotated round by round.
Sequential GETs leave Azurite's one event loop the wall: its CPU a GET is
about the wall a GET.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import harness  # noqa: F401  (puts this checkout first on sys.path)
import psutil

from bucketbridge import CloudProviderFactory, ProviderList
from bucketbridge.dataplane.request import Endpoint, Request
from bucketbridge.drivers.azure.signing import SharedKeySigner, http_date
from tests.servers.azurite import ACCOUNT, ACCOUNT_KEY, start_azurite

OURS_VERSION = "2026-10-06"
OBSTORE_VERSION = "2023-11-03"
OBSTORE_EXTRA = {"accept": "*/*", "user-agent": "object_store/0.14.2"}
BLOBS = 50
SIZE = 4096

Heads = Callable[[Endpoint, str], dict[str, str]]


def variant(version: str, date_header: str, extra: dict[str, str]) -> Heads:
    """A GET's headers, signed: ``date_header`` is ``x-ms-date`` (ours) or
    ``date`` (obstore's, signed in the standard Date field)."""
    signer = SharedKeySigner(ACCOUNT, ACCOUNT_KEY)

    def heads(endpoint: Endpoint, path: str) -> dict[str, str]:
        headers = {"x-ms-version": version, "content-length": "0", date_header: http_date()}
        digest = signer._hmac.digest(
            signer.string_to_sign(Request("GET", endpoint, path, [], dict(headers))).encode()
        )
        headers["authorization"] = f"SharedKey {ACCOUNT}:{base64.b64encode(digest).decode()}"
        return {**headers, **extra, "host": endpoint.netloc}

    return heads


VARIANTS: dict[str, Heads] = {
    "ours": variant(OURS_VERSION, "x-ms-date", {}),
    "ours, obstore's version": variant(OBSTORE_VERSION, "x-ms-date", {}),
    "ours, date": variant(OURS_VERSION, "date", {}),
    "ours, accept + agent": variant(OURS_VERSION, "x-ms-date", OBSTORE_EXTRA),
    "obstore's": variant(OBSTORE_VERSION, "date", OBSTORE_EXTRA),
}


def gets(endpoint: Endpoint, heads: Heads, count: int) -> None:
    connection = http.client.HTTPConnection(endpoint.host, endpoint.port)
    try:
        for index in range(count):
            path = f"{endpoint.base_path}/heads/blob-{index % BLOBS}"
            connection.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
            for name, value in heads(endpoint, path).items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            body = response.read()
            if response.status != 200 or len(body) != SIZE:
                raise SystemExit(f"GET {path}: {response.status} {body[:200]!r}")
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gets", type=int, default=600, help="GETs a variant and round")
    parser.add_argument("--rounds", type=int, default=12)
    options = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="azurite-heads-") as name,
        start_azurite(Path(name) / "azurite", in_memory=False, loose=True) as server,
    ):
        provider = CloudProviderFactory().create_provider(ProviderList.AZURE, server.config())
        container = provider.storage.buckets.create("heads")
        for index in range(BLOBS):
            container.objects.create(f"blob-{index}").upload(bytes([index]) * SIZE)
        provider.close()
        processes = psutil.Process().children(recursive=True)

        def server_cpu() -> float:
            return sum(sum(process.cpu_times()[:2]) for process in processes)

        endpoint = Endpoint.parse(server.endpoint_url)
        names = list(VARIANTS)
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        for number in range(options.rounds):
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:
                served, started = server_cpu(), time.perf_counter()
                gets(endpoint, VARIANTS[name], options.gets)
                wall = time.perf_counter() - started
                figures[name].append(
                    ((server_cpu() - served) / options.gets * 1e6, wall / options.gets * 1e6)
                )
        print(f"{options.gets} GETs of {SIZE} bytes a variant and round, {options.rounds} rounds")
        print(f"{'variant':26s} {'Azurite CPU-µs a GET':>20s} {'wall µs a GET':>15s}  (rounds)")
        for name, rows in figures.items():
            cpu = statistics.median(row[0] for row in rows)
            wall = statistics.median(row[1] for row in rows)
            each = ", ".join(f"{row[0]:.0f}" for row in rows)
            print(f"{name:26s} {cpu:20.0f} {wall:15.0f}   ({each})")


if __name__ == "__main__":
    main()
