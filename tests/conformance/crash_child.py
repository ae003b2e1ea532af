"""The process tests/conformance/test_crashes.py kills: it starts one transfer,
says ``under way`` on stdout once the first bytes have moved, and then waits
inside the progress callback, mid-transfer, for its ``kill -9``.

    python3 crash_child.py download BUCKET KEY PATH [--no-tmpfile]
    python3 crash_child.py upload BUCKET KEY SIZE

The provider comes from the environment: ``BB_CHILD_PROVIDER`` (a
ProviderList value) and ``BB_CHILD_CONFIG`` (its config, as JSON).
``--no-tmpfile`` makes every ``O_TMPFILE`` open fail as on a filesystem
without it, so the download takes bucketbridge/scratch.py's named fallback.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import time
from typing import Any

from bucketbridge import CloudProviderFactory, ProviderList, TransferConfig

PART = 5 * 1024 * 1024
UPLOAD_CONFIG = TransferConfig(threshold=PART, part_size=PART, max_concurrency=1)


def without_tmpfile() -> None:
    real_open = os.open

    def open_without_tmpfile(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(errno.EOPNOTSUPP, "O_TMPFILE is off for this test", path)
        return real_open(path, flags, mode, **kwargs)

    os.open = open_without_tmpfile


def stall(nbytes: int) -> None:
    """The progress callback: announce, then never return."""
    print(f"under way {nbytes}", flush=True)
    time.sleep(3600)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["download", "upload"])
    parser.add_argument("bucket")
    parser.add_argument("key")
    parser.add_argument("target", help="download: the destination path; upload: the size")
    parser.add_argument("--no-tmpfile", action="store_true")
    args = parser.parse_args()
    if args.no_tmpfile:
        without_tmpfile()
    provider = CloudProviderFactory().create_provider(
        ProviderList(os.environ["BB_CHILD_PROVIDER"]), json.loads(os.environ["BB_CHILD_CONFIG"])
    )
    bucket = provider.storage.buckets.get(args.bucket)
    assert bucket is not None
    if args.action == "download":
        obj = bucket.objects.get(args.key)
        assert obj is not None
        obj.download_to_file(args.target, progress=stall)
    else:
        data = os.urandom(int(args.target))
        bucket.objects.create(args.key).upload(data, UPLOAD_CONFIG, progress=stall)
    sys.exit("the transfer finished: it was meant to be killed first")


if __name__ == "__main__":
    main()
