"""The seed's AWS code blocks run verbatim against the real AWS factory.

The config dicts stay exactly as written in docs/object_storage.rst
(``'ACCESS_KEY'``, ``'SECRET_KEY'``, ``'MY_SESSION_TOKEN'``); only the endpoint
comes from the environment, ``S3_ENDPOINT_URL``, as a user of a non-AWS server
would set it. moto accepts any credentials and token, so the blocks run there
verbatim. SeaweedFS knows the seed's key pair (tests/servers/seaweedfs.py) but
looks up a request that carries a session token among its STS credentials, so
it refuses the made-up 'MY_SESSION_TOKEN' (InvalidAccessKeyId): there the
verbatim dict must be refused with a hint naming aws_session_token, and the
blocks run with only the token line taken out. The OpenStack block is not AWS
and is left to the conformance suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bucketbridge import CloudProviderFactory, PermissionDeniedException, ProviderList
from tests.conformance.test_seed import assert_walkthrough_done, run_blocks, seed_blocks
from tests.servers.moto import MotoServer
from tests.servers.seaweedfs import S3Server

SEED_CONFIG = {
    "aws_access_key": "ACCESS_KEY",
    "aws_secret_key": "SECRET_KEY",
    "aws_session_token": "MY_SESSION_TOKEN",
}


def _aws_blocks() -> list[str]:
    blocks = [block for block in seed_blocks() if "ProviderList.OPENSTACK" not in block]
    aws = [block for block in blocks if "ProviderList.AWS" in block]
    assert len(aws) == 3 and all("'MY_SESSION_TOKEN'" in block for block in aws)
    return blocks


TOKEN_LINE = ",\n     'aws_session_token': 'MY_SESSION_TOKEN'"


def test_aws_blocks_run_verbatim_on_moto(
    moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spec_file: Path
) -> None:
    _run_blocks(moto_server.endpoint_url, _aws_blocks(), dict(SEED_CONFIG), monkeypatch, tmp_path)


def test_aws_blocks_on_seaweedfs(
    seaweedfs_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spec_file: Path
) -> None:
    monkeypatch.setenv("S3_ENDPOINT_URL", seaweedfs_server.endpoint_url)
    verbatim = CloudProviderFactory().create_provider(ProviderList.AWS, dict(SEED_CONFIG))
    with pytest.raises(PermissionDeniedException, match="aws_session_token"):
        verbatim.storage.buckets.get("my-bucket")
    verbatim.close()
    blocks = _aws_blocks()
    assert all(TOKEN_LINE in block for block in blocks if "ProviderList.AWS" in block)
    without_token = [block.replace(TOKEN_LINE, "") for block in blocks]
    config = {k: v for k, v in SEED_CONFIG.items() if k != "aws_session_token"}
    _run_blocks(seaweedfs_server.endpoint_url, without_token, config, monkeypatch, tmp_path)


def _run_blocks(
    endpoint: str,
    blocks: list[str],
    config: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("BUCKETBRIDGE_CONFIG", str(tmp_path / "none.ini"))
    source = Path("/path/to/myfile.txt")  # made by the spec_file fixture
    # the walkthrough's first blocks use a provider made before the prose
    # shows how: the seed's own AWS dict
    provider = CloudProviderFactory().create_provider(ProviderList.AWS, config)
    namespace: dict[str, Any] = {
        "provider": provider,
        "CloudProviderFactory": CloudProviderFactory,
        "ProviderList": ProviderList,
        "container": "my-bucket",
        "source": str(source),
    }
    try:

        def check_url(url: str) -> None:
            carries_token = "X-Amz-Security-Token=MY_SESSION_TOKEN" in url
            assert carries_token == ("aws_session_token" in config)

        run_blocks(blocks, namespace, check_url)
        assert namespace["provider"] is not provider  # the blocks made their own
        assert_walkthrough_done(provider, source)
    finally:
        leftover = provider.storage.buckets.get("my-bucket")
        if leftover is not None:
            leftover.delete(delete_contents=True)
        provider.close()
