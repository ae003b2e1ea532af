"""User code run as users run it: a script in its own interpreter, which
must end by itself. The library's fixtures close every provider; a user's
script usually does not, so anything the library starts (the embedded
providers' URL server, transfer threads) must not keep a process alive."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import bucketbridge
from bucketbridge import CloudProviderFactory, ProviderList
from tests.conformance.test_seed import assert_walkthrough_done, seed_blocks

# A script that works finishes in about a second; one that hangs never does.
EXIT_DEADLINE = 60  # generous: a loaded 2-core CI machine once took over 20 s
IMPORT = "from bucketbridge import CloudProviderFactory, ProviderList\n"
SOURCE_ROOT = Path(bucketbridge.__file__).resolve().parents[1]


def run_script(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as ``python3 script.py`` in a fresh directory, with the
    local provider's root in the environment, and wait for it to end."""
    work = tmp_path / "cwd"
    work.mkdir(exist_ok=True)
    script = work / "script.py"
    script.write_text(code, encoding="utf-8")
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "LOCAL_ROOT": str(tmp_path / "root"),
        # this checkout's bucketbridge, whatever is installed
        "PYTHONPATH": str(SOURCE_ROOT),
    }
    env.pop("LOCAL_SERVER_URL", None)
    env.pop("MEMORY_SERVER_URL", None)
    try:
        return subprocess.run(
            [sys.executable, str(script)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=EXIT_DEADLINE,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(
            f"the script did not exit within {EXIT_DEADLINE} s:\n{code}\n{expired.stderr!r}"
        )


def assert_exited_cleanly(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("provider_name", ["LOCAL", "MEMORY"])
def test_a_script_that_signs_a_url_and_never_closes_exits(
    provider_name: str, tmp_path: Path
) -> None:
    code = IMPORT + (
        f"p = CloudProviderFactory().create_provider(ProviderList.{provider_name}, {{}})\n"
        "o = p.storage.buckets.create('exit-check').objects.create('my-file.txt')\n"
        "o.upload(b'x')\n"
        "print(o.generate_url(expires_in=60))\n"
    )
    result = run_script(code, tmp_path)
    assert_exited_cleanly(result)
    assert result.stdout.startswith("http://127.0.0.1:")


# Every provider line of the spec (AWS, OpenStack) becomes a local provider,
# as tests/conformance/test_seed.py points them at the backend under test.
PROVIDER_CALL = re.compile(r"create_provider\(\s*ProviderList\.\w+,\s*\{[^}]*\}\)")
LOCAL_CALL = "create_provider(ProviderList.LOCAL, {})"
# What the spec's prose presumes before its blocks: a provider, and the names
# test_seed.py binds for `container` and `source`.
PRELUDE = (
    IMPORT
    + f"provider = CloudProviderFactory().{LOCAL_CALL}\n"
    + "container = 'my-bucket'\n"
    + "source = '/path/to/myfile.txt'\n"
)
# The prose presumes the object a GET URL is made for exists (test_seed.run_blocks).
SHARED_FILE = "bucket.objects.create('my-file.txt').upload(b'shared file')\n"


def walkthrough_script(last_block: int) -> str:
    """The spec's blocks up to ``last_block``, verbatim but for the provider
    lines, as one script."""
    parts = [PRELUDE]
    for block in seed_blocks()[: last_block + 1]:
        if 'objects.get("my-file.txt")' in block:
            parts.append(SHARED_FILE)
        parts.append(PROVIDER_CALL.sub(LOCAL_CALL, block))
    return "\n".join(parts)


def test_the_provider_lines_are_all_made_local() -> None:
    script = walkthrough_script(len(seed_blocks()) - 1)
    assert "ProviderList.AWS" not in script and "ProviderList.OPENSTACK" not in script
    assert script.count(LOCAL_CALL) == 5


@pytest.mark.parametrize("last_block", range(len(seed_blocks())))
def test_the_spec_as_a_script_ending_after_each_block_exits(
    last_block: int, spec_file: Path, tmp_path: Path
) -> None:
    result = run_script(walkthrough_script(last_block), tmp_path)
    assert_exited_cleanly(result)
    if last_block < len(seed_blocks()) - 1:
        return
    assert re.fullmatch(r"Size: 8000, Modified: \S+\n", result.stdout)
    provider = CloudProviderFactory().create_provider(
        ProviderList.LOCAL, {"local_root": str(tmp_path / "root")}
    )
    try:
        assert_walkthrough_done(provider, spec_file)
    finally:
        provider.close()
