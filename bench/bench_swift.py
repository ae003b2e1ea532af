"""OpenStack Swift 2.38 all-in-one: bucketbridge (lean and SDK data planes) against
python-swiftclient and curl.

    SWIFT_VENV=... python bench/bench_swift.py            # issue 13's rows, 5 rounds
    SWIFT_VENV=... python bench/bench_swift.py --quick    # the smoke test's sizes

The test kit's Swift (tests/servers/swift.py) runs with Swift's production
limits (5 GiB objects, 1000 segments per manifest). obstore has no Swift
store, so the references are swiftclient at its best use (``SwiftService``
with 16 MiB SLO segments and 8 segment threads, ``SwiftService.download``,
``get_container(full_listing=True)``, ``head_object``, one ``Connection``
per thread of a pool of the same width for small objects) and curl with
the token (``X-Auth-Token``) as the physical reference. The rows and their
regimes: bench/README.md.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import harness
import peers
from harness import DATA_BUCKET, LIST_BUCKET, SMALL_BUCKET, Action, External, MiB, expect, in_pool

SDK = "swiftclient"
PART = 16 * MiB
NO_STORE = "obstore has no Swift store"


@contextmanager
def server(work: Path) -> Iterator[dict[str, Any]]:
    from tests.servers.swift import start_swift

    with start_swift(work / "swift", max_file_size=5 * 1024**3 + 2, max_segments=1000) as sw:
        url, token = sw.auth()
        yield {"provider": "openstack", "config": sw.config(), "url": url, "token": token}


def _sdk(spec: dict[str, Any]) -> Action:
    from swiftclient.client import Connection
    from swiftclient.service import SwiftService, SwiftUploadObject

    scenario, key, path = spec["scenario"], spec["key"], spec["path"]
    url, token = spec["server"]["url"], spec["server"]["token"]
    if scenario in ("download", "download-shm", "upload"):
        service = SwiftService(
            options={"os_storage_url": url, "os_auth_token": token, "segment_threads": 8}
        )

        def upload() -> None:
            results = service.upload(
                DATA_BUCKET,
                [SwiftUploadObject(path, object_name=key)],
                options={"segment_size": PART, "use_slo": True},
            )
            failed = [r for r in results if not r["success"]]
            if failed:
                raise SystemExit(f"swiftclient upload failed: {failed}")

        def download() -> None:
            results = service.download(DATA_BUCKET, [key], options={"out_file": path})
            failed = [r for r in results if not r["success"]]
            if failed:
                raise SystemExit(f"swiftclient download failed: {failed}")

        return upload if scenario == "upload" else download
    conn = Connection(preauthurl=url, preauthtoken=token)
    if scenario == "find":
        return lambda: conn.head_object(LIST_BUCKET, key)
    if scenario == "list":
        return lambda: expect(
            len(conn.get_container(LIST_BUCKET, full_listing=True)[1]), spec["objects"], "keys"
        )
    local = threading.local()  # swiftclient's Connection is not thread-safe: one per thread

    def connection() -> Any:
        if not hasattr(local, "conn"):
            local.conn = Connection(preauthurl=url, preauthtoken=token)
        return local.conn

    count, size = spec["small"], spec["small_size"]
    if scenario == "small-up":
        payloads = [harness.small_payload(i, size) for i in range(count)]
        return lambda: in_pool(
            spec["width"],
            count,
            lambda i: connection().put_object(SMALL_BUCKET, harness.small_key(key, i), payloads[i]),
        )
    return lambda: in_pool(
        spec["width"],
        count,
        lambda i: expect(
            len(connection().get_object(SMALL_BUCKET, harness.small_key(key, i))[1]),
            size,
            "bytes",
        ),
    )


def make_action(spec: dict[str, Any]) -> Action:
    contender = spec["contender"]
    if contender.startswith("bucketbridge"):
        return peers.bucketbridge_action(spec)
    if contender == "curl":
        server = spec["server"]
        return External(
            [
                "curl", "-sS", "--fail", "-o", spec["path"],
                "-H", f"X-Auth-Token: {server['token']}",
                f"{server['url']}/{DATA_BUCKET}/{spec['key']}",
            ]
        )  # fmt: skip
    return _sdk(spec)


def rows(sizes: harness.Sizes) -> list[harness.Row]:
    scenarios = harness.SCENARIOS
    made = peers.standard_rows(
        sizes, SDK, reference=SDK, na={(s, "obstore"): NO_STORE for s in scenarios}
    )
    return made


def versions(server: dict[str, Any]) -> dict[str, str]:
    from tests.servers.swift import swift_venv

    python = str(swift_venv() / "bin" / "python")
    return {
        "Swift": harness.command_version([python, "-c", "import swift; print(swift.__version__)"])
    }


BENCH = harness.Bench(
    name="swift",
    server=server,
    prepare=peers.fill,
    rows=rows,
    make_action=make_action,
    prime=peers.prime,
    versions=versions,
    check=peers.check,
)

if __name__ == "__main__":
    harness.main(BENCH, sys.argv[1:])
