"""``RayExecutor``, ``RayActorExecutor``: executors over Ray for ``copy``/``sync``.

Ray 2.60 has no executor of its own (``ray.util.multiprocessing.Pool`` is
multiprocessing's API, not this one), but an ``ObjectRef``'s ``future()`` is
a ``concurrent.futures.Future``: so each ``submit`` is one task of a single
remote function that calls what it is given, and the engine's back-pressure
window (``concurrent.futures.wait``) works on Ray as on threads or Dask.

Ray pickles the function and its arguments with cloudpickle; the engine's
batch function is module-level (pickled by name) and its batch names each
location by provider id and the config the user gave, so every worker
process makes its own provider and resolves its own credentials, as on Dask.
A task whose worker process dies (killed, out of memory, its node lost) is
run again, up to ``max_retries`` times: Ray retries such system failures,
and a batch is idempotent, so a re-run changes nothing but time. An
exception the task raises is not retried (the engine records per-object
failures in its result instead of raising).

A Ray worker process runs one task at a time, and each task reserves
``num_cpus`` of its node: copying waits on the network, so a fraction
(``num_cpus=0.25``: four batches per CPU, in four worker processes) keeps
more batches moving than there are cores. ``RayActorExecutor`` instead runs
several batches at once on the threads of a few actor processes, as a Dask
worker does: fewer processes, each making its providers once (bench_sync:
faster than a process per batch, with the same re-run of a dead worker's
batches).

The caller connects to Ray (``ray.init()``, or ``ray.init(address=...)``
for a cluster) and shuts it down; this module is imported only by name
(``bucketbridge.executors.ray``), never by ``import bucketbridge``.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import ray

from ..checks import non_negative_int, positive_int
from ..errors import InvalidValueException

T = TypeVar("T")
DEFAULT_MAX_RETRIES = 3


def _call(fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    """The one remote function: defined once, so Ray exports it once, not per task."""
    return fn(*args, **kwargs)


class RayExecutor(cf.Executor):
    """Runs each submitted call as a Ray task on the cluster this process is
    connected to."""

    def __init__(self, *, num_cpus: float = 1, max_retries: int = DEFAULT_MAX_RETRIES) -> None:
        if isinstance(num_cpus, bool) or not isinstance(num_cpus, (int, float)) or num_cpus <= 0:
            raise InvalidValueException("num_cpus", num_cpus, "must be a number above 0")
        retries = non_negative_int("max_retries", max_retries)
        self._remote: Any = ray.remote(_call).options(num_cpus=num_cpus, max_retries=retries)
        self._lock = threading.Lock()
        # the calls not finished, with their refs: a ref dropped early may
        # free its result before the future has it, and shutdown cancels by ref
        self._running: dict[cf.Future[Any], Any] = {}
        self._shut_down = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> cf.Future[T]:
        with self._lock:
            if self._shut_down:
                raise RuntimeError("cannot schedule new futures after shutdown")
            ref = self._remote.remote(fn, args, kwargs)
            future: cf.Future[T] = ref.future()
            self._running[future] = ref
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: cf.Future[Any]) -> None:
        with self._lock:
            ref = self._running.pop(future, None)
        # a future cancelled by its holder (the engine, when a run stops)
        # stops its task too: the ref's future alone would let it run on
        if ref is not None and future.cancelled():
            ray.cancel(ref)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Take no more calls; ``cancel_futures`` cancels the tasks not
        finished (a running one gets ``KeyboardInterrupt``, so a copy under
        way aborts what it started); ``wait`` waits for the rest. Ray itself
        stays up: it is the caller's."""
        with self._lock:
            self._shut_down = True
            running = dict(self._running)
        if cancel_futures:
            for future, ref in running.items():
                if not future.done():
                    ray.cancel(ref)
        if wait:
            cf.wait(running)


class _Worker:
    """One actor process of a ``RayActorExecutor``: runs the calls it is
    given, up to its ``max_concurrency`` at once, on threads."""

    def call(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        return fn(*args, **kwargs)


class RayActorExecutor(cf.Executor):
    """Runs each submitted call on one of ``workers`` Ray actors, each a
    process running up to ``threads`` calls at once on threads.

    Where ``RayExecutor`` starts a worker process per batch in flight (each
    making its own providers and connection pools, all contending for the
    cores), this keeps a few processes busy, as a Dask worker with several
    threads does: copying waits on the network, not on a core. A call goes
    to the actor with the fewest calls in flight.

    The crash guarantee is ``RayExecutor``'s: an actor whose process dies
    (killed, out of memory, its node lost) is started again, up to
    ``max_retries`` times, and the calls it was running are run again on
    it (every call it held, since they shared the process; a batch is
    idempotent, so that changes nothing but time). The actors are this
    executor's: ``shutdown`` ends them.
    """

    def __init__(
        self,
        *,
        workers: int = 2,
        threads: int = 8,
        num_cpus: float = 1,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        if isinstance(num_cpus, bool) or not isinstance(num_cpus, (int, float)) or num_cpus < 0:
            raise InvalidValueException("num_cpus", num_cpus, "must be a number, 0 or more")
        self._workers = positive_int("workers", workers)
        self._threads = positive_int("threads", threads)
        retries = non_negative_int("max_retries", max_retries)
        self._options: dict[str, Any] = {
            "num_cpus": num_cpus,
            "max_concurrency": self._threads,
            "max_restarts": retries,
            "max_task_retries": retries,
        }
        # what the engine reads to size its window (as a ThreadPoolExecutor's)
        self._max_workers = self._workers * self._threads
        self._lock = threading.Lock()
        self._actors: list[Any] = []  # started on the first call: Ray must be up by then
        self._load: list[int] = [0] * self._workers
        self._running: dict[cf.Future[Any], tuple[Any, int]] = {}
        self._shut_down = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> cf.Future[T]:
        with self._lock:
            if self._shut_down:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if not self._actors:
                actor = ray.remote(_Worker).options(**self._options)
                self._actors = [actor.remote() for _ in range(self._workers)]
            index = min(range(self._workers), key=self._load.__getitem__)
            self._load[index] += 1
            ref = self._actors[index].call.remote(fn, args, kwargs)
            future: cf.Future[T] = ref.future()
            self._running[future] = (ref, index)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: cf.Future[Any]) -> None:
        with self._lock:
            ref, index = self._running.pop(future, (None, -1))
            if index >= 0:
                self._load[index] -= 1
        if ref is not None and future.cancelled():
            ray.cancel(ref)  # a call not started is dropped; a running one runs out

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Take no more calls; ``cancel_futures`` cancels those not
        finished; ``wait`` waits for the rest, then ends the actors."""
        with self._lock:
            self._shut_down = True
            running = dict(self._running)
        if cancel_futures:
            for future in running:
                future.cancel()
        if wait:
            cf.wait(running)
            for actor in self._actors:
                ray.kill(actor)
            self._actors = []
