"""The local provider pairs a version it reads with that version's sidecar.

A writer replaces an object and then removes the old version's sidecar. A
reader that opened the old version just before, and looked for its sidecar
just after, found none: the handle then had no etag (computing it later
failed, the version being gone) and empty metadata. The race is rare in
tests/conformance/test_races.py, so here it is forced: the replacement is
started exactly inside the reader's window.

Readers take no lock (drivers/local/driver.py, ``_open_described_fast``):
the writer is not held up, and a reader that finds its version's sidecar
gone reads the version that replaced it instead. Either way what comes
back is one version whole, with that version's etag and metadata, never
the bytes of one and the metadata (or no metadata) of another.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest

from bucketbridge import CloudProviderFactory, ProviderList
from bucketbridge.drivers.local import inline

FIRST = b"first version " * 100
SECOND = b"second version " * 50
# How long the reader lets the writer try to get in (it needs far less).
WRITER_CHANCE = 5.0


@pytest.mark.parametrize("layout", ["inline", "sidecars"])
@pytest.mark.parametrize("how", ["iter_content", "download_to_file"])
def test_a_read_racing_a_replacement_describes_the_version_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str, layout: str
) -> None:
    """The replacement lands between the reader's open and its first look
    at the version's record: its sidecar (``sidecars``: as where xattrs are
    refused, or a bucket written before) or its attribute (inline.py)."""
    if layout == "sidecars":
        monkeypatch.setattr(inline, "probe", lambda dir_fd: False)
    with CloudProviderFactory().create_provider(
        ProviderList.LOCAL, {"local_root": str(tmp_path / "root")}
    ) as provider:
        bucket = provider.storage.buckets.create("raced")
        bucket.objects.create("key").upload(FIRST, metadata={"version": "1"})
        obj = bucket.objects.get("key")
        assert obj is not None

        sidecars: Any = provider.driver._sidecars  # type: ignore[attr-defined]
        looked_up: Any = sidecars if layout == "sidecars" else inline
        name = "read" if layout == "sidecars" else "read_fd"
        real_read = getattr(looked_up, name)
        writes: list[threading.Thread] = []

        def replace() -> None:
            bucket.objects.create("key").upload(SECOND, metadata={"version": "2"})

        def read_after_a_replacement(*args: Any) -> Any:
            if not writes:  # the reader's first look: let a writer in now
                writes.append(threading.Thread(target=replace))
                writes[0].start()
                writes[0].join(WRITER_CHANCE)
            return real_read(*args)

        monkeypatch.setattr(looked_up, name, read_after_a_replacement)
        if how == "iter_content":
            data = b"".join(obj.iter_content())
        else:
            obj.download_to_file(tmp_path / "copy.bin")
            data = (tmp_path / "copy.bin").read_bytes()
        writes[0].join()
        monkeypatch.undo()

        # the writer got in: the reader's first look came after the replacement
        assert not writes[0].is_alive()
        version = {FIRST: "1", SECOND: "2"}[data]
        assert obj.etag == hashlib.md5(data, usedforsecurity=False).hexdigest()
        assert obj.metadata == {"version": version}
        assert obj.size == len(data)
        assert bucket.objects.get("key").metadata == {"version": "2"}  # type: ignore[union-attr]
