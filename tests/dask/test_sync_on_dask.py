"""copy/sync on a Dask cluster: the engine's batches run on worker
processes through ``Client.get_executor()``, each worker makes its own
provider from the locations' id and config, and a worker killed in the
middle of a batch costs nothing but a re-run: the destination ends equal
to the source, a second sync finds nothing to do, and the multipart upload
the dead worker left open is found and aborted when the run ends."""

from __future__ import annotations

import concurrent.futures as cf
import fcntl
import functools
import os
import pty
import struct
import subprocess
import termios
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from distributed import Client, LocalCluster

from bucketbridge import (
    Location,
    TransferConfig,
    sync,
)
from tests.scaleout import PART, DyingAfterAPart, Seen, command_line_sync, digests, local_provider
from tests.servers.providers import ProviderFactory

T = TypeVar("T")
OBJECTS = 1200


def _die_once_midway(sentinel: str, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn``; the first call anywhere in the cluster kills its worker
    process 50 ms in, while the batch is copying."""
    try:
        os.close(os.open(sentinel, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return fn(*args)
    threading.Timer(0.05, os._exit, args=(137,)).start()
    return fn(*args)


class KillingExecutor(cf.Executor):
    """The cluster's executor, with one worker death injected."""

    def __init__(self, inner: cf.Executor, sentinel: str) -> None:
        self._inner = inner
        self._sentinel = sentinel

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> cf.Future[T]:
        return self._inner.submit(functools.partial(_die_once_midway, self._sentinel, fn), *args)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as dask_client,
    ):
        yield dask_client


def test_sync_on_dask_survives_a_worker_killed_mid_batch(client: Client, tmp_path: Path) -> None:
    root = tmp_path / "root"
    config = {"local_root": str(root)}
    with local_provider(root) as provider:
        source = provider.storage.buckets.create("src-bucket")
        destination = provider.storage.buckets.create("dst-bucket")
        for i in range(OBJECTS):  # small: what is tested is the batches, not the bytes
            source.objects.create(f"data/ö{i:04d}-日本").upload(os.urandom(i % 700))
        destination.objects.create("stale").upload(b"gone after the sync")
        destination.objects.create("ö0007-日本").upload(b"an older version, replaced")
    origin = Location("local", "src-bucket", "data/", config)
    target = Location("local", "dst-bucket", "", config)
    sentinel = str(tmp_path / "killed-once")
    executor = KillingExecutor(client.get_executor(pure=False, retries=3), sentinel)
    seen = Seen()

    report = sync(
        origin, target, delete=True, executor=executor, batch_objects=100, **seen.callbacks()
    )

    assert os.path.exists(sentinel)  # a worker did die
    assert report.ok and report.deleted == 1
    # every object landed once: a re-run batch re-copies or finds it unchanged
    assert report.copied + report.unchanged == OBJECTS
    # here, in the caller's thread, each batch reported once -- the killed
    # one by its re-run alone -- and the callbacks' totals are the report's
    assert seen.callers == {(os.getpid(), threading.get_ident())}
    assert len(seen.batches) == OBJECTS // 100 + 1  # the copies, then the one deletion
    landed = seen.landed()
    assert len(landed) == len(set(landed)) == OBJECTS
    assert seen.nbytes == seen.copied_bytes() == report.copied_bytes
    assert sum(len(r.unchanged) for r in seen.batches) == report.unchanged
    assert len(seen.objects) == report.copied + report.deleted
    with local_provider(root) as provider:
        assert digests(provider, "dst-bucket") == digests(provider, "src-bucket", "data/")
    again = sync(origin, target, delete=True, executor=client.get_executor(pure=False))
    assert (again.copied, again.deleted, again.unchanged) == (0, 0, OBJECTS)


def test_sync_across_providers_on_dask_local_to_s3(
    client: Client, tmp_path: Path, s3_seaweedfs_provider_factory: ProviderFactory
) -> None:
    root = tmp_path / "root"
    with local_provider(root) as provider:
        source = provider.storage.buckets.create("src-bucket")
        for i in range(200):
            source.objects.create(f"ö/{i:03d}.bin").upload(os.urandom(i * 7))
    s3 = s3_seaweedfs_provider_factory()
    bucket = f"dask-{os.getpid()}-{os.urandom(3).hex()}"
    s3.storage.buckets.create(bucket)
    s3_config: dict[str, Any] = s3_seaweedfs_provider_factory.config()  # type: ignore[attr-defined]
    origin = Location("local", "src-bucket", "", {"local_root": str(root)})
    target = Location("aws", bucket, "copy/", s3_config)
    executor = client.get_executor(pure=False, retries=3)

    report = sync(origin, target, executor=executor, batch_objects=50)

    assert report.ok and report.copied == 200
    with local_provider(root) as provider:
        assert digests(s3, bucket, "copy/") == digests(provider, "src-bucket")
    # across providers the etags differ: the copies' recorded source etags say "unchanged"
    again = sync(origin, target, executor=executor, batch_objects=50)
    assert (again.copied, again.unchanged) == (0, 200)
    s3.storage.buckets.get(bucket).delete(delete_contents=True)  # type: ignore[union-attr]


def test_the_upload_a_dead_worker_left_open_is_aborted_when_the_run_ends(
    client: Client, tmp_path: Path
) -> None:
    # two roots, so two providers: the copy streams through the worker, in parts
    source_root, target_root = tmp_path / "a", tmp_path / "b"
    with local_provider(source_root) as provider:
        source = provider.storage.buckets.create("src-bucket")
        source.objects.create("big.bin").upload(os.urandom(PART + 4096))
        for i in range(5):
            source.objects.create(f"small-{i}").upload(os.urandom(100))
    with local_provider(target_root) as provider:
        provider.storage.buckets.create("dst-bucket")
    sentinel = str(tmp_path / "killed-once")

    report = sync(
        Location("local", "src-bucket", "", {"local_root": str(source_root)}),
        Location("local", "dst-bucket", "", {"local_root": str(target_root)}),
        executor=DyingAfterAPart(client.get_executor(pure=False, retries=3), sentinel),
        config=TransferConfig(threshold=1024 * 1024, part_size=PART, max_concurrency=1),
    )

    assert os.path.exists(sentinel)  # a worker died with a part sent
    assert report.ok and report.copied == 6
    assert report.aborted_uploads == 1  # the dead worker's upload, found and aborted
    with local_provider(source_root) as origin, local_provider(target_root) as provider:
        bucket = provider.storage.buckets.get("dst-bucket")
        assert bucket is not None
        assert list(bucket.objects.incomplete_uploads()) == []
        assert digests(provider, "dst-bucket") == digests(origin, "src-bucket")


def test_the_command_line_syncs_on_dask_with_its_bar_fed_here(
    client: Client, tmp_path: Path
) -> None:
    """``bucketbridge sync --dask ADDRESS``: the batches run on the cluster,
    the bar (on a terminal) counts what they did, and the summary is the run's."""
    root, env, command = command_line_sync(tmp_path, 200)
    env["TQDM_MININTERVAL"] = "0"  # every update drawn: the last drawing shows the totals
    env["TQDM_MINITERS"] = "1"
    command += ["--dask", client.scheduler.address]  # type: ignore[union-attr]
    terminal, stderr = pty.openpty()
    # 30 rows of 200 columns: at 0 columns (a new pty's) tqdm draws nothing
    fcntl.ioctl(stderr, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 200, 0, 0))
    process = subprocess.Popen(command, env=env, stderr=stderr, stdout=subprocess.DEVNULL)
    os.close(stderr)
    shown = b""
    while True:
        try:
            chunk = os.read(terminal, 65536)
        except OSError:  # EIO: the command closed its end
            break
        if not chunk:
            break
        shown += chunk
    os.close(terminal)
    assert process.wait(timeout=120) == 0, shown.decode(errors="replace")
    text = shown.decode(errors="replace")
    assert "200 files" in text  # the bar counted every object, fed in this process
    assert f"200 copied ({sum(range(200))} bytes), 0 unchanged, 1 deleted, 0 failed" in text
    with local_provider(root) as provider:
        assert digests(provider, "dst-bucket") == digests(provider, "src-bucket", "data/")
