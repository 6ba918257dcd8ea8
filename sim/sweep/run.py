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

import argparse
import math
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from sim.outputs import SWEEP, check_output
from sim.resources import check_fits, workers_bytes
from sim.runner import months_per_step, simulate
from sim.scenario import Scenario, ScenarioError, apply_overrides
from sim.sweep import designs
from sim.sweep.executors import WorkerLost, make_executor
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


def run_seed(spec: SweepSpec, point: int, replicate: int) -> np.random.SeedSequence:
    """Seed of one run: from the sweep seed, the point index (unless common random numbers) and the replicate."""
    entropy = [spec.seed] if spec.common_random_numbers else [spec.seed, point]
    return np.random.SeedSequence(entropy).spawn(spec.replicates)[replicate]


def execute_run(task: RunTask) -> dict[str, Any]:
    """Simulate one run and reduce it to its KPIs; an exception becomes a ``failed`` record, not a crash.

    Returns the run's record: run_id, point, replicate, one float per KPI (NaN if
    failed), status (``ok``/``failed``), error (message or None), seconds (wall time).
    """
    start = time.perf_counter()
    try:
        scenario = apply_overrides(task.base, task.values, source=f"design point {task.point}")
        timeseries = simulate(scenario, task.seed).timeseries
        focal = timeseries[timeseries["focal"]].sort_values("step")
        kpis = {k.key: k.evaluate(focal, months_per_step(scenario)) for k in task.kpis}
        status, error = "ok", None
    except Exception as exc:
        kpis = {k.key: math.nan for k in task.kpis}
        status, error = "failed", _describe(exc)
    return {"run_id": task.run_id, "point": task.point, "replicate": task.replicate, **kpis,
            "status": status, "error": error, "seconds": time.perf_counter() - start}


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
                                     tuple(sweep.spec.kpis)))
    return tasks


def run_sweep(path: str | Path, *, executor: str = "local", scheduler: str | None = None, workers: int | None = None,
              out: str | Path | None = None, retry_failed: bool = False, quiet: bool = False) -> pd.DataFrame:
    """Run (or resume) a sweep; return the consolidated runs table (also in ``OUT/runs.parquet``).

    Raises ScenarioError for a bad sweep file or an out folder holding another sweep,
    WorkerLost if a local worker process died (rerunning resumes).
    """
    console = Console(quiet=quiet, stderr=True)
    sweep = load_sweep(path)
    design = designs.build(sweep)
    store = SweepStore(out or Path("results") / f"sweep-{sweep.spec.name}", [k.key for k in sweep.spec.kpis])
    total = len(design.values) * sweep.spec.replicates
    check_output(store.root, SWEEP, total * PART_BYTES)  # a new or sweep folder, writable, with room for the parts
    if executor == "local":
        check_fits(workers_bytes(sweep.base, workers, total), f"{sweep.base.market.agents:,} listeners per run on "
                   "each worker", f"{sweep.source}: base")
    with store.locked():
        store.prepare(sweep.resolved(), design.values)
        tasks = pending_tasks(sweep, design, store.read_parts(), retry_failed)
        console.print(f"sweep [bold]{sweep.spec.name}[/]: {len(design.values)} points x {sweep.spec.replicates} "
                      f"replicates = {total} runs; {total - len(tasks)} recorded, {len(tasks)} to run -> {store.root}")
        try:
            if tasks:
                with make_executor(executor, scheduler=scheduler, n_workers=workers) as ex:
                    _record_all(ex.map_unordered(execute_run, tasks), store, len(tasks), console)
        finally:
            runs = store.consolidate(design.values)
    failed = runs["status"].eq("failed").sum()
    console.print(f"{len(runs)} of {total} runs recorded in {store.runs_path}"
                  + (f"; [red]{failed} failed[/] (see the error column; rerun with --retry-failed)" if failed else ""))
    return runs


def _record_all(outcomes: Iterator, store: SweepStore, n: int, console: Console) -> None:
    """Write each finished run to the store while a progress bar counts ok and failed runs."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("[green]{task.fields[ok]} ok[/] [red]{task.fields[failed]} failed[/]"),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("runs", total=n, ok=0, failed=0)
        ok = failed = 0
        for task, record, error in outcomes:
            if error is not None:  # the executor lost the run itself (e.g. Dask gave up after retries)
                record = {"run_id": task.run_id, "point": task.point, "replicate": task.replicate,
                          "status": "failed", "error": _describe(error), "seconds": math.nan}
            store.write_part(record)
            ok, failed = ok + (record["status"] == "ok"), failed + (record["status"] != "ok")
            progress.update(bar, advance=1, ok=ok, failed=failed)


# ---------------------------------------------------------------- command line


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``freemium-sim sweep``."""
    p = subparsers.add_parser("sweep", help="run every design point x replicate of a sweep file (resumable)",
                              description="Run every design point x replicate of a sweep file into OUT/runs.parquet. "
                              "Killed or interrupted, the same command resumes: recorded runs are not run again.")
    p.add_argument("sweep_file", metavar="SWEEP.yaml", help="sweep file, e.g. scenarios/sweeps/smoke.yaml")
    p.add_argument("--executor", choices=["local", "dask"], default="local",
                   help="local process pool (default) or a Dask cluster")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="Dask scheduler address (with --executor dask; default: a local Dask cluster)")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes (default: every core)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: results/sweep-<name>/)")
    p.add_argument("--retry-failed", action="store_true", help="rerun the runs recorded as failed")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    """Exit status: 0 all runs ok, 1 some failed or a worker died (rerun to resume); bad input raises (exit 2)."""
    if args.scheduler and args.executor != "dask":
        raise ScenarioError("--scheduler: names a Dask scheduler; add --executor dask")
    try:
        runs = run_sweep(args.sweep_file, executor=args.executor, scheduler=args.scheduler, workers=args.workers,
                         out=args.out, retry_failed=args.retry_failed, quiet=args.quiet)
    except WorkerLost as exc:
        Console(stderr=True).print(f"[red]{exc}[/]; the recorded runs are kept: rerun the same command to resume")
        return 1
    return int(runs["status"].eq("failed").any())
