"""Self-identifying payloads for tests that race or crash transfers.

Every payload starts with a header naming its writer, its sequence number and
its size; the rest is a pattern derived from the header. So bytes read back
name the payload they claim to be, which is rebuilt and compared whole: bytes
of two payloads mixed, cut short or shifted never pass.
"""

from __future__ import annotations

import hashlib
import re

HEADER = re.compile(rb"BBPAYLOAD w=(\d{3}) n=(\d{6}) size=(\d{10})\n")
HEADER_SIZE = len(b"BBPAYLOAD w=000 n=000000 size=0000000000\n")


def make_payload(writer: int, seq: int, size: int) -> bytes:
    if size < HEADER_SIZE:
        raise ValueError(f"a payload needs at least {HEADER_SIZE} bytes, not {size}")
    header = f"BBPAYLOAD w={writer:03d} n={seq:06d} size={size:010d}\n".encode()
    pattern = hashlib.sha256(header).digest()
    body = pattern * (-(-(size - len(header)) // len(pattern)))
    return header + body[: size - len(header)]


def payload_of(data: bytes) -> bytes:
    """The whole payload that ``data`` starts with (``data`` may be a prefix
    of it); AssertionError if ``data`` does not start with a header."""
    found = HEADER.match(data)
    assert found is not None, f"not a payload: {data[:60]!r}... ({len(data)} bytes)"
    return make_payload(int(found[1]), int(found[2]), int(found[3]))


def md5_etag(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def multipart_etag(data: bytes, part_size: int) -> str:
    """S3's etag of ``data`` uploaded in parts of ``part_size``: the MD5 of
    the parts' binary MD5s, a dash and the number of parts."""
    digests = [
        hashlib.md5(data[i : i + part_size], usedforsecurity=False).digest()
        for i in range(0, len(data), part_size)
    ]
    return f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"
