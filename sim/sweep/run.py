"""``freemium-sim sweep``: run every design point x replicate of a sweep file, resumably.

The orchestration only: load and validate the sweep, build the design, open the
store, skip the runs already recorded, hand the rest to an executor, record each
result as it arrives, consolidate. The function every executor runs,
:func:`execute_run`, is pure and picklable: a run's seed is
``SeedSequence([sweep seed, point]).spawn(replicates)[replicate]`` (without ``point``
under common random numbers), so the results do not depend on the executor, the
number of workers or the order of completion.
"""

from __future__ import annotations

import math
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.executors import Executor, using
from sim.outputs import SWEEP, check_output
from sim.resources import check_fits, workers_bytes
from sim.runner import months_per_step, simulate
from sim.scenario import Scenario, apply_overrides
from sim.sweep import designs
from sim.sweep.spec import KpiSpec, Sweep, SweepSpec, load_sweep
from sim.sweep.store import PART_BYTES, SweepStore, run_id


@dataclass(frozen=True)
class RunTask:
    """One run of a sweep: a design point's values on the base scenario, one replicate's seed."""

    run_id: str
    point: int
    replicate: int
    base: Scenario
    values: dict[str, Any]
    seed: np.random.SeedSequence
    kpis: tuple[KpiSpec, ...]
    keep: tuple[str, ...] = ()


def run_seed(spec: SweepSpec, point: int, replicate: int) -> np.random.SeedSequence:
    """Seed of one run: from the sweep seed, the point index (unless common random numbers) and the replicate."""
    entropy = [spec.seed] if spec.common_random_numbers else [spec.seed, point]
    return np.random.SeedSequence(entropy).spawn(spec.replicates)[replicate]


def execute_run(task: RunTask) -> dict[str, Any]:
    """Simulate one run and reduce it to its KPIs; an exception becomes a ``failed`` record, not a crash.

    Returns the run's record: run_id, point, replicate, one float per KPI (NaN if
    failed), status (``ok``/``failed``), error (message or None), seconds (wall time),
    and with ``keep`` columns, ``series``: the focal rows' date and kept columns
    (a DataFrame, None if failed).
    """
    start = time.perf_counter()
    series = None
    try:
        scenario = apply_overrides(task.base, task.values, source=f"design point {task.point}")
        timeseries = simulate(scenario, task.seed).timeseries
        focal = timeseries[timeseries["focal"]].sort_values("step")
        kpis = {k.key: k.evaluate(focal, months_per_step(scenario)) for k in task.kpis}
        if task.keep:
            series = focal[["date", *task.keep]].reset_index(drop=True)
        status, error = "ok", None
    except Exception as exc:
        kpis = {k.key: math.nan for k in task.kpis}
        status, error = "failed", _describe(exc)
    record = {"run_id": task.run_id, "point": task.point, "replicate": task.replicate, **kpis,
              "status": status, "error": error, "seconds": time.perf_counter() - start}
    return {**record, "series": series} if task.keep else record


def _describe(exc: BaseException) -> str:
    """``Type: message [file:line]`` of the innermost frame, enough to find the bug from runs.parquet."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" [{Path(frames[-1].filename).name}:{frames[-1].lineno}]" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def pending_tasks(sweep: Sweep, design: designs.Design, recorded: pd.DataFrame, retry_failed: bool) -> list[RunTask]:
    """Runs not yet recorded (and, with retry_failed, those recorded as failed), in run_id order."""
    keep = recorded["status"].eq("ok") | (recorded["status"].eq("failed") & (not retry_failed))
    done = set(recorded.loc[keep, "run_id"])
    n_points, replicates = len(design.values), sweep.spec.replicates
    tasks = []
    for point in range(n_points):
        values = design.point_overrides(point)
        for r in range(replicates):
            rid = run_id(point, r, n_points, replicates)
            if rid not in done:
                tasks.append(RunTask(rid, point, r, sweep.base, values, run_seed(sweep.spec, point, r),
                                     tuple(sweep.spec.kpis), tuple(sweep.spec.keep)))
    return tasks


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep is about to do: ``to_run`` of its ``total`` runs are not recorded yet."""

    name: str
    points: int
    replicates: int
    total: int
    to_run: int
    root: Path
    runs_path: Path


def run_sweep(path: str | Path, *, executor: str | Executor = "local", scheduler: str | None = None,
              workers: int | None = None, out: str | Path | None = None, retry_failed: bool = False,
              on_start: Callable[[SweepPlan], None] | None = None,
              on_run: Callable[[dict[str, Any]], None] | None = None,
              on_notice: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Run (or resume) a sweep; return the consolidated runs table (also in ``OUT/runs.parquet``).

    ``executor``: ``local``, ``dask`` (with ``scheduler`` and ``workers``), or a running executor.
    ``on_start(plan)`` is called before the first run, ``on_run(record)`` as each run is recorded,
    ``on_notice(message)`` when workers died and their runs start again.
    Raises ScenarioError for a bad sweep file or an out folder holding another sweep,
    LockError if another process writes to it, WorkerLost if local workers died (rerunning resumes).
    """
    sweep = load_sweep(path)
    design = designs.build(sweep)
    store = SweepStore(out or Path("results") / f"sweep-{sweep.spec.name}", [k.key for k in sweep.spec.kpis])
    total = len(design.values) * sweep.spec.replicates
    check_output(store.root, SWEEP, total * PART_BYTES)  # a new or sweep folder, writable, with room for the parts
    if executor == "local":
        check_fits(workers_bytes(sweep.base, workers, total), f"{sweep.base.market.agents:,} listeners per run on "
                   "each worker", f"{sweep.source}: base")
    created = not store.root.exists()
    try:
        with store.locked():
            store.prepare(sweep.resolved(), design.values)
            tasks = pending_tasks(sweep, design, store.read_parts(), retry_failed)
            if on_start is not None:
                on_start(SweepPlan(sweep.spec.name, len(design.values), sweep.spec.replicates, total, len(tasks),
                                   store.root, store.runs_path))
            try:
                if tasks:
                    with using(executor, scheduler=scheduler, n_workers=workers, max_tasks=len(tasks),
                               on_notice=on_notice) as ex:
                        for task, record, error in ex.map_unordered(execute_run, tasks):
                            if error is not None:  # the executor lost the run itself (e.g. Dask gave up after retries)
                                record = {"run_id": task.run_id, "point": task.point, "replicate": task.replicate,
                                          "status": "failed", "error": _describe(error), "seconds": math.nan}
                            series = record.pop("series", None)
                            if series is not None:
                                store.write_series(record, series)
                            store.write_part(record)
                            if on_run is not None:
                                on_run(record)
            finally:
                runs = store.consolidate(design.values)
                if sweep.spec.keep:
                    envelopes(store, sweep.spec.keep)
    except BaseException:
        # interrupted or failed before a run was recorded: nothing to resume, so leave no folder behind
        if created and not any(store.parts.glob("*.parquet")):
            shutil.rmtree(store.root, ignore_errors=True)
        raise
    return runs


def envelopes(store: SweepStore, keep: list[str]) -> None:
    """Consolidate the kept series into ``series.parquet`` and draw ``figures/envelopes.png``:
    per kept column, the median over every run (all points and replicates) and its 5-95% band."""
    from sim.report.plotting import MILLION, PERCENT, Panel, banded_figure, save_figure
    from sim.metrics import kpi_unit

    series = store.consolidate_series()
    if series.empty:
        return
    panels = []
    for column in keep:
        unit = kpi_unit(column)
        scale, shown = ((PERCENT, unit.replace("share", "%")) if unit.startswith("share") else
                        (MILLION, f"millions of {unit}") if unit.startswith(("people", "EUR")) else (1.0, unit))
        panels.append(Panel(column, f"{column}\n({shown})", scale))
    fig = banded_figure(series.assign(sweep="all runs"), panels, "sweep", ["all runs"],
                        f"Envelopes over {series['run_id'].nunique()} runs")
    save_figure(fig, store.root / "figures", "envelopes", "Envelopes",
                "Median over every run of the sweep (all design points and replicates), shaded 5-95% range.")
