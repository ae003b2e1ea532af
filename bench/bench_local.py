"""LOCAL provider: bucketbridge against obstore's LocalStore and cp.

    python bench/bench_local.py              # issue 13's rows: 512 MiB, 10,000 keys, 5 rounds
    python bench/bench_local.py --quick      # small sizes, one round (the smoke test)
    python bench/bench_local.py --workdir /dev/shm --scenarios upload,download

The provider's root is in the work directory (``--workdir``, default /tmp).
There is no HTTP here, so no data planes: one bucketbridge contender. ``cp``
is the physical reference for moving the file (it is what the provider
does: copy a file into its root and out of it). The rows and their regimes:
bench/README.md.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import harness
import peers
from harness import DATA_BUCKET, SOURCE_KEY, Action, External, Row, Sizes

OURS = "bucketbridge"


@contextmanager
def server(work: Path) -> Iterator[dict[str, Any]]:
    root = work / "root"
    root.mkdir()
    yield {"provider": "local", "config": {"local_root": str(root)}, "root": str(root)}


def rows(sizes: Sizes) -> list[Row]:
    movers = [OURS, "obstore", "cp"]
    return [
        Row("download", movers, "obstore", "warm"),
        Row("download", movers, "obstore", "cold"),
        Row("download-shm", movers, "cp", "warm"),
        Row("upload", movers, "obstore"),
        *(Row(s, [OURS, "obstore"], "obstore") for s in ("find", "list", "small-up", "small-down")),
    ]


def make_action(spec: dict[str, Any]) -> Action:
    contender, root = spec["contender"], Path(spec["server"]["root"])
    if contender == OURS:
        return peers.bucketbridge_action(spec)
    if contender == "obstore":
        from obstore.store import LocalStore

        return peers.obstore_action(spec, lambda bucket: LocalStore(root / bucket))
    if spec["scenario"] == "upload":
        return External(["cp", spec["path"], str(root / DATA_BUCKET / spec["key"])])
    return External(["cp", str(root / DATA_BUCKET / SOURCE_KEY), spec["path"]])


BENCH = harness.Bench(
    name="local",
    server=server,
    prepare=peers.fill,
    rows=rows,
    make_action=make_action,
    prime=peers.prime,
    versions=lambda server: {"cp": harness.command_version(["cp", "--version"])},
    check=peers.check,
)

if __name__ == "__main__":
    harness.main(BENCH, sys.argv[1:])
