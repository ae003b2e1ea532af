"""The seed's walkthrough as a user's script against Azurite, in its own
interpreter: every block verbatim but for the provider lines (Azure, from
the environment) and the signed PUT, which sends the ``x-ms-blob-type``
header the seed builds for Azure (tests/conformance/test_seed.py says why)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bucketbridge import CloudProviderFactory, ProviderList
from tests.conformance.test_seed import (
    SEED_PUT,
    assert_walkthrough_done,
    seed_blocks,
    with_blob_type_header,
)
from tests.servers.azurite import AzuriteServer
from tests.test_user_scripts import (
    IMPORT,
    PROVIDER_CALL,
    SHARED_FILE,
    assert_exited_cleanly,
    run_script,
)

AZURE_CALL = "create_provider(ProviderList.AZURE, {})"


def azure_walkthrough() -> str:
    parts = [
        IMPORT,
        f"provider = CloudProviderFactory().{AZURE_CALL}",
        "container = 'my-bucket'",
        "source = '/path/to/myfile.txt'",
    ]
    for block in seed_blocks():
        if 'objects.get("my-file.txt")' in block:
            parts.append(SHARED_FILE)
        if SEED_PUT in block:
            block = with_blob_type_header(block)
        parts.append(PROVIDER_CALL.sub(AZURE_CALL, block))
    return "\n".join(parts) + "\nassert requests.get(url).status_code == 403  # write-only\n"


def test_the_seed_runs_against_azurite_as_a_script(
    azurite_server: AzuriteServer,
    spec_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT", azurite_server.account)
    monkeypatch.setenv("AZURE_ACCOUNT_KEY", azurite_server.account_key)
    monkeypatch.setenv("AZURE_ENDPOINT_URL", azurite_server.endpoint_url)
    script = azure_walkthrough()
    assert "ProviderList.AWS" not in script and script.count(AZURE_CALL) == 5
    result = run_script(script, tmp_path)
    assert_exited_cleanly(result)
    assert re.fullmatch(r"Size: 8000, Modified: \S+\n", result.stdout)
    provider = CloudProviderFactory().create_provider(ProviderList.AZURE, azurite_server.config())
    try:
        assert_walkthrough_done(provider, spec_file)
    finally:
        bucket = provider.storage.buckets.get("my-bucket")
        if bucket is not None:
            bucket.delete(delete_contents=True)
        provider.close()
