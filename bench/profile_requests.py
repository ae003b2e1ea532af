"""Where a HEAD's and a listing page's client time goes on S3 (SeaweedFS), layer by layer.

    python bench/profile_requests.py                  # 2,000 calls each, medians
    python bench/profile_requests.py --profile core   # cProfile of one layer's HEAD loop

One process, one server, one keep-alive connection per contender; each
layer adds one layer of the library on top of the one before, so the
differences are each layer's cost:

- ``http.client``: a bare keep-alive loop, signed by the S3 driver's SigV4
  signer (the floor: Python's HTTP plus a signature);
- ``core``: ``HttpClient.send`` with the same signer (the data plane: pool,
  retries, response wrapper; issue 13's "core");
- ``wire``: the S3 driver's ``S3Wire`` call (its request building, error
  and header mapping, the listing's XML parsing);
- ``bucketbridge``: the public call (``objects.find(name=)``, one
  ``objects.list(limit=1000)`` page);
- ``obstore``: ``obstore.head`` / the first page of ``obstore.list``.

Figures are medians of per-call wall time, client CPU per call (process
time over the loop / calls) and the server's CPU per call (weed's).
SeaweedFS runs on the same two cores, so wall times include its share;
compare CPU to compare clients.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness  # noqa: F401  (puts this checkout first on sys.path)
import psutil

BUCKET = "profile-requests"
PAGE = 1000


def measure(
    call: Callable[[], object], calls: int, server_cpu: Callable[[], float]
) -> tuple[float, float, float]:
    """Median wall seconds per call, and CPU seconds per call of this
    process (the client) and of the server's processes."""
    call()  # the connection
    times = []
    served, cpu = server_cpu(), time.process_time()
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    cpu, served = time.process_time() - cpu, server_cpu() - served
    return statistics.median(times), cpu / calls, served / calls


def contenders(server: Any, provider: Any, key: str) -> dict[str, dict[str, Callable[[], object]]]:
    import obstore
    from obstore.store import S3Store

    from bucketbridge.dataplane.request import Request
    from bucketbridge.drivers.s3.listing import parse_list_body

    wire = provider.driver._wire
    signer, client, subject = wire._signer, wire._client, wire._subject.on(BUCKET, key)
    endpoint = wire.endpoint
    path = f"{endpoint.base_path}/{BUCKET}/{key}"
    listing = [("list-type", "2"), ("encoding-type", "url"), ("max-keys", str(PAGE))]

    connection = http.client.HTTPConnection(endpoint.host, endpoint.port)

    def bare(method: str, target: str, query: list[tuple[str, str]]) -> bytes:
        request = Request(method, endpoint, target, list(query), {"host": endpoint.netloc})
        request.headers["content-length"] = "0"
        signer.sign(request)
        connection.request(method, request.target(), headers=request.headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"bare {method}: {response.status}")
        return body

    def core(method: str, target: str, query: list[tuple[str, str]]) -> bytes:
        response = client.send(Request(method, endpoint, target, list(query)), signer, subject)
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"core {method}: {response.status}")
        return body

    bucket = provider.storage.buckets.get(BUCKET)
    store = S3Store(
        BUCKET,
        endpoint=server["endpoint"],
        access_key_id=server["access_key"],
        secret_access_key=server["secret_key"],
        region=server["region"],
        client_options={"allow_http": True},
    )

    def expect_page(count: int) -> None:
        if count != PAGE:
            raise SystemExit(f"a page of {count} keys, not {PAGE}")

    return {
        "head": {
            "http.client": lambda: bare("HEAD", path, []),
            "core": lambda: core("HEAD", path, []),
            "wire": lambda: wire.head_object(BUCKET, key),
            "bucketbridge": lambda: bucket.objects.find(name=key),
            "obstore": lambda: obstore.head(store, key),
        },
        "list page": {
            "http.client": lambda: bare("GET", f"{endpoint.base_path}/{BUCKET}", listing),
            "core": lambda: core("GET", f"{endpoint.base_path}/{BUCKET}", listing),
            "http.client + parse": lambda: expect_page(
                len(parse_list_body(bare("GET", f"{endpoint.base_path}/{BUCKET}", listing))[0])
            ),
            "wire": lambda: expect_page(
                len(wire.list_objects(BUCKET, prefix=None, start_after=None, max_keys=PAGE)[0])
            ),
            "bucketbridge": lambda: expect_page(len(bucket.objects.list(limit=PAGE))),
            "obstore": lambda: expect_page(len(next(iter(obstore.list(store, chunk_size=PAGE))))),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="HEADs per contender")
    parser.add_argument("--pages", type=int, default=200, help="listing pages per contender")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="cProfile this contender's HEAD loop instead")
    parser.add_argument("--sort", default="tottime", help="the profile's order (pstats' keys)")
    options = parser.parse_args()

    from harness import in_pool

    from bucketbridge import CloudProviderFactory, ProviderList
    from tests.servers.seaweedfs import start_seaweedfs

    with (
        tempfile.TemporaryDirectory(prefix="bench-profile-") as work,
        start_seaweedfs(Path(work) / "seaweedfs") as started,
    ):
        server = {
            "endpoint": started.endpoint_url,
            "access_key": started.access_key,
            "secret_key": started.secret_key,
            "region": started.region,
        }
        provider = CloudProviderFactory().create_provider(ProviderList.AWS, started.config())
        bucket = provider.storage.buckets.create(BUCKET)
        in_pool(16, PAGE, lambda i: bucket.objects.create(f"k/{i:05d}").upload(b"x"))
        key = f"k/{PAGE // 2:05d}"
        table = contenders(server, provider, key)
        if options.profile:
            call = table["head"][options.profile]
            call()
            profiler = cProfile.Profile(time.process_time)  # CPU, not waits
            profiler.enable()
            for _ in range(options.calls):
                call()
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stdout).sort_stats(options.sort).print_stats(40)
            return
        weed = psutil.Process().children(recursive=True)

        def server_cpu() -> float:
            return sum(sum(process.cpu_times()[:2]) for process in weed)

        results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for _ in range(options.rounds):
            for row, calls in table.items():
                count = options.calls if row == "head" else options.pages
                for name, call in calls.items():
                    results.setdefault((row, name), []).append(measure(call, count, server_cpu))
        provider.close()
    print(
        f"S3 on SeaweedFS, medians of {options.rounds} rounds;"
        " CPU = the client's process time, server = weed's"
    )
    print(f"{'row':10s} {'contender':22s} {'ms/call':>9s} {'CPU µs/call':>12s} {'server µs':>10s}")
    for (row, name), runs in results.items():
        wall = statistics.median(r[0] for r in runs) * 1000
        cpu = statistics.median(r[1] for r in runs) * 1e6
        served = statistics.median(r[2] for r in runs) * 1e6
        print(f"{row:10s} {name:22s} {wall:9.3f} {cpu:12.0f} {served:10.0f}")


if __name__ == "__main__":
    main()
