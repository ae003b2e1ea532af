"""The seed's OpenStack example, a provider from only ``os_storage_url`` and
``os_auth_token``, runs as written with the storage URL and token the fixture
obtains in place of the placeholders, followed by the rest of the walkthrough
on that provider: the signed-URL blocks make their provider with the
OpenStack example's call in place of their AWS one, and the block that only
makes an AWS provider is left out."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from bucketbridge import CloudProviderFactory, ProviderList
from tests.conformance.test_seed import assert_walkthrough_done, run_blocks, seed_blocks
from tests.servers.swift import SwiftServer
from tests.test_user_scripts import assert_exited_cleanly, run_script


def test_the_seed_walkthrough_runs_on_swift(
    swift_server: SwiftServer, spec_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUCKETBRIDGE_CONFIG", str(tmp_path / "none.ini"))
    storage_url, token = swift_server.auth()
    every = seed_blocks()
    (openstack,) = [block for block in every if "ProviderList.OPENSTACK" in block]
    aws_call = next(block for block in every if "ProviderList.AWS" in block).strip()
    blocks = [
        block.replace(aws_call, openstack.strip())
        for block in every
        if block.strip() != aws_call  # the block that only makes an AWS provider
    ]
    assert "'SWIFT_STORAGE_URL'" in openstack and not any("ProviderList.AWS" in b for b in blocks)
    blocks = [
        block.replace("'SWIFT_STORAGE_URL'", repr(storage_url)).replace(
            "'MY_SESSION_TOKEN'", repr(token)
        )
        for block in blocks
    ]
    config = {"os_storage_url": storage_url, "os_auth_token": token}
    provider = CloudProviderFactory().create_provider(ProviderList.OPENSTACK, config)
    namespace: dict[str, Any] = {
        "provider": provider,
        "CloudProviderFactory": CloudProviderFactory,
        "ProviderList": ProviderList,
        "container": "my-bucket",
        "source": str(spec_file),
    }
    try:
        run_blocks(blocks, namespace)
        assert namespace["provider"] is not provider  # the OpenStack block made its own
        assert_walkthrough_done(provider, spec_file)
    finally:
        leftover = provider.storage.buckets.get("my-bucket")
        if leftover is not None:
            leftover.delete(delete_contents=True)
        provider.close()
        if namespace["provider"] is not provider:
            namespace["provider"].close()


def test_a_users_script_on_swift_exits_by_itself(
    swift_server: SwiftServer, tmp_path: Path, swift: Any
) -> None:
    """The seed's OpenStack block, then a parallel SLO upload and a temp URL,
    in a script that never closes its provider: it must still exit."""
    storage_url, token = swift_server.auth()
    (openstack,) = [block for block in seed_blocks() if "ProviderList.OPENSTACK" in block]
    openstack = openstack.replace("'SWIFT_STORAGE_URL'", repr(storage_url))
    bucket_name = f"swt-script-{uuid.uuid4().hex[:8]}"
    code = (
        "from bucketbridge import CloudProviderFactory, ProviderList, TransferConfig\n"
        + openstack.replace("'MY_SESSION_TOKEN'", repr(token))
        + f"b = provider.storage.buckets.create({bucket_name!r})\n"
        "o = b.objects.create('big.bin').upload(b'x' * (11 << 20),"
        " TransferConfig(threshold=5 << 20, part_size=5 << 20, max_concurrency=4))\n"
        "print(o.generate_url(expires_in=60))\n"
    )
    try:
        result = run_script(code, tmp_path)
        assert_exited_cleanly(result)
        assert requests.get(result.stdout.strip(), timeout=30).content == b"x" * (11 << 20)
    finally:
        leftover = swift.storage.buckets.get(bucket_name)
        if leftover is not None:
            leftover.delete(delete_contents=True)
