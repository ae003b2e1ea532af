"""``RayExecutor``: a ``concurrent.futures.Executor`` over Ray tasks, for ``copy``/``sync``.

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
more batches moving than there are cores.

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

from ..checks import non_negative_int
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
