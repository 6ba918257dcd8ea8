"""Where the runs of a sweep execute: a local process pool or a Dask cluster.

Both executors are context managers with one method, ``map_unordered(fn, tasks)``,
which runs the same picklable ``fn`` on every task and yields ``(task, result,
error)`` as each finishes, in completion order. Only a bounded window of tasks is
in flight at a time, so a sweep of a million runs does not hold a million pickled
scenarios in memory. Results never depend on the executor: every task carries its
own seed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Any, TypeVar

from sim.scenario import ScenarioError

T = TypeVar("T")
Outcome = tuple[T, Any, BaseException | None]

# Retries of a task that raised (execute_run records simulation errors itself, so this covers
# e.g. a failed transfer); a task whose worker died is rescheduled by the scheduler itself,
# up to distributed.scheduler.allowed-failures times.
DASK_RETRIES = 2


class WorkerLost(RuntimeError):
    """A local worker process died (killed, out of memory); the runs in flight have no result."""


def default_workers() -> int:
    """Cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class LocalExecutor:
    """Runs tasks in a pool of ``n_workers`` local processes (default: every core)."""

    def __init__(self, n_workers: int | None = None):
        self.n_workers = n_workers or default_workers()
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _start(self, fn: Callable) -> ProcessPoolExecutor:
        # forkserver, not fork: the parent runs threads (progress bar) that fork would copy
        # mid-lock; the server imports fn's module once and every worker inherits it.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([fn.__module__])
        return ProcessPoolExecutor(self.n_workers, mp_context=ctx)

    def map_unordered(self, fn: Callable[[T], Any], tasks: Iterable[T]) -> Iterator[Outcome]:
        """Yield ``(task, result, None)`` or ``(task, None, exception)`` as runs finish."""
        self._pool = self._pool or self._start(fn)
        queue = iter(tasks)
        pending: dict[Future, T] = {}
        window = 4 * self.n_workers
        while True:
            for task in _take(queue, window - len(pending)):
                pending[self._pool.submit(fn, task)] = task
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                if isinstance(fut.exception(), BrokenProcessPool):
                    raise WorkerLost("a worker process died (killed, or out of memory?)") from fut.exception()
                yield _outcome(pending.pop(fut), fut)


class DaskExecutor:
    """Runs tasks on a Dask cluster: ``scheduler`` (``tcp://host:port``), or a LocalCluster of ``n_workers``.

    A worker that dies mid-run has its tasks rescheduled on the others by the scheduler;
    a task that raises is retried ``DASK_RETRIES`` times. Workers of a cluster started elsewhere
    simulate about 2x faster without Dask's default ``MALLOC_TRIM_THRESHOLD_``: set
    ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null`` in their Dask config.
    """

    def __init__(self, scheduler: str | None = None, n_workers: int | None = None):
        self.scheduler = scheduler
        self.n_workers = n_workers or default_workers()
        self._cluster = None
        self._client = None

    def __enter__(self) -> "DaskExecutor":
        import dask  # imported here: the local path never needs Dask
        from distributed import Client, LocalCluster

        if self.scheduler:
            try:
                self._client = Client(self.scheduler, timeout="20s")
            except (OSError, ValueError) as exc:  # unreachable (TimeoutError is an OSError) or malformed
                raise ScenarioError(f"--scheduler: cannot connect to {self.scheduler}: {exc}") from None
        else:
            # Dask's nanny sets MALLOC_TRIM_THRESHOLD_ for its workers, which stops glibc from
            # raising its mmap threshold: every large numpy temporary is then mmap'd and
            # page-faulted afresh, and a simulation runs about 2x slower. Unset it.
            with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
                self._cluster = LocalCluster(n_workers=self.n_workers, threads_per_worker=1,
                                             dashboard_address=None, silence_logs=logging.ERROR)
            self._client = Client(self._cluster)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def map_unordered(self, fn: Callable[[T], Any], tasks: Iterable[T]) -> Iterator[Outcome]:
        """Yield ``(task, result, None)`` or ``(task, None, exception)`` as runs finish."""
        from distributed import as_completed

        queue = iter(tasks)
        pending: dict[str, T] = {}
        window = max(64, 4 * sum(self._client.nthreads().values()))
        running = as_completed()

        def submit(n: int) -> None:
            for task in _take(queue, n):
                fut = self._client.submit(fn, task, pure=False, retries=DASK_RETRIES)
                pending[fut.key] = task
                running.add(fut)

        submit(window)
        for fut in running:
            yield _outcome(pending.pop(fut.key), fut)
            fut.release()
            submit(window - len(pending))


def _outcome(task: T, fut: Any) -> Outcome:
    """``(task, result, None)`` for a finished future, ``(task, None, exception)`` for a failed one."""
    try:
        return task, fut.result(), None
    except Exception as exc:
        return task, None, exc


def _take(queue: Iterator[T], n: int) -> list[T]:
    """Up to ``n`` next items of ``queue``."""
    return list(islice(queue, max(n, 0)))


def make_executor(kind: str, *, scheduler: str | None = None, n_workers: int | None = None) -> LocalExecutor | DaskExecutor:
    """The executor named on the command line: ``local`` or ``dask``."""
    if kind == "dask":
        return DaskExecutor(scheduler, n_workers)
    return LocalExecutor(n_workers)
