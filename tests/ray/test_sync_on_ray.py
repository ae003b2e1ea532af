"""copy/sync on Ray through ``bucketbridge.executors.ray.RayExecutor``: each
batch is a Ray task on a worker process that makes its own provider from the
locations' id and config; a task whose process dies mid-copy is run again
and the multipart upload it left open is aborted when the run ends; a
checkpoint lets a stopped run resume. One local Ray runtime (2 CPUs, no
dashboard) serves the module: starting one costs seconds."""

from __future__ import annotations

import concurrent.futures as cf
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from bucketbridge import (  # noqa: E402 (after the skip: this module needs Ray)
    InvalidValueException,
    Location,
    TransferConfig,
    sync,
)
from bucketbridge.executors.ray import RayActorExecutor, RayExecutor  # noqa: E402
from tests.scaleout import (  # noqa: E402
    PART,
    DyingAfterAPart,
    Seen,
    command_line_sync,
    digests,
    local_provider,
)
from tests.servers.providers import ProviderFactory  # noqa: E402
from tests.test_user_scripts import SOURCE_ROOT  # noqa: E402


@pytest.fixture(scope="module")
def executor() -> Iterator[RayExecutor]:
    # the workers import this checkout (and this module's callbacks), not an installed copy
    path = os.pathsep.join(filter(None, [str(SOURCE_ROOT), os.environ.get("PYTHONPATH")]))
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    try:
        yield RayExecutor()
    finally:
        ray.shutdown()


def test_sync_across_providers_on_ray_local_to_s3(
    executor: RayExecutor, tmp_path: Path, s3_seaweedfs_provider_factory: ProviderFactory
) -> None:
    root = tmp_path / "root"
    with local_provider(root) as provider:
        source = provider.storage.buckets.create("src-bucket")
        for i in range(100):
            source.objects.create(f"ö/{i:03d}-日本.bin").upload(os.urandom(i * 7))
    s3 = s3_seaweedfs_provider_factory()
    bucket = f"ray-{os.getpid()}-{os.urandom(3).hex()}"
    s3.storage.buckets.create(bucket)
    s3_config: dict[str, Any] = s3_seaweedfs_provider_factory.config()  # type: ignore[attr-defined]
    origin = Location("local", "src-bucket", "", {"local_root": str(root)})
    target = Location("aws", bucket, "copy/", s3_config)
    try:
        report = sync(origin, target, executor=executor, batch_objects=50)

        assert report.ok and report.copied == 100
        with local_provider(root) as provider:
            assert digests(s3, bucket, "copy/") == digests(provider, "src-bucket")
        # across providers the etags differ: the copies' recorded source etags say "unchanged"
        again = sync(origin, target, executor=executor, batch_objects=50)
        assert (again.copied, again.unchanged) == (0, 100)
    finally:
        s3.storage.buckets.get(bucket).delete(delete_contents=True)  # type: ignore[union-attr]


@pytest.fixture(params=["tasks", "threaded actors"])
def either(request: pytest.FixtureRequest, executor: RayExecutor) -> Iterator[cf.Executor]:
    """Each Ray executor: a task (a process) per batch, or batches on the
    threads of two actor processes."""
    if request.param == "tasks":
        yield executor
        return
    actors = RayActorExecutor(workers=2, threads=4, num_cpus=0.5)
    try:
        yield actors
    finally:
        actors.shutdown()


def test_a_task_whose_process_dies_is_rerun_and_its_upload_aborted(
    either: cf.Executor, tmp_path: Path
) -> None:
    # two roots, so two providers: the copy streams through the worker, in parts
    source_root, target_root = tmp_path / "a", tmp_path / "b"
    with local_provider(source_root) as provider:
        source = provider.storage.buckets.create("src-bucket")
        source.objects.create("big.bin").upload(os.urandom(PART + 4096))
        for i in range(150):
            source.objects.create(f"small/é{i:03d}").upload(os.urandom(i % 500))
    with local_provider(target_root) as provider:
        provider.storage.buckets.create("dst-bucket").objects.create("stale").upload(b"old")
    sentinel = str(tmp_path / "killed-once")
    origin = Location("local", "src-bucket", "", {"local_root": str(source_root)})
    target = Location("local", "dst-bucket", "", {"local_root": str(target_root)})

    seen = Seen()

    report = sync(
        origin,
        target,
        delete=True,
        executor=DyingAfterAPart(either, sentinel),
        batch_objects=50,
        config=TransferConfig(threshold=1024 * 1024, part_size=PART, max_concurrency=1),
        **seen.callbacks(),
    )

    assert os.path.exists(sentinel)  # a worker process died with a part sent
    assert report.ok and report.deleted == 1
    assert report.copied + report.unchanged == 151  # the re-run batch may find some landed
    # here, in the caller's thread, each batch reported once -- the dead
    # task's by its re-run alone -- and the callbacks' totals are the report's
    assert seen.callers == {(os.getpid(), threading.get_ident())}
    assert len(seen.batches) == 4 + 1  # 151 copies in batches of 50, then the deletion
    landed = seen.landed()
    assert len(landed) == len(set(landed)) == 151
    assert seen.nbytes == seen.copied_bytes() == report.copied_bytes
    assert sum(len(r.unchanged) for r in seen.batches) == report.unchanged
    assert len(seen.objects) == report.copied + report.deleted
    assert report.aborted_uploads == 1  # the dead task's upload, found and aborted
    with local_provider(source_root) as provider, local_provider(target_root) as copied:
        bucket = copied.storage.buckets.get("dst-bucket")
        assert bucket is not None
        assert list(bucket.objects.incomplete_uploads()) == []
        assert digests(copied, "dst-bucket") == digests(provider, "src-bucket")
    again = sync(origin, target, delete=True, executor=either)
    assert (again.copied, again.deleted, again.unchanged) == (0, 0, 151)


class _Stop(Exception):
    pass


def test_a_stopped_run_on_ray_resumes_from_its_checkpoint(
    executor: RayExecutor, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    config = {"local_root": str(root)}
    with local_provider(root) as provider:
        source = provider.storage.buckets.create("src-bucket")
        provider.storage.buckets.create("dst-bucket")
        names = [f"é{i:04d}" for i in range(200)]
        for name in names:
            source.objects.create(name).upload(name.encode() * 3)
    origin = Location("local", "src-bucket", "", config)
    target = Location("local", "dst-bucket", "", config)
    checkpoint = tmp_path / "sync.jsonl"
    finished: list[object] = []

    def stop_after_two(result: object) -> None:  # runs in the coordinator
        finished.append(result)
        if len(finished) == 2:
            raise _Stop

    with pytest.raises(_Stop):  # one batch out at a time: exactly two finished
        sync(
            origin,
            target,
            executor=executor,
            checkpoint=checkpoint,
            batch_objects=50,
            max_in_flight=1,
            on_batch=stop_after_two,
        )
    assert checkpoint.exists()
    copied_again: list[str] = []

    report = sync(
        origin,
        target,
        executor=executor,
        checkpoint=checkpoint,
        batch_objects=50,
        on_object=copied_again.append,
    )

    assert report.ok and report.resumed == 100 and report.copied == 100
    assert not set(names[:100]) & set(copied_again)
    assert not checkpoint.exists()  # done: the next run starts afresh
    with local_provider(root) as provider:
        assert digests(provider, "dst-bucket") == digests(provider, "src-bucket")


def test_an_executor_refuses_bad_options_and_calls_after_shutdown(executor: RayExecutor) -> None:
    with pytest.raises(InvalidValueException, match="num_cpus"):
        RayExecutor(num_cpus=0)
    with pytest.raises(InvalidValueException, match="max_retries"):
        RayExecutor(max_retries=-1)
    own = RayExecutor(num_cpus=0.5)
    assert list(own.map(divmod, [7, 9], [2, 4])) == [(3, 1), (2, 1)]
    own.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        own.submit(divmod, 1, 1)
    with pytest.raises(InvalidValueException, match="threads"):
        RayActorExecutor(threads=0)
    with pytest.raises(InvalidValueException, match="workers"):
        RayActorExecutor(workers=0)
    actors = RayActorExecutor(workers=1, threads=2, num_cpus=0)
    # one actor process runs both calls at once: each waits for the other
    first, second = actors.map(_meet, [1, 2])
    assert first == second != os.getpid()
    actors.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        actors.submit(divmod, 1, 1)


_MEETING = threading.Barrier(2)


def _meet(_: int) -> int:
    """Returns once another call in the same process has come (in an actor)."""
    _MEETING.wait(timeout=60)
    return os.getpid()


def test_the_command_line_syncs_on_a_running_ray_cluster(
    executor: RayExecutor, tmp_path: Path
) -> None:
    """``bucketbridge sync --ray ADDRESS`` joins the cluster this module
    started (its own job: the workers import this checkout from PYTHONPATH)
    and its actors copy every object and delete the stale one. (A wrong
    address: tests/cli/test_exit_codes.py.)"""
    root, env, command = command_line_sync(tmp_path, 120)
    command += ["--jobs", "2"]
    address = ray.get_runtime_context().gcs_address

    done = subprocess.run(
        [*command, "--ray", address], env=env, capture_output=True, text=True, timeout=300
    )

    assert done.returncode == 0, done.stderr
    with local_provider(root) as provider:
        assert digests(provider, "dst-bucket") == digests(provider, "src-bucket", "data/")
