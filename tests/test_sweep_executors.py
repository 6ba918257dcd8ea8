"""Executors: every task comes back once, whatever the workers do."""

from __future__ import annotations

import logging
import os
import signal
import time

import pytest

from sim.executors import DaskExecutor, LocalExecutor


@pytest.mark.slow
def test_dask_resubmits_the_runs_of_a_worker_that_died(tmp_path):
    marker = tmp_path / "died"

    def task(i: int) -> int:  # pickled by value (cloudpickle): no module to import on the worker
        if i == 3 and not marker.exists():
            marker.touch()
            os._exit(1)  # the worker process dies mid-run, as if killed
        return i * i

    with DaskExecutor(n_workers=2) as ex:
        outcomes = list(ex.map_unordered(task, range(8)))
    assert marker.exists()
    assert sorted((t, r) for t, r, e in outcomes) == [(i, i * i) for i in range(8)]
    assert all(e is None for _, _, e in outcomes)


@pytest.mark.slow
def test_a_killed_dask_worker_is_told_of_once_and_its_runs_finish(tmp_path, capfd, caplog):
    """The docs promise a warning when a worker dies and its runs start again, for Dask as for local workers:
    a LocalCluster worker killed mid-sweep gives one notice, every run finishes, and nothing else is printed."""
    marker = tmp_path / "died"

    def task(i: int) -> int:
        if i == 3 and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.2)
        return i * i

    notices: list[str] = []
    with DaskExecutor(n_workers=2, on_notice=notices.append) as ex:
        outcomes = list(ex.map_unordered(task, range(12)))
    assert marker.exists()
    assert sorted((t, r) for t, r, e in outcomes) == [(i, i * i) for i in range(12)]
    assert len(notices) == 1 and "Dask worker died" in notices[0] and "runs again" in notices[0], notices
    printed = capfd.readouterr()
    assert not printed.err.strip() and not printed.out.strip(), printed
    # the scheduler runs in this process: no CRITICAL traceback of its own on closing (the terminal's view, with
    # its other log lines, is tests/test_executors.py's)
    assert not [r for r in caplog.records if r.levelno >= logging.CRITICAL], caplog.text


def test_local_executor_yields_each_task_once_with_its_error():
    with LocalExecutor(n_workers=2) as ex:
        outcomes = list(ex.map_unordered(_reciprocal, [2, 0, 4, 5, 8, 10, 16, 20, 25, 40]))
    assert sorted(t for t, _, _ in outcomes) == [0, 2, 4, 5, 8, 10, 16, 20, 25, 40]
    errors = {t: e for t, _, e in outcomes if e is not None}
    assert list(errors) == [0] and isinstance(errors[0], ZeroDivisionError)
    assert {t: r for t, r, e in outcomes if e is None}[4] == 0.25


def _reciprocal(x: int) -> float:
    return 1 / x
