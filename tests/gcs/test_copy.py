"""Server-side copies on GCS (drivers/gcs/rewrite.py), on both data planes.

fake-gcs-server answers every rewrite in one call (it ignores
``maxBytesRewrittenPerCall``), so the rewrite-token loop is proven against
a scripted HTTP server below that answers as GCS does for a large object:
not done, a token, and the copy only on the last call.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bucketbridge import Bucket, CloudProvider, PreconditionFailedException, TransferConfig
from bucketbridge.drivers.records import ObjectInfo, WriteOptions
from tests.gcs.conftest import unique_bucket_name
from tests.servers.fake_gcs import GcsServer

MiB = 1024 * 1024
PLANES = ["lean", "sdk"]
SOURCE = {
    "name": "src",
    "bucket": "b1",
    "size": "3000",
    "updated": "2026-11-27T11:04:03.123Z",
    "md5Hash": "1B2M2Y8AsgTpgAmY7PhCfg==",
    "crc32c": "AAAAAA==",
    "generation": "7",
    "contentType": "text/plain",
    "metadata": {"bucketbridge-etag": "abc-3", "k": "v"},
}

# SOURCE as the core looked it up (info_of): the driver asks nothing more before the rewrite
LOOKED_UP = ObjectInfo(
    key="src",
    size=3000,
    last_modified=datetime(2026, 11, 27, 11, 4, 3, tzinfo=timezone.utc),
    etag="abc-3",
    content_type="text/plain",
    metadata={"k": "v"},
    revision="7/AAAAAA==",
)


@pytest.fixture(params=PLANES)
def planed(
    request: pytest.FixtureRequest,
    fake_gcs_server: GcsServer,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
) -> Iterator[tuple[CloudProvider, Bucket]]:
    provider = make_provider(fake_gcs_server.config(data_plane=request.param))
    bucket = provider.storage.buckets.create(unique_bucket_name())
    yield provider, bucket
    bucket.delete(delete_contents=True)


def test_metadata_that_needs_encoding_survives_the_copy(
    planed: tuple[CloudProvider, Bucket],
) -> None:
    provider, bucket = planed
    metadata = {"under_score-dash": 'a "quoted" \\ back%20slash; a=b & <c> {}', "plain": "x y"}
    source = bucket.objects.create("d/\u00e9t\u00e9 src?#.txt").upload(
        b"payload", content_type='text/plain; charset="utf-8"', metadata=metadata
    )
    assert provider.features.copies_objects is not None
    copied = source.copy_to(bucket, "d/copy \u00e9t\u00e9")
    stored = bucket.objects.get("d/copy \u00e9t\u00e9")
    assert stored is not None and copied.size == 7
    assert (stored.content_type, stored.metadata) == ('text/plain; charset="utf-8"', metadata)
    assert b"".join(stored.iter_content()) == b"payload"


def test_a_copy_of_a_replaced_generation_is_refused_and_stores_nothing(
    planed: tuple[CloudProvider, Bucket],
) -> None:
    provider, bucket = planed
    copies = provider.features.copies_objects
    assert copies is not None
    bucket.objects.create("src").upload(b"first")
    first = provider.driver.head_object(bucket.name, "src")
    assert first is not None
    bucket.objects.create("src").upload(b"second")
    with pytest.raises(PreconditionFailedException, match="replaced"):
        copies.copy_object(bucket.name, first, bucket.name, "dst", WriteOptions("text/plain"))
    assert bucket.objects.get("dst") is None


def test_a_create_only_copy_onto_an_existing_object_is_refused(
    planed: tuple[CloudProvider, Bucket],
) -> None:
    _, bucket = planed
    source = bucket.objects.create("src").upload(b"new")
    bucket.objects.create("dst").upload(b"kept")
    with pytest.raises(PreconditionFailedException):
        source.copy_to(bucket, "dst", overwrite=False)
    kept = bucket.objects.get("dst")
    assert kept is not None and b"".join(kept.iter_content()) == b"kept"


def test_a_copy_of_a_composed_object_keeps_its_etag(planed: tuple[CloudProvider, Bucket]) -> None:
    _, bucket = planed
    small = TransferConfig(threshold=5 * MiB, part_size=5 * MiB, max_concurrency=2)
    source = bucket.objects.create("big").upload(
        os.urandom(5 * MiB + 1), small, metadata={"k": "v"}
    )
    assert source.etag is not None and source.etag.endswith("-2")
    copied = source.copy_to(bucket, "big-copy")
    stored = bucket.objects.get("big-copy")
    assert stored is not None
    assert (copied.etag, stored.etag) == (source.etag, source.etag)
    assert stored.metadata == {"k": "v"}  # the etag's key stays hidden


# --- the rewrite-token loop, against a scripted server ------------------------


class _ScriptedGcs(BaseHTTPRequestHandler):
    """GCS's rewrite of a large object in three calls; what was asked is
    kept in ``server.calls``. ``server.gone`` answers the rewrite 404 and
    the object lookups with a newer generation (replaced since the core
    looked it up: the driver itself looks only to explain the 404)."""

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.endswith("/o/src"):
            newer = self.server.gone  # type: ignore[attr-defined]
            self._answer(200, {**SOURCE, "generation": "8" if newer else "7"})
        elif path.endswith("/b/b2"):
            self._answer(200, {"name": "b2"})
        else:
            self._answer(404, {"error": {"code": 404, "message": "No such object"}})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        calls: list[tuple[str, dict[str, str], Any]] = self.server.calls  # type: ignore[attr-defined]
        calls.append((url.path, query, body))
        if self.server.gone:  # type: ignore[attr-defined]
            self._answer(404, {"error": {"code": 404, "message": "No such object"}})
            return
        progress = {
            "kind": "storage#rewriteResponse",
            "objectSize": "3000",
            "totalBytesRewritten": str(1000 * len(calls)),
        }
        if len(calls) < 3:
            token = f"token-{len(calls)}"
            self._answer(200, {**progress, "done": False, "rewriteToken": token})
            return
        resource = {**SOURCE, "name": "dst", "bucket": "b2", "generation": "9", **body}
        self._answer(200, {**progress, "done": True, "resource": resource})


@pytest.fixture
def scripted() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedGcs)
    server.calls = []  # type: ignore[attr-defined]
    server.gone = False  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _scripted_provider(
    server: ThreadingHTTPServer, plane: str, make: Callable[[dict[str, Any]], CloudProvider]
) -> CloudProvider:
    host, port = server.server_address[:2]
    return make(
        {
            "gcp_endpoint_url": f"http://{host!s}:{port}",
            "gcp_anonymous": True,
            "gcp_project_name": "p",
            "data_plane": plane,
            "max_attempts": 1,
        }
    )


@pytest.mark.parametrize("plane", PLANES)
def test_a_rewrite_is_called_again_with_each_token_until_done(
    scripted: ThreadingHTTPServer,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    plane: str,
) -> None:
    provider = _scripted_provider(scripted, plane, make_provider)
    copies = provider.features.copies_objects
    assert copies is not None
    options = WriteOptions("text/x-\u00e9", {"caf\u00e9": "\u65e5 本"}, create_only=True)
    info = copies.copy_object("b1", LOOKED_UP, "b2", "dst", options)
    calls = scripted.calls  # type: ignore[attr-defined]
    assert [path for path, _, _ in calls] == ["/storage/v1/b/b1/o/src/rewriteTo/b/b2/o/dst"] * 3
    assert [query.get("rewriteToken") for _, query, _ in calls] == [None, "token-1", "token-2"]
    for _, query, body in calls:
        assert query["sourceGeneration"] == query["ifSourceGenerationMatch"] == "7"
        assert query["ifGenerationMatch"] == "0"
        # the options' type and metadata, and the composed source's etag
        assert body["contentType"] == "text/x-\u00e9"
        assert body["metadata"] == {"caf\u00e9": "\u65e5 本", "bucketbridge-etag": "abc-3"}
    assert (info.key, info.etag, info.metadata) == ("dst", "abc-3", {"caf\u00e9": "\u65e5 本"})


@pytest.mark.parametrize("plane", PLANES)
def test_a_source_replaced_between_the_look_and_the_rewrite_is_refused(
    scripted: ThreadingHTTPServer,
    make_provider: Callable[[dict[str, Any]], CloudProvider],
    plane: str,
) -> None:
    scripted.gone = True  # type: ignore[attr-defined]
    provider = _scripted_provider(scripted, plane, make_provider)
    copies = provider.features.copies_objects
    assert copies is not None
    with pytest.raises(PreconditionFailedException, match="replaced"):
        copies.copy_object("b1", LOOKED_UP, "b2", "dst", WriteOptions("text/plain"))
    assert len(scripted.calls) == 1  # type: ignore[attr-defined]
