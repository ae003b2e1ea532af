"""Metadata names Azure cannot hold (not C# identifiers) round-trip byte for
byte, stored under an encoding that depends on the name only."""

from __future__ import annotations

import pytest
from azure.storage.blob import ContainerClient

from bucketbridge import Bucket
from bucketbridge.drivers.azure.metadata import ETAG_NAME, decode, decode_name, encode_name

NAMES = ["owner", "run-id", "1st", "_x", "a_b", "bbx_raw", "x-", "-", "9", "a-_-b", "class"]


@pytest.mark.parametrize("name", NAMES)
def test_every_name_survives_encoding(name: str) -> None:
    stored = encode_name(name)
    assert stored.isidentifier() and stored.isascii()
    assert decode_name(stored) == name


def test_names_azure_can_hold_are_stored_as_they_are() -> None:
    assert encode_name("owner") == "owner" and encode_name("a_b") == "a_b"
    assert encode_name("run-id") == "bbx_run_2did"
    assert encode_name("bbx_raw") == "bbx_bbx_5fraw"  # our prefix is always encoded


def test_names_written_by_other_tools_read_back_lowercased() -> None:
    assert decode({"Owner": "x", "bbx_not_hex": "y"}) == ({"owner": "x", "bbx_not_hex": "y"}, None)
    assert decode({ETAG_NAME: "abc-2", "k": "v"}) == ({"k": "v"}, "abc-2")


def test_metadata_round_trips_through_azurite(
    azure_bucket: Bucket, container: ContainerClient
) -> None:
    metadata = {name: f"value of {name}" for name in NAMES}
    obj = azure_bucket.objects.create("meta.txt").upload(b"x", metadata=metadata)
    got = azure_bucket.objects.get("meta.txt")
    assert got is not None and got.metadata == metadata
    assert azure_bucket.objects.list()[0].metadata == metadata
    raw = container.get_blob_client("meta.txt").get_blob_properties().metadata
    assert raw["bbx_run_2did"] == "value of run-id"
    assert raw["owner"] == "value of owner"
    assert obj.metadata == metadata


def test_a_name_set_by_another_tool_is_read(
    azure_bucket: Bucket, container: ContainerClient
) -> None:
    container.upload_blob("other.txt", b"x", metadata={"Project": "p1", "cost_center": "7"})
    got = azure_bucket.objects.get("other.txt")
    assert got is not None and got.metadata == {"project": "p1", "cost_center": "7"}
