"""``--dask ADDRESS`` and ``--ray ADDRESS``: a ``sync`` or ``cp -r`` between
object prefixes run on a cluster instead of this process's threads.

The batches run on the cluster's workers (each makes its own providers from
its own environment and config file); this process lists, plans and shows
progress: the library calls the meter here as each batch's result arrives
(``bucketbridge.sync``'s docstring), so the bar and the summary are the same
whatever runs the batches. Dask and Ray are optional extras, imported only
when asked for.
"""

from __future__ import annotations

import argparse
import logging
import socket
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from ..errors import ProviderConnectionException
from .exits import UsageError

DASK_RETRIES = 3  # a batch is idempotent: re-running it after a worker died is safe
# Ray's own connect to a wrong address retries for minutes before it fails,
# and Dask's for 30 s: a plain TCP connect first tells the user at once
REACH_TIMEOUT = 5.0


@dataclass(frozen=True)
class Cluster:
    kind: str  # "dask" or "ray"
    address: str

    @property
    def option(self) -> str:
        return f"--{self.kind}"


def requested(args: argparse.Namespace) -> Cluster | None:
    """The cluster the command line names, if any (one at most)."""
    dask, ray = getattr(args, "dask", None), getattr(args, "ray", None)
    if dask and ray:
        raise UsageError("--dask and --ray: give one")
    if dask:
        return Cluster("dask", dask)
    if ray:
        return Cluster("ray", ray)
    return None


@contextmanager
def executor(cluster: Cluster | None, jobs: int, name: str) -> Iterator[Executor]:
    """A thread pool of ``jobs`` here, or the cluster's executor (connected
    for the command, left running: it is the user's)."""
    if cluster is None:
        with ThreadPoolExecutor(jobs, name) as pool:
            yield pool
        return
    _check_reachable(cluster)
    if cluster.kind == "dask":
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("--dask: pip install 'bucketbridge[dask]'") from None
        with Client(cluster.address) as client:  # type: ignore[no-untyped-call]
            yield client.get_executor(pure=False, retries=DASK_RETRIES)
    else:
        try:
            import ray

            from ..executors.ray import RayActorExecutor
        except ImportError:
            raise UsageError("--ray: pip install 'bucketbridge[ray]'") from None
        ray.init(
            address=cluster.address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
        try:
            # an actor per CPU of the cluster, --jobs batches at once on each
            cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
            actors = RayActorExecutor(workers=max(1, cpus), threads=jobs)
            try:
                yield actors
            finally:
                actors.shutdown(cancel_futures=True)
        finally:
            ray.shutdown()


def _check_reachable(cluster: Cluster) -> None:
    """Fail at once, naming the address, when nothing listens at a
    ``host:port`` address (``ray://``, ``tcp://`` and ``tls://`` forms too;
    Ray's ``auto`` and ``local`` are Ray's to resolve)."""
    _, _, rest = cluster.address.rpartition("://")
    host, colon, port = rest.rpartition(":")
    if not colon or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_TIMEOUT).close()
    except OSError as error:
        cause = error.strerror or type(error).__name__
        raise ProviderConnectionException(
            f"{cluster.option} {cluster.address}: no cluster answers there ({cause})"
        ) from None
