"""What reading a response's head costs the lean plane, without a server.

    python bench/response_heads.py

Times, best of 5 repeats of 100,000 in one process: ``RawResponse`` made
from the head a SeaweedFS HEAD answers (15 headers), and that plus S3's
``object_info`` (the record ``find`` returns), with no user metadata and
with one ``x-amz-meta-`` header. Every lean request pays the first; a HEAD
pays both. Compare two checkouts by running each one's copy.
"""

from __future__ import annotations

import timeit
from typing import Any

import harness  # noqa: F401  (puts this checkout first on sys.path)

from bucketbridge.dataplane.http11 import RawResponse
from bucketbridge.drivers.s3.wire import object_info

HEAD = (
    "HTTP/1.1 200 OK\r\nAccept-Ranges: bytes\r\n"
    'Content-Disposition: inline; filename="00500"\r\nContent-Length: 1\r\n'
    "Content-Type: application/octet-stream\r\nDate: Sun, 29 Nov 2026 04:33:00 GMT\r\n"
    'Etag: "9dd4e461268c8034f5c8564e155c67a6"\r\nLast-Modified: Sun, 29 Nov 2026 04:30:00 GMT\r\n'
    "Server: SeaweedFS S3\r\nX-Amz-Request-Id: 1732854780123456789\r\nVary: Origin\r\n"
    "X-Amz-Tagging-Count: 0\r\nX-Amz-Storage-Class: STANDARD\r\nX-Amz-Version-Id: null"
)
CALLS = 100_000


class Answered:
    """What object_info reads of a response: its headers, one or all."""

    def __init__(self, raw: RawResponse) -> None:
        self.headers = raw.msg

    def header(self, name: str) -> Any:
        return self.headers.get(name)

    def header_map(self) -> Any:
        from bucketbridge.dataplane.client import header_index

        return header_index(self.headers)


def best(call: Any) -> float:
    """µs a call, the best of 5 repeats."""
    return min(timeit.repeat(call, number=CALLS, repeat=5)) / CALLS * 1e6


def main() -> None:
    cases = (("no metadata", HEAD), ("one metadata header", HEAD + "\r\nX-Amz-Meta-K: v"))
    for label, head in cases:
        read = best(lambda head=head: RawResponse(None, "HEAD", head))  # type: ignore[arg-type]
        record = best(
            lambda head=head: object_info(
                "k/00500",
                Answered(RawResponse(None, "HEAD", head)),  # type: ignore[arg-type]
                1,
            )
        )
        print(f"{label:20s}  head read {read:5.2f} µs   + object_info {record:5.2f} µs")


if __name__ == "__main__":
    main()
