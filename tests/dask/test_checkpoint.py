"""A sync's JSONL checkpoint (bucketbridge/checkpoint.py): a coordinator
killed mid-run and started again with the same file does not redo the
batches that finished, and ends with the destination equal to the source."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bucketbridge import (
    CloudProviderFactory,
    InvalidValueException,
    Location,
    ProviderList,
    sync,
)
from tests.test_user_scripts import SOURCE_ROOT

OBJECTS = 500
BATCH = 50
KILLED_AFTER = 3  # batches

COORDINATOR = f"""
import os, sys
sys.path.insert(0, {str(SOURCE_ROOT)!r})
from bucketbridge import Location, sync
config = {{"local_root": sys.argv[1]}}
finished = []
def on_batch(result):
    finished.append(result)
    if len(finished) == {KILLED_AFTER}:
        os._exit(137)  # the coordinator dies, as kill -9 would
sync(Location("local", "src-bucket", "", config), Location("local", "dst-bucket", "", config),
     checkpoint=sys.argv[2], batch_objects={BATCH}, max_in_flight=1, on_batch=on_batch)
"""


def test_a_killed_coordinator_resumes_without_redoing_finished_batches(tmp_path: Path) -> None:
    root = tmp_path / "root"
    config = {"local_root": str(root)}
    with CloudProviderFactory().create_provider(ProviderList.LOCAL, config) as provider:
        source = provider.storage.buckets.create("src-bucket")
        provider.storage.buckets.create("dst-bucket")
        names = [f"é{i:04d}" for i in range(OBJECTS)]
        for name in names:
            source.objects.create(name).upload(name.encode() * 3)
    checkpoint = tmp_path / "sync.jsonl"

    killed = subprocess.run(
        [sys.executable, "-c", COORDINATOR, str(root), str(checkpoint)], check=False, timeout=120
    )

    assert killed.returncode == 137
    lines = [json.loads(line) for line in checkpoint.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["source"] == "local://src-bucket/" and len(lines) == 1 + KILLED_AFTER
    done = set(names[: KILLED_AFTER * BATCH])
    copied_again: list[str] = []
    origin = Location("local", "src-bucket", "", config)
    target = Location("local", "dst-bucket", "", config)

    report = sync(origin, target, checkpoint=checkpoint, on_object=copied_again.append)

    assert report.ok and report.resumed == len(done)
    assert report.copied == OBJECTS - len(done) and not done & set(copied_again)
    assert not checkpoint.exists()  # the run is done: the next one starts afresh
    again = sync(origin, target)
    assert (again.copied, again.unchanged) == (0, OBJECTS)


def test_a_checkpoint_of_another_run_is_refused(tmp_path: Path) -> None:
    config = {"local_root": str(tmp_path / "root")}
    with CloudProviderFactory().create_provider(ProviderList.LOCAL, config) as provider:
        provider.storage.buckets.create("one-bucket").objects.create("k").upload(b"x")
        provider.storage.buckets.create("two-bucket")
    checkpoint = tmp_path / "sync.jsonl"
    checkpoint.write_text(
        json.dumps({"bucketbridge_sync_checkpoint": 1, "source": "local://elsewhere/"}) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidValueException, match=r"sync\.jsonl"):
        sync(
            Location("local", "one-bucket", "", config),
            Location("local", "two-bucket", "", config),
            checkpoint=checkpoint,
        )
