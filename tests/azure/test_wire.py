"""The Azure hot calls on the lean data plane (drivers/azure/wire.py), on
Azurite: the records they make equal the SDK path's for the same objects,
their errors are the same exceptions, and a Put Block body that does not
match its MD5 is refused by the server."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from bucketbridge import Bucket, CloudProvider, InvalidValueException, TransferConfig
from bucketbridge.dataplane.multiplex import Answer
from bucketbridge.dataplane.response import FastMessage
from bucketbridge.drivers.azure.blocks import block_id, new_upload_id
from bucketbridge.drivers.azure.driver import AzureDriver
from bucketbridge.drivers.azure.wire import info_of, total_size
from bucketbridge.drivers.records import Body, ReadOptions, WriteOptions
from bucketbridge.errors import BucketBridgeException, ProviderInternalException
from tests.azure.conftest import MakeProvider
from tests.servers.azurite import AzuriteServer

MiB = 1024 * 1024
NAMES = ["one.bin", "dir/a b+c%.txt", "ünï/日本.bin", "a&b<c>\"q']]>", "multi.bin"]


def _driver(provider: CloudProvider) -> AzureDriver:
    driver: Any = provider.driver
    assert isinstance(driver, AzureDriver)
    return driver


@pytest.fixture
def planes(
    azurite_server: AzuriteServer, make_provider: MakeProvider
) -> tuple[AzureDriver, AzureDriver]:
    lean = _driver(make_provider(azurite_server.config()))
    sdk = _driver(make_provider(azurite_server.config(data_plane="sdk")))
    assert lean.wire is not None and sdk.wire is None
    return lean, sdk


def _fill(bucket: Bucket) -> None:
    for name in NAMES[:-1]:
        bucket.objects.create(name).upload(
            name.encode() * 100,
            content_type="text/x-test",
            metadata={"run-id": "7", "plain": "a b", "amp": "x&<y>"},
        )
    bucket.objects.create(NAMES[-1]).upload(
        b"m" * (6 * MiB),
        TransferConfig(threshold=5 * MiB, part_size=5 * MiB),
        metadata={"k": "v"},
    )


def test_head_list_and_read_records_equal_the_sdk_paths(
    azure_bucket: Bucket, planes: tuple[AzureDriver, AzureDriver]
) -> None:
    _fill(azure_bucket)
    lean, sdk = planes
    name = azure_bucket.name
    for key in NAMES:
        head = lean.head_object(name, key)
        assert head is not None and head == sdk.head_object(name, key)
        for options in (ReadOptions(), ReadOptions(start=3, end=50, chunk_size=7)):
            lean_read, sdk_read = (
                lean.read_object(name, key, options),
                sdk.read_object(name, key, options),
            )
            assert lean_read.info == sdk_read.info == head
            assert b"".join(lean_read) == b"".join(sdk_read)
    for limit in (2, 5000):
        lean_page = lean.list_objects(name, prefix=None, marker=None, limit=limit)
        sdk_page = sdk.list_objects(name, prefix=None, marker=None, limit=limit)
        assert lean_page.items == sdk_page.items
        assert (lean_page.next_marker is None) == (sdk_page.next_marker is None)
        if lean_page.next_marker:
            again = lean.list_objects(name, prefix=None, marker=sdk_page.next_marker, limit=limit)
            assert (
                again.items
                == sdk.list_objects(
                    name, prefix=None, marker=lean_page.next_marker, limit=limit
                ).items
            )
    assert [i.key for i in lean.list_objects(name, prefix="ünï/", marker=None, limit=10).items] == [
        NAMES[2]
    ]
    assert lean.head_object(name, "absent") is None is sdk.head_object(name, "absent")


def test_a_directory_level_is_the_same_on_both_planes_and_their_markers_interchange(
    azure_bucket: Bucket, planes: tuple[AzureDriver, AzureDriver]
) -> None:
    _fill(azure_bucket)
    for extra in ("dir/sub/x", "dir/sub/y", "dir/z"):
        azure_bucket.objects.create(extra).upload(b"z", metadata={"run-id": "8"})
    lean, sdk = planes
    name = azure_bucket.name
    for prefix in ("", "dir/"):
        whole = lean.list_directory(name, prefix=prefix, marker=None, limit=5000)
        assert whole == sdk.list_directory(name, prefix=prefix, marker=None, limit=5000)
        assert whole.next_marker is None
        # one entry a page, each page from the plane the last one did not ask
        seen: list[Any] = []
        marker: str | None = None
        for turn in range(10):
            page = (lean, sdk)[turn % 2].list_directory(name, prefix=prefix, marker=marker, limit=1)
            seen += [*page.objects, *page.directories]
            marker = page.next_marker
            if marker is None:
                break
        assert seen == sorted(
            [*whole.objects, *whole.directories],
            key=lambda item: item if isinstance(item, str) else item.key,
        )
    level = lean.list_directory(name, prefix="dir/", marker=None, limit=5000)
    assert (level.directories, [o.key for o in level.objects]) == (
        ["dir/sub/"],
        ["dir/a b+c%.txt", "dir/z"],
    )
    assert level.objects[1].metadata == {"run-id": "8"}


def _outcome(call: Any, driver: AzureDriver) -> tuple[type[BaseException], str] | None:
    try:
        call(driver)
    except BucketBridgeException as error:
        return type(error), str(error).split(" (")[0]
    return None


def test_errors_are_the_same_exceptions_on_both_paths(
    azure_bucket: Bucket, planes: tuple[AzureDriver, AzureDriver]
) -> None:
    azure_bucket.objects.create("there").upload(b"x")

    calls = [
        lambda d: d.head_object("no-such-container", "k"),
        lambda d: d.read_object(azure_bucket.name, "absent", ReadOptions()),
        lambda d: d.read_object("no-such-container", "k", ReadOptions()),
        lambda d: d.read_object(azure_bucket.name, "there", ReadOptions(if_revision='"0x1"')),
        lambda d: d.list_objects("no-such-container", prefix=None, marker=None, limit=10),
        lambda d: d.put_object(
            azure_bucket.name,
            "there",
            Body.of_bytes(b"y"),
            WriteOptions("text/plain", create_only=True),
        ),
        lambda d: d.put_object(
            "no-such-container", "k", Body.of_bytes(b"y"), WriteOptions("text/plain")
        ),
    ]
    lean, sdk = planes
    for call in calls:
        assert _outcome(call, lean) == _outcome(call, sdk)
    # a HEAD answers None (the core tells a missing bucket apart); the rest raise
    assert [_outcome(call, lean) is None for call in calls] == [True] + [False] * 6


def test_a_put_block_whose_body_does_not_match_its_md5_is_refused(
    azure_bucket: Bucket, planes: tuple[AzureDriver, AzureDriver]
) -> None:
    lean, _ = planes
    assert lean.wire is not None
    block = block_id(new_upload_id(), 1)
    wrong = hashlib.md5(b"not the body").hexdigest()
    with pytest.raises(InvalidValueException, match="HTTP 400"):
        lean.wire.put_block(azure_bucket.name, "k", block, Body.of_bytes(b"the body"), md5=wrong)
    right = hashlib.md5(b"the body").hexdigest()
    lean.wire.put_block(azure_bucket.name, "k", block, Body.of_bytes(b"the body"), md5=right)


def test_a_proxied_endpoint_and_data_plane_sdk_keep_the_sdk(
    make_provider: MakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK honours HTTP(S)_PROXY and the lean plane does not, so a
    proxied endpoint keeps every call on the SDK rather than bypass it."""
    config = {
        "azure_storage_account": "devstoreaccount1",
        "azure_account_key": "a2V5",
        "azure_endpoint_url": "http://blobs.example.test:10000/devstoreaccount1",
    }
    assert _driver(make_provider(config)).wire is not None
    assert _driver(make_provider({**config, "data_plane": "sdk"})).wire is None
    monkeypatch.setenv("http_proxy", "http://proxy.example.test:3128")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert _driver(make_provider(config)).wire is None


def _answer(head: str) -> Answer:
    """A whole answer whose head is ``head``'s CRLF lines, read as http11 reads them."""
    return Answer(200, "OK", FastMessage.of_block(head), b"x")


BLOB_HEAD = (
    "Content-Length: 1\r\nContent-Type: text/x-test\r\nContent-MD5: CY9rzUYh03PK3k6DJie09g==\r\n"
    'ETag: "0x8DD1"\r\nLast-Modified: Sun, 29 Nov 2026 07:00:00 GMT\r\nx-ms-meta-Run-Id: 7\r\n'
    "x-ms-meta-plain: a b\r\nx-ms-blob-type: BlockBlob"
)


def test_a_record_is_read_from_the_headers_it_needs() -> None:
    info = info_of("k", _answer(BLOB_HEAD), total_size(_answer(BLOB_HEAD)))
    assert (info.key, info.size, info.content_type) == ("k", 1, "text/x-test")
    assert info.etag == "098f6bcd4621d373cade4e832627b4f6"  # the MD5, in hex
    assert info.revision == '"0x8DD1"'
    assert info.metadata == {"run-id": "7", "plain": "a b"}  # names as Azure keeps them: lower case
    assert info.last_modified.isoformat() == "2026-11-29T07:00:00+00:00"


@pytest.mark.parametrize("missing", ["ETag", "Last-Modified"])
def test_an_answer_without_etag_or_last_modified_names_the_blob(missing: str) -> None:
    head = "\r\n".join(line for line in BLOB_HEAD.split("\r\n") if not line.startswith(missing))
    with pytest.raises(ProviderInternalException, match=rf"blob 'k'.*no {missing}"):
        info_of("k", _answer(head), 1)
