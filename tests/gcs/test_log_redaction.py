"""With logging at DEBUG, a run on fake-gcs-server with a service-account
key leaks neither the key nor a URL signature into any log record (urllib3
logs request URLs at DEBUG, signed ones included when they are fetched)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from bucketbridge import CloudProvider
from tests.gcs.conftest import unique_bucket_name
from tests.servers.fake_gcs import GcsServer


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


@pytest.fixture
def debug_log() -> Iterator[_Capture]:
    root = logging.getLogger()
    capture, level = _Capture(), root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(level)


def test_no_key_and_no_signature_in_debug_logs(
    gcs: CloudProvider, fake_gcs_server: GcsServer, debug_log: _Capture
) -> None:
    bucket = gcs.storage.buckets.create(unique_bucket_name())
    try:
        obj = bucket.objects.create("secret-check.txt")
        obj.upload(b"payload")
        urls = [obj.generate_url(60), obj.generate_url(60, writable=True)]
        assert requests.get(urls[0], timeout=10).content == b"payload"
    finally:
        bucket.delete(delete_contents=True)
    logged = "\n".join(debug_log.texts)
    assert "X-Goog-Signature=" in logged  # the signed GET was logged: the check can fail
    key_body = fake_gcs_server.service_account["private_key"].splitlines()[1]
    assert key_body not in logged
    for url in urls:
        signature = parse_qs(urlsplit(url).query)["X-Goog-Signature"][0]
        assert signature not in logged
