"""Runs an all-in-one Swift (rings, then the object, container, account and
proxy servers) as ONE process group; executed by the Python of Swift's own
virtual environment, so it imports nothing of bucketbridge or the tests.

Usage: python swift_launcher.py ETC_DIR OBJECT_PORT CONTAINER_PORT ACCOUNT_PORT

Each Swift server calls ``os.setsid()`` when it drops privileges, which would
take it out of the group that tests/servers/process.py stops (and out of
reach of its watchdog); each child here disables that call before it runs
the server's own entry script. The launcher exits, with the code of the
first server that ended, as soon as any server ends, taking the others down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

SERVERS = ("object", "container", "account", "proxy")

CHILD = """\
import os, runpy, sys
os.setsid = lambda: None  # stay in the launcher's process group
script, conf, addons = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.append(addons)  # the proxy's memo_cache filter (bb_memo_cache)
# [swift-constraints] are read from /etc/swift/swift.conf at import unless
# told where swift.conf is before the server module is loaded
from swift.common import constraints, utils
utils.set_swift_dir(os.path.dirname(conf))
constraints.reload_constraints()
sys.argv = [script, conf, "-v"]
runpy.run_path(script, run_name="__main__")
"""


def build_rings(etc: Path, ports: list[int]) -> None:
    """1 replica, 1 device, part power 8: Swift's RingBuilder API in this
    process (the swift-ring-builder CLI costs ~0.45 s per call)."""
    from swift.common.ring import RingBuilder

    for name, port in zip(("object", "container", "account"), ports, strict=True):
        builder = RingBuilder(8, 1, 1)
        builder.add_dev(
            {
                "id": 0,
                "region": 1,
                "zone": 1,
                "ip": "127.0.0.1",
                "port": port,
                "device": "d1",
                "weight": 100,
                "meta": "",
            }
        )
        builder.rebalance()
        builder.save(str(etc / f"{name}.builder"))
        builder.get_ring().save(str(etc / f"{name}.ring.gz"))


def main() -> int:
    etc = Path(sys.argv[1])
    build_rings(etc, [int(port) for port in sys.argv[2:5]])
    bin_dir = Path(sys.executable).parent
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-c",
                CHILD,
                str(bin_dir / f"swift-{name}-server"),
                str(etc / f"{name}-server.conf"),
                str(Path(__file__).with_name("swift_addons")),
            ]
        )
        for name in SERVERS
    ]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        _, status = os.wait()
        return os.waitstatus_to_exitcode(status) or 1
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()


if __name__ == "__main__":
    sys.exit(main())
