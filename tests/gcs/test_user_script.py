"""The spec's walkthrough on GCS, as a user runs it: one script in its own
interpreter against fake-gcs-server, configured from the environment, that
never closes its provider and must still exit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bucketbridge import CloudProviderFactory, ProviderList
from tests.conformance.test_seed import assert_walkthrough_done, seed_blocks
from tests.servers.fake_gcs import GcsServer
from tests.test_user_scripts import (
    IMPORT,
    PROVIDER_CALL,
    SHARED_FILE,
    assert_exited_cleanly,
    run_script,
)

GCP_CALL = "create_provider(ProviderList.GCP, {})"


def test_the_walkthrough_on_gcs_as_a_script_exits(
    fake_gcs_server: GcsServer, spec_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in fake_gcs_server.config().items():
        monkeypatch.setenv(
            key.upper(), json.dumps(value) if isinstance(value, dict) else str(value)
        )
    parts = [
        IMPORT,
        f"provider = CloudProviderFactory().{GCP_CALL}",
        "container = 'my-bucket'",
        "source = '/path/to/myfile.txt'",
    ]
    for block in seed_blocks():
        if 'objects.get("my-file.txt")' in block:
            parts.append(SHARED_FILE)
        parts.append(PROVIDER_CALL.sub(GCP_CALL, block))
    result = run_script("\n".join(parts), tmp_path)
    provider = CloudProviderFactory().create_provider(ProviderList.GCP, fake_gcs_server.config())
    try:
        assert_exited_cleanly(result)
        assert re.fullmatch(r"Size: 8000, Modified: \S+\n", result.stdout)
        assert_walkthrough_done(provider, spec_file)
    finally:
        leftover = provider.storage.buckets.get("my-bucket")
        if leftover is not None:
            leftover.delete(delete_contents=True)
        provider.close()
