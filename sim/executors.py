"""Where runs execute, for every command: this process, a local process pool, or a Dask cluster.

Every executor is a context manager with one method, ``map_unordered(fn, tasks, on_tick)``,
which runs the same picklable ``fn`` on every task and yields ``(task, result, error)`` as
each finishes, in completion order. Only a bounded window of tasks is in flight at a time,
so a sweep of a million runs does not hold a million pickled scenarios in memory. Results
never depend on the executor: every task carries its own seed.

Progress: a task calls :func:`tick` (e.g. once per simulated step); the parent receives
the ticks through ``on_tick(k)``: as they happen in this process and from local workers
(through a queue made from the pool's own context, no Manager process), and when the task
finishes on Dask.

Safety of local workers (issue 10): they are started by a fork server (no fork of this
process while a progress bar's thread runs), ignore Ctrl-C (the parent ends them), exit
when the parent dies (no orphans), and a worker that dies has its runs started again on a
fresh pool, up to ``LOCAL_RETRIES`` times, before :class:`~sim.errors.WorkerLost` is raised.
"""

from __future__ import annotations

import contextvars
import logging
import multiprocessing
import os
import queue as queue_module
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, nullcontext
from itertools import chain, islice
from typing import Any, ContextManager, TypeVar

from sim.errors import ExecutorError, WorkerLost

T = TypeVar("T")
Outcome = tuple[T, Any, BaseException | None]

# Retries of a task that raised (execute_run records simulation errors itself, so this covers
# e.g. a failed transfer); a task whose worker died is rescheduled by the scheduler itself,
# up to distributed.scheduler.allowed-failures times.
DASK_RETRIES = 2
# Fresh local pools started after a worker died, before giving up with WorkerLost.
LOCAL_RETRIES = 2
# Seconds Dask may take to connect to a scheduler; whatever answers at the address, the command gives up 5 s later.
CONNECT_SECONDS = 20
# Waits of 0.1 s for the last ticks of finished tasks before map_unordered returns.
TICK_WAITS = 50

# The current task's progress sink (per thread: Dask may run several tasks per process).
_tick_sink: contextvars.ContextVar[Callable[[int], None] | None] = contextvars.ContextVar("tick", default=None)
_worker_ticks: Any = None  # a local worker's queue to the parent, set by _init_worker


def tick(k: int = 1) -> None:
    """Report ``k`` units of progress of the running task to the parent (nothing if no one listens)."""
    sink = _tick_sink.get()
    if sink is not None:
        sink(k)


def default_workers() -> int:
    """The one default worker count of every command: the cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _counting(fn: Callable[[T], Any], task: T, forward: Callable[[int], None] | None) -> tuple[Any, int]:
    """``(fn(task), ticks it reported)``, passing each tick on to ``forward`` as it comes."""
    count = 0

    def sink(k: int) -> None:
        nonlocal count
        count += k
        if forward is not None:
            forward(k)

    token = _tick_sink.set(sink)
    try:
        return fn(task), count
    finally:
        _tick_sink.reset(token)


def _run_in_worker(fn: Callable[[T], Any], task: T) -> tuple[Any, int]:
    """A local or Dask worker's call: ticks stream to the parent's queue where there is one."""
    return _counting(fn, task, _worker_ticks.put if _worker_ticks is not None else None)


def _init_worker(ticks: Any, parent_alive: Any) -> None:
    """Set up a local pool worker: its tick queue, Ctrl-C left to the parent, exit with the parent."""
    global _worker_ticks
    _worker_ticks = ticks
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent_alive,), name="exit-with-parent", daemon=True).start()


def _exit_with_parent(parent_alive: Any) -> None:
    """End this process when the command's process dies, so that a killed command leaves no worker behind.

    ``parent_alive`` is the read end of a pipe whose only write end the command holds: reading
    it blocks until that process is gone, however it died. (Watching ``os.getppid()`` would not
    do: a worker's parent is the fork server, which itself waits for the workers to end.)
    """
    try:
        parent_alive.recv_bytes()
    except EOFError:
        pass
    os._exit(1)


class LocalExecutor:
    """Runs tasks in this process (``n_workers`` 1) or in a pool of ``n_workers`` local processes.

    ``on_notice(message)`` is told when a worker died and its runs start again.
    """

    def __init__(self, n_workers: int | None = None, on_notice: Callable[[str], None] | None = None):
        self.n_workers = n_workers or default_workers()
        self.on_notice = on_notice
        self._pool: ProcessPoolExecutor | None = None
        self._ticks: Any = None
        self._restarts = 0

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        self._stop(graceful=exc_type is None)

    def _start(self, fn: Callable) -> None:
        # forkserver, not fork: the parent runs threads (progress bar) that fork would copy
        # mid-lock; the server imports fn's module once and every worker inherits it.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([fn.__module__])
        self._ticks = ctx.Queue()
        self._alive_r, self._alive_w = ctx.Pipe(duplex=False)
        self._pool = ProcessPoolExecutor(self.n_workers, mp_context=ctx, initializer=_init_worker,
                                         initargs=(self._ticks, self._alive_r))

    def _stop(self, graceful: bool) -> None:
        """Shut the pool down: after its work, or at once (an error, Ctrl-C) by ending its processes."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if not graceful:
            # ProcessPoolExecutor (before Python 3.14) cannot end running workers itself
            for process in list((pool._processes or {}).values()):
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        for end in (self._ticks, self._alive_r, self._alive_w):
            end.close()

    def map_unordered(self, fn: Callable[[T], Any], tasks: Iterable[T],
                      on_tick: Callable[[int], None] | None = None) -> Iterator[Outcome]:
        """Yield ``(task, result, None)`` or ``(task, None, exception)`` as runs finish."""
        if self.n_workers == 1:
            for task in tasks:
                try:
                    result = _counting(fn, task, on_tick)[0]
                except Exception as exc:
                    yield task, None, exc
                else:
                    yield task, result, None
            return
        if self._pool is None:
            self._start(fn)
        queue = iter(tasks)
        pending: dict[Future, T] = {}
        window = 4 * self.n_workers
        expected = received = 0  # ticks the finished tasks sent, ticks the parent has read
        while True:
            for task in _take(queue, window - len(pending)):
                pending[self._pool.submit(_run_in_worker, fn, task)] = task
            if not pending:
                break
            done, _ = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            received += self._read_ticks(on_tick)
            broken = False
            for fut in done:
                if isinstance(fut.exception(), BrokenProcessPool):
                    broken = True
                    continue
                task = pending.pop(fut)
                try:
                    result, sent = fut.result()
                except Exception as exc:
                    yield task, None, exc
                else:
                    expected += sent
                    yield task, result, None
            if broken:
                queue = chain(self._restart(fn, pending), queue)
                pending, expected, received = {}, 0, 0  # the dead pool's queue is gone with its ticks
        for _ in range(TICK_WAITS):  # a task's last ticks may come just after its result
            if received >= expected:
                break
            received += self._read_ticks(on_tick, wait=0.1)

    def _read_ticks(self, on_tick: Callable[[int], None] | None, wait: float = 0.0) -> int:
        """Pass the ticks that have arrived to ``on_tick``; returns how many."""
        k = 0
        try:
            k += self._ticks.get(timeout=wait) if wait else 0
            while True:
                k += self._ticks.get_nowait()
        except queue_module.Empty:
            pass
        if k and on_tick is not None:
            on_tick(k)
        return k

    def _restart(self, fn: Callable, pending: dict[Future, T]) -> list[T]:
        """A worker died: start a fresh pool and return the tasks to run again (WorkerLost past the retries)."""
        lost = list(pending.values())
        self._stop(graceful=False)
        self._restarts += 1
        if self._restarts > LOCAL_RETRIES:
            raise WorkerLost(f"a worker process died {self._restarts} times (killed, or out of memory?); "
                             f"{len(lost)} runs unfinished")
        if self.on_notice is not None:
            self.on_notice(f"a worker process died (killed, or out of memory?); running its {len(lost)} "
                           "unfinished runs again")
        self._start(fn)
        return lost


class DaskExecutor:
    """Runs tasks on a Dask cluster: ``scheduler`` (``tcp://host:port``), or a LocalCluster of ``n_workers``.

    A worker that dies mid-run has its tasks rescheduled on the others by the scheduler (and a
    LocalCluster's nanny starts it again), which ``on_notice(message)`` is told of, as the local
    pool's restarts are; a task that raises is retried ``DASK_RETRIES`` times. Workers of a cluster started elsewhere
    simulate about 2x faster without Dask's default ``MALLOC_TRIM_THRESHOLD_``: set
    ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null`` in their Dask config.
    The workers of a LocalCluster end with this process (distributed watches their parent).
    """

    def __init__(self, scheduler: str | None = None, n_workers: int | None = None,
                 on_notice: Callable[[str], None] | None = None):
        self.scheduler = scheduler
        self.n_workers = n_workers or default_workers()
        self.on_notice = on_notice
        self._cluster = None
        self._client = None
        self._closing = False

    def __enter__(self) -> "DaskExecutor":
        import dask  # imported here: the local path never needs Dask
        from distributed import Client, LocalCluster

        if self.scheduler:
            self._client = _connect(Client, self.scheduler, CONNECT_SECONDS)
        else:
            # Dask's nanny sets MALLOC_TRIM_THRESHOLD_ for its workers, which stops glibc from
            # raising its mmap threshold: every large numpy temporary is then mmap'd and
            # page-faulted afresh, and a simulation runs about 2x slower. Unset it.
            config = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
            try:
                # a cluster interrupted half-started cannot be closed cleanly (distributed's exit
                # handler then fails with a traceback): hold Ctrl-C until it is up, then close it
                with _interrupt_deferred(), dask.config.set(config):
                    # its scheduler logs in this process: at ERROR, "Couldn't gather keys" of a result lost with
                    # a dead worker (recomputed; on_notice says so); what fails a run comes back as its exception
                    self._cluster = LocalCluster(n_workers=self.n_workers, threads_per_worker=1,
                                                 dashboard_address=None, silence_logs=logging.CRITICAL)
                    self._client = Client(self._cluster)
            except BaseException:
                self.__exit__()
                raise
        if self.on_notice is not None:
            self._client.subscribe_topic("all", self._on_event)  # the scheduler's log of workers joining and leaving
        return self

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        """Tell ``on_notice`` of a worker the scheduler lost (not one closed on purpose) and the runs it had."""
        message = event[1]
        if self._closing or not isinstance(message, dict) or message.get("action") != "remove-worker" \
                or message.get("expected"):
            return
        runs = len(message.get("processing-tasks") or ())
        self.on_notice(f"a Dask worker died (killed, or out of memory?); the scheduler runs its {runs} unfinished "
                       "runs again on the other workers")

    def __exit__(self, *exc: Any) -> None:
        self._closing = True
        if self._client is not None and self.on_notice is not None and self._client.status == "running":
            # else the scheduler sends this client's own leaving to the closed connection: a CRITICAL traceback
            self._client.unsubscribe_topic("all")
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def map_unordered(self, fn: Callable[[T], Any], tasks: Iterable[T],
                      on_tick: Callable[[int], None] | None = None) -> Iterator[Outcome]:
        """Yield ``(task, result, None)`` or ``(task, None, exception)`` as runs finish."""
        from distributed import as_completed

        queue = iter(tasks)
        pending: dict[str, T] = {}
        window = max(64, 4 * sum(self._client.nthreads().values()))
        running = as_completed()

        def submit(n: int) -> None:
            for task in _take(queue, n):
                fut = self._client.submit(_run_in_worker, fn, task, pure=False, retries=DASK_RETRIES)
                pending[fut.key] = task
                running.add(fut)

        submit(window)
        for fut in running:
            task = pending.pop(fut.key)
            try:
                result, sent = fut.result()
            except Exception as exc:
                yield task, None, exc
            else:
                if on_tick is not None and sent:
                    on_tick(sent)  # a Dask worker has no line back before the task ends
                yield task, result, None
            fut.release()
            submit(window - len(pending))


def _connect(client: type, scheduler: str, seconds: float) -> Any:
    """A ``client`` (distributed's Client) of the scheduler at ``scheduler``, or ExecutorError within ``seconds``
    whatever answers there: Dask's own timeout covers the connection, not a server of another protocol that
    accepts it and then says nothing (the wait ran for ever) or something else (a 3 EiB allocation)."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:  # Dask's own rule, checked here: in a process that has run a cluster, Client raised AssertionError instead
        scheme, location = parse_address(scheduler)
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except ValueError as exc:
        raise ExecutorError(f"--scheduler: cannot connect to {scheduler}: {exc}") from None
    box: dict[str, Any] = {}

    def connect() -> None:
        try:
            box["client"] = client(scheduler, timeout=f"{seconds:.0f}s")
        except BaseException as exc:  # noqa: BLE001 -- reported below, whatever the server made Dask raise
            box["error"] = exc

    thread = threading.Thread(target=connect, name="dask-connect", daemon=True)  # a stuck one must not hold the exit
    thread.start()
    thread.join(seconds + 5)
    if thread.is_alive():
        raise ExecutorError(f"--scheduler: nothing at {scheduler} answered as a Dask scheduler within {seconds + 5:.0f} s "
                            "(is the address that of another service?)")
    error = box.get("error")
    if isinstance(error, (OSError, ValueError)):  # unreachable (TimeoutError is an OSError) or malformed
        raise ExecutorError(f"--scheduler: cannot connect to {scheduler}: {str(error)[:200]}")
    if error is not None:
        raise ExecutorError(f"--scheduler: what answered at {scheduler} is not a Dask scheduler "
                            f"({type(error).__name__}: {str(error)[:120]})")
    return box["client"]


@contextmanager
def _interrupt_deferred() -> Iterator[None]:
    """Hold a Ctrl-C or SIGTERM that comes during the block (blocked); it raises KeyboardInterrupt (or
    ``sim.errors.Terminated``, from the command line's handler) as the block ends.

    Processes started in the block do not inherit this: a Ctrl-C typed in a terminal, which
    reaches the whole process group, may still interrupt them as they import (their owner
    then ends them; they print their own traceback).
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _take(queue: Iterator[T], n: int) -> list[T]:
    """Up to ``n`` next items of ``queue``."""
    return list(islice(queue, max(n, 0)))


def make_executor(kind: str = "local", *, scheduler: str | None = None, n_workers: int | None = None,
                  max_tasks: int | None = None,
                  on_notice: Callable[[str], None] | None = None) -> LocalExecutor | DaskExecutor:
    """The executor named on the command line: ``local`` or ``dask``.

    ``max_tasks``, where known, caps the workers (no process without a run to do); one local
    worker runs the tasks in this process. ``on_notice(message)`` hears of workers that
    died (their runs start again).
    """
    n = n_workers or default_workers()
    n = min(n, max_tasks) if max_tasks else n
    if kind == "dask":
        return DaskExecutor(scheduler, n, on_notice)  # Dask reschedules a dead worker's tasks itself
    return LocalExecutor(n, on_notice)


Executor = LocalExecutor | DaskExecutor


def using(executor: str | Executor = "local", *, scheduler: str | None = None, n_workers: int | None = None,
          max_tasks: int | None = None, on_notice: Callable[[str], None] | None = None) -> ContextManager[Executor]:
    """An executor to run tasks with: ``executor`` itself if it is one (its owner starts and ends it),
    or a new one of that kind (``local`` or ``dask``), started and ended by the ``with`` block."""
    if not isinstance(executor, str):
        return nullcontext(executor)
    return make_executor(executor, scheduler=scheduler, n_workers=n_workers, max_tasks=max_tasks, on_notice=on_notice)
