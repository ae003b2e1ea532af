"""Sync of many small objects, LOCAL -> S3 on SeaweedFS: bucketbridge's
``sync`` on its thread pool, on a 2-worker Dask cluster and on a 2-CPU
local Ray runtime, against
``rclone sync`` and ``s5cmd sync`` from the same directory to the same server.

    python bench/bench_sync.py               # 10,000 objects of 4 KiB, 5 rounds
    python bench/bench_sync.py --objects 2000 --rounds 3
    python bench/bench_sync.py --quick       # 40 objects, one round

Every measurement syncs into a destination prefix of its own, so each
copies every object (what is timed is the copy of a whole tree, listing of
both sides included). The LOCAL provider keeps keys as paths, so rclone and
s5cmd read the very same files. Everyone gets the same width (``--width``,
default 16): rclone ``--transfers``/``--checkers``, s5cmd ``--numworkers``,
bucketbridge a thread pool of that width, Dask 2 worker processes of half
that many threads each, Ray a 2-CPU runtime whose tasks reserve 2/width of a
CPU, so width tasks run at once (a Ray worker process runs one task at a
time: width processes), or (ray-actors) 2 threaded actors of half that
many threads each, as Dask's workers; clusters are started, and their imports made, before
the clock starts. Batches are 250 objects, so the width is used. The CPU
column is the measuring process's (or the command's): for Dask and Ray, the
coordinator's only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import harness
from harness import Action, External, Failed, Row, Sizes, in_pool, small_payload

SOURCE_BUCKET = "sync-src"
TARGET_BUCKET = "bench-sync"
THREADS, DASK, RAY = "bucketbridge threads", "bucketbridge dask-2", "bucketbridge ray-2"
RAY_ACTORS = "bucketbridge ray-actors-2"
RCLONE, S5CMD = "rclone", "s5cmd"
BATCH = 250


@contextmanager
def server(work: Path) -> Iterator[dict[str, Any]]:
    from tests.servers.seaweedfs import start_seaweedfs

    root = work / "root"
    root.mkdir()
    with start_seaweedfs(work / "seaweedfs") as started:
        yield {
            "provider": "aws",
            "config": started.config(),
            "endpoint": started.endpoint_url,
            "access_key": started.access_key,
            "secret_key": started.secret_key,
            "local_root": str(root),
        }


def _providers(server: dict[str, Any]) -> tuple[Any, Any]:
    from bucketbridge import CloudProviderFactory, ProviderList

    factory = CloudProviderFactory()
    local = factory.create_provider(ProviderList.LOCAL, {"local_root": server["local_root"]})
    return local, factory.create_provider(ProviderList.AWS, server["config"])


def prepare(server: dict[str, Any], source: Path, sizes: Sizes) -> None:
    local, s3 = _providers(server)
    bucket = local.storage.buckets.create(SOURCE_BUCKET)
    in_pool(
        16,
        sizes.objects,
        lambda i: bucket.objects.create(f"data/{i % 20:02d}/{i:05d}.dat").upload(
            small_payload(i, sizes.small_size)
        ),
    )
    s3.storage.buckets.create(TARGET_BUCKET)
    local.close()
    s3.close()


def rows(sizes: Sizes) -> list[Row]:
    return [Row("sync", [THREADS, DASK, RAY, RAY_ACTORS, RCLONE, S5CMD], RCLONE)]


def make_action(spec: dict[str, Any]) -> Action:
    from bucketbridge import Location, sync

    server, contender, width = spec["server"], spec["contender"], spec["width"]
    directory = os.path.join(server["local_root"], SOURCE_BUCKET, "data")
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": server["access_key"],
            "AWS_SECRET_ACCESS_KEY": server["secret_key"],
            "RCLONE_CONFIG_BENCH_TYPE": "s3",
            "RCLONE_CONFIG_BENCH_PROVIDER": "Other",
            "RCLONE_CONFIG_BENCH_ENDPOINT": server["endpoint"],
            "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID": server["access_key"],
            "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY": server["secret_key"],
        }
    )
    if contender == RCLONE:
        # rclone's S3 client refuses to start with a CA bundle set for a plain-HTTP endpoint
        os.environ.pop("AWS_CA_BUNDLE", None)
        remote = f"bench:{TARGET_BUCKET}/{spec['key']}"
        widths = ["--transfers", str(width), "--checkers", str(width)]
        return External(["rclone", "sync", directory, remote, *widths, "--config", "/dev/null"])
    if contender == S5CMD:
        options = ["--endpoint-url", server["endpoint"], "--numworkers", str(width)]
        remote = f"s3://{TARGET_BUCKET}/{spec['key']}/"
        return External(["s5cmd", *options, "sync", directory + "/", remote])
    source = Location("local", SOURCE_BUCKET, "data/", {"local_root": server["local_root"]})
    target = Location("aws", TARGET_BUCKET, spec["key"] + "/", server["config"])
    if contender == THREADS:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(width)
        return lambda: sync(source, target, executor=pool, batch_objects=BATCH).raise_for_failures()
    if contender in (RAY, RAY_ACTORS):
        return _on_ray(source, target, width, actors=contender == RAY_ACTORS)
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=max(1, width // 2), processes=True, dashboard_address=None
    )
    client = Client(cluster)
    client.run(_import_engine)  # the workers' imports: not timed
    executor = client.get_executor(pure=False, retries=3)
    return lambda: sync(source, target, executor=executor, batch_objects=BATCH).raise_for_failures()


def _import_engine() -> None:
    import bucketbridge.sync  # noqa: F401


def _on_ray(source: Any, target: Any, width: int, *, actors: bool) -> Action:
    import concurrent.futures as cf

    import ray

    from bucketbridge import sync
    from bucketbridge.executors.ray import RayActorExecutor, RayExecutor

    # the workers import this checkout, as the measuring process does
    path = os.pathsep.join(filter(None, [str(harness.ROOT), os.environ.get("PYTHONPATH")]))
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    executor: cf.Executor = (
        RayActorExecutor(workers=2, threads=max(1, width // 2), num_cpus=1)
        if actors
        else RayExecutor(num_cpus=2 / width)
    )
    # width tasks at once: their worker processes started and imports made, not timed
    for future in [executor.submit(_import_engine_and_linger) for _ in range(width)]:
        future.result()
    return lambda: sync(source, target, executor=executor, batch_objects=BATCH).raise_for_failures()


def _import_engine_and_linger() -> None:
    """Held long enough that every warm-up task needs a worker process of its own."""
    import time

    _import_engine()
    time.sleep(2)


def check(server: dict[str, Any], spec: dict[str, Any], source: Path) -> None:
    """Round 1: the destination holds every object, with its size."""
    from bucketbridge.directories import walk_objects

    local, s3 = _providers(server)
    try:
        prefix = spec["key"] + "/"
        copied = {
            info.key[len(prefix) :]: info.size
            for info in walk_objects(s3.driver, s3.features, TARGET_BUCKET, prefix)
        }
        wanted = {
            obj.name[len("data/") :]: obj.size
            for obj in local.storage.buckets.get(SOURCE_BUCKET).objects
        }
        if copied != wanted:
            raise Failed(f"{len(copied)} of {len(wanted)} objects copied, or sizes differ")
    finally:
        local.close()
        s3.close()


BENCH = harness.Bench(
    name="sync",
    server=server,
    prepare=prepare,
    rows=rows,
    make_action=make_action,
    prime=lambda spec: None,
    versions=lambda server: {
        "rclone": harness.command_version(["rclone", "version"]),
        "s5cmd": harness.command_version(["s5cmd", "version"]),
    },
    check=check,
)

if __name__ == "__main__":
    arguments = sys.argv[1:]
    if "--worker" not in arguments and "--size-mib" not in arguments:
        arguments += ["--size-mib", "1"]  # the harness's download source: unused here
    if "--worker" not in arguments and "--scenarios" not in arguments:
        arguments += ["--scenarios", "sync"]
    harness.main(BENCH, arguments)
