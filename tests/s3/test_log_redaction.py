"""With logging at DEBUG, a full run on a real server leaks no configured
secret, session token or request signature into any log record (issue 7,
item 2): botocore logs signed headers, the canonical request and each
signature; urllib3 logs request URLs, presigned queries included.

Every record of every logger is captured by a handler on the root logger, as
a user's own handler would be, and grepped in its formatted form.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from bucketbridge import CloudProvider, TransferConfig
from bucketbridge.drivers.parts import MIN_PART_SIZE
from tests.s3.conftest import unique_bucket_name
from tests.servers.moto import MotoServer
from tests.servers.seaweedfs import S3Server

SMALL_PARTS = TransferConfig(threshold=MIN_PART_SIZE, part_size=MIN_PART_SIZE, max_concurrency=2)
MULTIPART_BODY = b"m" * (2 * MIN_PART_SIZE + 1234)


class _Capture(logging.Handler):
    """Keeps every record's full formatted text: message, traceback, stack."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.texts: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append((record.name, self.format(record)))


@pytest.fixture
def debug_log() -> Iterator[_Capture]:
    root = logging.getLogger()
    capture = _Capture()
    level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(level)


def _full_run(provider: CloudProvider, tmp_path: Path) -> list[str]:
    """Everything a user does, end to end; returns the signed URLs it made."""
    bucket = provider.storage.buckets.create(unique_bucket_name())
    try:
        small = bucket.objects.create("small.txt").upload(b"a small object")
        big = bucket.objects.create("big.bin").upload(MULTIPART_BODY, SMALL_PARTS)
        source = tmp_path / "source.bin"
        source.write_bytes(MULTIPART_BODY)
        bucket.objects.create("from-file.bin").upload_from_file(source, SMALL_PARTS)
        assert [o.name for o in bucket.objects.list()] == ["big.bin", "from-file.bin", "small.txt"]
        assert bucket.objects.find(name="small.txt")[0].name == "small.txt"

        target = tmp_path / "target.bin"
        big.download_to_file(target, SMALL_PARTS)
        assert target.read_bytes() == MULTIPART_BODY
        assert b"".join(small.iter_content()) == b"a small object"
        assert big.download_range(3, 4) == b"mmmm"

        read_url = small.generate_url(expires_in=600)
        assert requests.get(read_url, timeout=30).content == b"a small object"
        write_url = bucket.objects.create("put.txt").generate_url(expires_in=600, writable=True)
        assert requests.put(write_url, data=b"put", timeout=30).status_code == 200
        put = bucket.objects.get("put.txt")
        assert put is not None
        put.delete()
        return [read_url, write_url]
    finally:
        bucket.delete(delete_contents=True)


def _both_planes(
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    config: dict[str, Any],
    tmp_path: Path,
) -> list[str]:
    """The run on the lean plane (its own request records), then on the SDK
    (botocore's records: the lean plane makes every call of the run itself)."""
    urls = _full_run(make_provider(config), tmp_path)
    return urls + _full_run(make_provider({**config, "data_plane": "sdk"}), tmp_path)


def _signatures(urls: list[str]) -> list[str]:
    return [parse_qs(urlsplit(url).query)["X-Amz-Signature"][0] for url in urls]


def _assert_nothing_leaked(
    texts: list[tuple[str, str]], secrets: dict[str, str], signatures: list[str]
) -> None:
    shown = {
        **{f"{name} (URL-encoded)": quote(value, safe="") for name, value in secrets.items()},
        **secrets,
        **{f"X-Amz-Signature of URL {n}": value for n, value in enumerate(signatures)},
    }
    for logger, text in texts:
        for what, value in shown.items():
            assert value not in text, f"{what} is in a record of {logger}: {text[:300]!r}"
        # every other request's signature: 64 hex digits after 'Signature'
        for found in re.finditer(r"Signature(?:=|:\s*)([0-9a-f]{64})", text):
            raise AssertionError(f"a signature is in a record of {logger}: {found.group(0)!r}")

    # not vacuous: botocore's signed-request records were captured, redacted
    botocore = [text for logger, text in texts if logger.startswith("botocore.")]
    assert any("Sending http request" in text for text in botocore), "no botocore DEBUG record"
    assert any("uploadId=" in text for text in botocore), "no multipart upload was logged"
    assert any("'Authorization': b'***'" in text for text in botocore)
    assert any("Signature:\n***" in text for logger, text in texts if logger == "botocore.auth")
    assert any(
        "X-Amz-Signature=***" in text for logger, text in texts if logger.startswith("urllib3.")
    ), "urllib3 did not log the signed URL's request"


def test_debug_logs_of_a_run_with_a_session_token_hold_no_secret(
    moto_server: MotoServer,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    debug_log: _Capture,
    tmp_path: Path,
) -> None:
    # STS itself answers with the secrets: ask it before the capture starts
    config = moto_server.config()
    debug_log.texts.clear()
    urls = _both_planes(make_provider, config, tmp_path)

    assert parse_qs(urlsplit(urls[0]).query)["X-Amz-Security-Token"] == [
        config["aws_session_token"]
    ]
    texts = debug_log.texts
    _assert_nothing_leaked(
        texts,
        {
            "aws_secret_key": config["aws_secret_key"],
            "aws_session_token": config["aws_session_token"],
        },
        _signatures(urls),
    )
    assert any(
        "'X-Amz-Security-Token': b'***'" in text
        for logger, text in texts
        if logger == "botocore.endpoint"
    )
    assert any(
        "x-amz-security-token:***" in text for logger, text in texts if logger == "botocore.auth"
    )


def test_debug_logs_of_a_run_on_seaweedfs_hold_no_secret(
    seaweedfs_server: S3Server,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    debug_log: _Capture,
    tmp_path: Path,
) -> None:
    urls = _both_planes(make_provider, seaweedfs_server.config(), tmp_path)

    _assert_nothing_leaked(
        debug_log.texts, {"aws_secret_key": seaweedfs_server.secret_key}, _signatures(urls)
    )
