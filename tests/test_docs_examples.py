"""docs/copy-sync-and-dataframes.md runs as written: each ```python block, in
order, as a script of its own in a fresh interpreter (as
tests/test_user_scripts.py runs the spec), with the local root and the S3
endpoint and keys (SeaweedFS) in the environment, as the page says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import CloudProviderFactory, ProviderList
from tests.scaleout import digests
from tests.servers.providers import ProviderFactory
from tests.test_user_scripts import SOURCE_ROOT

PAGE = SOURCE_ROOT / "docs" / "copy-sync-and-dataframes.md"
DEADLINE = 180  # the Dask block starts a 2-process cluster on a loaded 2-core machine


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)


def test_the_page_has_the_examples_this_test_runs() -> None:
    assert len(_blocks()) == 6


def test_the_readme_shows_examples_of_the_page_verbatim() -> None:
    """The README's pandas and Dask examples are the page's, so running the
    page runs them."""
    readme = (SOURCE_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Copying, syncing, dataframes") :]
    section = section[: section.index("\n## ", 3)]
    shown = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(shown) == 2 and all(block in _blocks() for block in shown)


def test_every_example_runs_as_written(
    tmp_path: Path, s3_seaweedfs_provider_factory: ProviderFactory
) -> None:
    s3_config: dict[str, Any] = s3_seaweedfs_provider_factory.config()  # type: ignore[attr-defined]
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "LOCAL_ROOT": str(tmp_path / "root"),
        "PYTHONPATH": str(SOURCE_ROOT),
        **{key.upper(): str(value) for key, value in s3_config.items()},
    }
    env.pop("LOCAL_SERVER_URL", None)
    local = CloudProviderFactory().create_provider(
        ProviderList.LOCAL, {"local_root": env["LOCAL_ROOT"]}
    )
    s3 = s3_seaweedfs_provider_factory()
    photos = local.storage.buckets.create("photos")
    for name in ("2026/cat.jpg", "2026/dog.jpg", "2026/ü/bird.jpg", "2025/old.jpg"):
        photos.objects.create(name).upload(os.urandom(3000))
    backup = s3.storage.buckets.get("backup") or s3.storage.buckets.create("backup")
    try:
        for number, block in enumerate(_blocks()):
            script = tmp_path / f"example_{number}.py"
            script.write_text(block, encoding="utf-8")
            result = subprocess.run(
                [sys.executable, str(script)],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=DEADLINE,
                check=False,
            )
            assert result.returncode == 0, f"example {number}:\n{block}\n{result.stderr}"
        assert backup.objects.get("2026/cat.jpg") is not None  # copy_to, same name
        # the sync, then the Dask and Ray syncs: the prefix is mirrored, nothing left to resume
        assert digests(s3, "backup", "photos/2026/") == digests(local, "photos", "2026/")
        assert not (tmp_path / "photos-sync.jsonl").exists()
        # the progress example, on a process pool
        assert digests(s3, "backup", "copies/2026/") == digests(local, "photos", "2026/")
        assert backup.objects.get("table.parquet") is not None
    finally:
        backup.delete(delete_contents=True)
        local.close()


@pytest.fixture(autouse=True)
def _no_stray_bucket(s3_seaweedfs_provider_factory: ProviderFactory) -> None:
    """A run that died midway must not leave ``backup`` to the next one."""
    s3 = s3_seaweedfs_provider_factory()
    left = s3.storage.buckets.get("backup")
    if left is not None:
        left.delete(delete_contents=True)
