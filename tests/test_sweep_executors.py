"""Executors: every task comes back once, whatever the workers do."""

from __future__ import annotations

import os

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


def test_local_executor_yields_each_task_once_with_its_error():
    with LocalExecutor(n_workers=2) as ex:
        outcomes = list(ex.map_unordered(_reciprocal, [2, 0, 4, 5, 8, 10, 16, 20, 25, 40]))
    assert sorted(t for t, _, _ in outcomes) == [0, 2, 4, 5, 8, 10, 16, 20, 25, 40]
    errors = {t: e for t, _, e in outcomes if e is not None}
    assert list(errors) == [0] and isinstance(errors[0], ZeroDivisionError)
    assert {t: r for t, r, e in outcomes if e is None}[4] == 0.25


def _reciprocal(x: int) -> float:
    return 1 / x
