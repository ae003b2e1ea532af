"""OpenStack Swift: bucketbridge against python-swiftclient's SwiftService.

    python bench/bench_swift.py                      # 1 GiB, 10,000 objects, 2 rounds
    python bench/bench_swift.py --size-mib 256 --objects 2000 --rounds 3

It starts the test fixture's all-in-one Swift (tests/servers/swift.py) with
Swift's production limits (5 GiB objects, 1000 segments per manifest) and
times, alternating the order every round:

- upload: ``upload_from_file`` (SLO, 16 MiB parts, 8 in parallel) /
  ``SwiftService.upload`` with ``segment_size`` 16 MiB, ``use_slo`` and 8
  segment threads;
- download: ``download_to_file`` / ``SwiftService.download``; checked byte
  for byte in round 1;
- list: every object of a container of ``--objects``: ``list(bucket.objects)``
  / ``Connection.get_container(full_listing=True)``.

Each measurement runs in a fresh process that reports its time and its peak
RSS above what it held before it began (imports and clients not counted).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MiB = 1024 * 1024
PART = 16 * MiB
CLIENTS = ("bucketbridge", "swiftclient")
DATA, LISTED, KEY = "bench-data", "bench-list", "big.bin"


def _rss_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets VmHWM to the current RSS


def worker(client: str, scenario: str, url: str, token: str, path: str) -> dict[str, float]:
    if client == "bucketbridge":
        from bucketbridge import CloudProviderFactory, ProviderList, TransferConfig

        provider = CloudProviderFactory().create_provider(
            ProviderList.OPENSTACK, {"os_storage_url": url, "os_auth_token": token}
        )
        config = TransferConfig(threshold=PART, part_size=PART, max_concurrency=8)
        bucket = provider.storage.buckets.get(LISTED if scenario == "list" else DATA)
        assert bucket is not None
        run: Any = {
            "upload": lambda: bucket.objects.create(KEY).upload_from_file(path, config),
            "download": lambda: bucket.objects.get(KEY).download_to_file(path, config),
            "list": lambda: list(bucket.objects),
        }[scenario]
    else:
        from swiftclient.client import Connection
        from swiftclient.service import SwiftService, SwiftUploadObject

        options = {"os_storage_url": url, "os_auth_token": token, "segment_threads": 8}
        service = SwiftService(options=options)
        conn = Connection(preauthurl=url, preauthtoken=token)

        def upload() -> None:
            results = service.upload(
                DATA,
                [SwiftUploadObject(path, object_name=KEY)],
                options={"segment_size": PART, "use_slo": True},
            )
            assert all(r["success"] for r in results), results

        def download() -> None:
            results = service.download(DATA, [KEY], options={"out_file": path})
            assert all(r["success"] for r in results), results

        run = {
            "upload": upload,
            "download": download,
            "list": lambda: conn.get_container(LISTED, full_listing=True),
        }[scenario]
    _reset_peak()
    before = _rss_mib("VmRSS")
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mib": _rss_mib("VmHWM") - before}


def _measure(client: str, scenario: str, url: str, token: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", client, scenario, url, token, str(path)],
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"{client} {scenario} failed:\n{out.stderr[-3000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from swiftclient.client import Connection

    from tests.servers.swift import start_swift

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        root = Path(tmp)
        source = root / "source.bin"
        with open(source, "wb") as out:
            for _ in range(args.size_mib):
                out.write(os.urandom(MiB))
        with start_swift(root / "swift", max_file_size=5 * 1024**3 + 2, max_segments=1000) as sw:
            url, token = sw.auth()
            conn = Connection(preauthurl=url, preauthtoken=token)
            for name in (DATA, LISTED):
                conn.put_container(name)
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda i: conn_put(url, token, i), range(args.objects)))
            times: dict[tuple[str, str], list[dict[str, float]]] = {}
            for rnd in range(args.rounds):
                order = CLIENTS if rnd % 2 == 0 else CLIENTS[::-1]
                for scenario in ("upload", "download", "list"):
                    for client in order:
                        target = source if scenario == "upload" else root / f"{client}.out"
                        got = _measure(client, scenario, url, token, target)
                        times.setdefault((client, scenario), []).append(got)
                        if scenario == "download" and rnd == 0:
                            assert filecmp.cmp(source, target, shallow=False), client
        size = args.size_mib
        print(f"Swift 2.38 all-in-one, {size} MiB, {args.objects} objects, {args.rounds} rounds")
        for scenario in ("upload", "download", "list"):
            row = {}
            for client in CLIENTS:
                runs = times[(client, scenario)]
                row[client] = (
                    statistics.median(r["seconds"] for r in runs),
                    max(r["peak_mib"] for r in runs),
                )
            ratio = row["swiftclient"][0] / row["bucketbridge"][0]
            cells = "  ".join(
                f"{c}: {t:.2f} s"
                + (f" ({size / t:.0f} MiB/s)" if scenario != "list" else "")
                + f", peak +{m:.0f} MiB"
                for c, (t, m) in row.items()
            )
            print(f"{scenario:9} {cells}  ratio {ratio:.2f}x")


_conns: dict[int, Any] = {}


def conn_put(url: str, token: str, index: int) -> None:
    import threading

    from swiftclient.client import Connection

    conn = _conns.setdefault(threading.get_ident(), Connection(preauthurl=url, preauthtoken=token))
    conn.put_object(LISTED, f"obj/{index:06d}", b"x")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(json.dumps(worker(*sys.argv[2:7])))
    else:
        main()
