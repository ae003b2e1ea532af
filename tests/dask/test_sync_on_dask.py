"""copy/sync on a Dask cluster: the engine's batches run on worker
processes through ``Client.get_executor()``, each worker makes its own
provider from the locations' id and config, and a worker killed in the
middle of a batch costs nothing but a re-run: the destination ends equal
to the source, and a second sync finds nothing to do."""

from __future__ import annotations

import concurrent.futures as cf
import functools
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from distributed import Client, LocalCluster

from bucketbridge import CloudProviderFactory, Location, ProviderList, sync

T = TypeVar("T")


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


def _digests(root: Path, bucket: str) -> dict[str, str]:
    with CloudProviderFactory().create_provider(
        ProviderList.LOCAL, {"local_root": str(root)}
    ) as provider:
        found = provider.storage.buckets.get(bucket)
        assert found is not None
        return {
            obj.name: hashlib.md5(b"".join(obj.iter_content())).hexdigest() for obj in found.objects
        }


def test_sync_on_dask_survives_a_worker_killed_mid_batch(client: Client, tmp_path: Path) -> None:
    root = tmp_path / "root"
    config = {"local_root": str(root)}
    with CloudProviderFactory().create_provider(ProviderList.LOCAL, config) as provider:
        source = provider.storage.buckets.create("src-bucket")
        destination = provider.storage.buckets.create("dst-bucket")
        for i in range(300):
            source.objects.create(f"data/ö{i:04d}").upload(os.urandom(i % 5000))
        destination.objects.create("stale").upload(b"gone after the sync")
    origin = Location("local", "src-bucket", "data/", config)
    target = Location("local", "dst-bucket", "", config)
    sentinel = str(tmp_path / "killed-once")
    executor = KillingExecutor(client.get_executor(pure=False, retries=3), sentinel)

    report = sync(origin, target, delete=True, executor=executor, batch_objects=50)

    assert os.path.exists(sentinel)  # a worker did die
    assert report.ok and report.deleted == 1
    # every object landed once: a re-run batch re-copies or finds it unchanged
    assert report.copied + report.unchanged == 300
    source_digests = {
        name[len("data/") :]: digest for name, digest in _digests(root, "src-bucket").items()
    }
    assert _digests(root, "dst-bucket") == source_digests
    again = sync(origin, target, delete=True, executor=client.get_executor(pure=False))
    assert (again.copied, again.deleted, again.unchanged) == (0, 0, 300)
