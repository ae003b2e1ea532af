"""What the tests of copy/sync on a cluster (tests/dask, tests/ray) share:
LOCAL providers for the two ends, the digests of a bucket's objects to
compare them, an executor whose batches kill their worker process once it
has sent a whole part (importable on the workers, which run this checkout),
and the record of what the coordinator's progress callbacks saw."""

from __future__ import annotations

import concurrent.futures as cf
import functools
import hashlib
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bucketbridge import CloudProvider, CloudProviderFactory, ProviderList
from bucketbridge.sync import Batch, BatchResult

PART = 5 * 1024 * 1024


def local_provider(root: Path) -> CloudProvider:
    return CloudProviderFactory().create_provider(ProviderList.LOCAL, {"local_root": str(root)})


def digests(provider: CloudProvider, bucket: str, prefix: str = "") -> dict[str, str]:
    """Each object's MD5 under ``prefix``, by its name below the prefix."""
    found = provider.storage.buckets.get(bucket)
    assert found is not None
    return {
        obj.name[len(prefix) :]: hashlib.md5(b"".join(obj.iter_content())).hexdigest()
        for obj in found.objects
        if obj.name.startswith(prefix)
    }


def die_after_a_part(sentinel: str, nbytes: int) -> None:
    """A progress callback: the first worker anywhere to send a whole part
    kills its process (``sentinel`` is created once), its multipart upload
    left open."""
    if nbytes < PART:
        return
    try:
        os.close(os.open(sentinel, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return
    os._exit(137)


def _batch_dying_after_a_part(
    sentinel: str, fn: Callable[..., BatchResult], batch: Batch
) -> BatchResult:
    # the hook goes to the batch inside the worker: the engine itself keeps
    # the user's progress callbacks in the caller's process
    return fn(batch, progress=functools.partial(die_after_a_part, sentinel))


class DyingAfterAPart(cf.Executor):
    """A cluster's executor whose batches run with ``die_after_a_part``
    in the worker."""

    def __init__(self, inner: cf.Executor, sentinel: str) -> None:
        self._inner = inner
        self._sentinel = sentinel

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        return self._inner.submit(_batch_dying_after_a_part, self._sentinel, fn, *args)


@dataclass
class Seen:
    """What a run's ``on_batch``, ``progress`` and ``on_object`` saw, and
    in which process and thread they ran."""

    batches: list[BatchResult] = field(default_factory=list)
    nbytes: int = 0
    objects: list[str] = field(default_factory=list)
    callers: set[tuple[int, int]] = field(default_factory=set)

    def _called(self) -> None:
        self.callers.add((os.getpid(), threading.get_ident()))

    def on_batch(self, result: BatchResult) -> None:
        self._called()
        self.batches.append(result)

    def progress(self, nbytes: int) -> None:
        self._called()
        self.nbytes += nbytes

    def on_object(self, name: str) -> None:
        self._called()
        self.objects.append(name)

    def callbacks(self) -> dict[str, Any]:
        return {"on_batch": self.on_batch, "progress": self.progress, "on_object": self.on_object}

    def landed(self) -> list[str]:
        """Every name a batch reported as copied or found unchanged."""
        return [n for r in self.batches for n in (*r.copied, *r.unchanged)]

    def copied_bytes(self) -> int:
        return sum(r.copied_bytes for r in self.batches)


def command_line_sync(tmp_path: Path, objects: int) -> tuple[Path, dict[str, str], list[str]]:
    """A LOCAL root with ``objects`` keys under ``src-bucket/data/`` (key i
    holds i bytes) and a stale object in ``dst-bucket``; the environment and
    the ``bucketbridge sync --delete`` command (without its cluster option)
    that copies one to the other through a config profile -- its keys travel
    in the locations, so the cluster's workers find the root."""
    from tests.test_user_scripts import SOURCE_ROOT

    root = tmp_path / "root"
    with local_provider(root) as provider:
        source = provider.storage.buckets.create("src-bucket")
        provider.storage.buckets.create("dst-bucket").objects.create("stale").upload(b"old")
        for i in range(objects):
            source.objects.create(f"data/é{i:03d}").upload(b"x" * i)
    config = tmp_path / "config.ini"
    config.write_text(f"[profile here]\nprovider = local\nlocal_root = {root}\n")
    # the workers import this checkout, not an installed copy
    path = os.pathsep.join(filter(None, [str(SOURCE_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "BUCKETBRIDGE_CONFIG": str(config), "PYTHONPATH": path}
    command = [sys.executable, "-m", "bucketbridge", "--profile", "here", "sync", "--delete"]
    return root, env, [*command, "local://src-bucket/data/", "local://dst-bucket/"]
