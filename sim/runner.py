"""Run a scenario: R replicates from ``SeedSequence(seed).spawn(R)``, on an executor (sim.executors).

``simulate(scenario, seed)`` is the pure, picklable unit of work (one replicate); the
executors, sweeps and ``compare`` all call it. Results are identical whatever the
number of worker processes because each replicate owns its seed.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats

import sim
from sim.atomic import replaced_atomically
from sim.analysis.windows import WINDOW_MEANS, Window, in_window
from sim.clock import Clock
from sim.executors import Executor, tick, using
from sim.metrics import SUMMARY_KPIS, kpi_bounds
from sim.model import MarketModel
from sim.resources import check_run_fits
from sim.scenario import Scenario, apply_overrides, load_scenario, scenario_to_yaml

@dataclass
class SimulationResult:
    """One replicate's outputs: per-step KPIs by service, focal cohort retention, users by region and service."""

    timeseries: pd.DataFrame
    cohorts: pd.DataFrame
    regions: pd.DataFrame


def months_per_step(scenario: Scenario) -> float:
    """Length of one step in months: multiply a per-month flow by this to get the step's amount."""
    return Clock.of(scenario).months_per_step


def simulate(scenario: Scenario, seed: np.random.SeedSequence, replicate: int = 0,
             on_step: Callable[[], None] | None = None) -> SimulationResult:
    """Run one replicate to the horizon. Pure: same scenario and seed, same result."""
    model = MarketModel(scenario, seed)
    try:
        while model.running:
            model.step()
            if on_step is not None:
                on_step()
        return SimulationResult(model.timeseries(replicate), model.cohorts(replicate), model.regions(replicate))
    finally:
        _release(model)


def _release(model: MarketModel) -> None:
    """Free a finished model's state (listener arrays, network, records) now, not at the next full garbage collection.

    A Mesa model sits in reference cycles (its agents point back at it; it wraps its own
    ``step``), so reference counting never frees it. A full collection would, but with the
    ~200k objects the imports leave it comes only once in many runs (and costs ~0.1 s), so a
    worker running replicate after replicate held the garbage of many models at a time and the
    allocator kept their pages: +0.03 MiB per run at 5,000 listeners, about 30 MiB over 1,000
    runs (``benchmarks/memory.py``). Dropping the model's attributes frees what they hold by
    reference counting; the model is no one else's (``simulate`` built it and keeps only its results).
    """
    vars(model).clear()


def compile_kernels() -> None:
    """Compile (or load from the cache) every numba kernel (``sim.kernels``) by running a tiny baseline model
    for two steps."""
    base = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
    simulate(apply_overrides(load_scenario(base), {"market.agents": 500, "time.months": 2}), np.random.SeedSequence(0))


def replicate_seeds(seed: int, replicates: int) -> list[np.random.SeedSequence]:
    """Independent seed streams, one per replicate: ``SeedSequence(seed).spawn(replicates)``."""
    return np.random.SeedSequence(seed).spawn(replicates)


def _run_one(task: tuple[Scenario, np.random.SeedSequence, int]) -> SimulationResult:
    """One replicate in an executor, reporting each step to the parent's progress."""
    scenario, seed, r = task
    return simulate(scenario, seed, r, on_step=tick)


def run_replicates(scenario: Scenario, replicates: int, seed: int, workers: int | None = None,
                   progress: Callable[[int], None] | None = None,
                   executor: str | Executor = "local", scheduler: str | None = None,
                   on_notice: Callable[[str], None] | None = None) -> list[SimulationResult]:
    """Run R replicates on an executor, in replicate order.

    ``executor``: ``local`` (``workers`` processes, default every core; one runs here),
    ``dask`` (``scheduler``, or a LocalCluster of ``workers``), or a running executor.
    ``progress(k)`` is called with the number of steps completed since the last call.
    """
    check_run_fits(scenario, workers, replicates)  # refused up front with the estimate, not a MemoryError later
    tasks = [(scenario, s, r) for r, s in enumerate(replicate_seeds(seed, replicates))]
    results: dict[int, SimulationResult] = {}
    with using(executor, scheduler=scheduler, n_workers=workers, max_tasks=replicates, on_notice=on_notice) as ex:
        for (_, _, r), result, error in ex.map_unordered(_run_one, tasks, on_tick=progress):
            if error is not None:
                raise error
            results[r] = result
    return [results[r] for r in range(replicates)]


def ci95(values: np.ndarray, bounds: tuple[float, float] = (-np.inf, np.inf)) -> dict[str, float | None]:
    """Mean and 95% t-interval across replicates (NaNs ignored); bounds None with one replicate.

    The interval is clipped to ``bounds``, the KPI's possible values (a share stays in
    [0, 1], a count non-negative), which matters with few replicates.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": None, "ci95_low": None, "ci95_high": None}
    mean = float(v.mean())
    if v.size < 2:
        return {"mean": mean, "ci95_low": None, "ci95_high": None}
    half = float(stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    low, high = bounds
    return {"mean": mean, "ci95_low": max(mean - half, low), "ci95_high": min(mean + half, high)}


#: The flows summed over the horizon (or window) as ``cumulative_<flow>`` KPIs, EUR.
CUMULATIVE = ("revenue_total_eur", "revenue_subscription_eur", "revenue_ads_eur", "gross_profit_eur")


def focal_kpi_names(window: Window | None = None) -> list[str]:
    """The columns :func:`focal_kpis` returns, in order."""
    return [*SUMMARY_KPIS, *(f"cumulative_{c}" for c in CUMULATIVE), *(f"mean_{c}" for c in WINDOW_MEANS if window is not None)]


def focal_kpis(timeseries: pd.DataFrame, scenario: Scenario, window: Window | None = None) -> pd.DataFrame:
    """Per replicate: every summary KPI of the focal service at the last date, plus cumulative revenue.

    With a ``window`` (calendar months, both included) the point KPIs are read at its last
    month, the cumulative ones sum over it, and ``mean_<kpi>`` columns average the
    :data:`~sim.analysis.windows.WINDOW_MEANS` over it. Returns a DataFrame indexed by
    replicate, one column per KPI.
    """
    focal = timeseries[timeseries["focal"]]
    focal = focal[in_window(focal["date"], window)]
    last = focal[focal["date"] == focal["date"].max()].set_index("replicate")
    out = last[list(SUMMARY_KPIS)].copy()
    dt = months_per_step(scenario)
    for col in CUMULATIVE:
        out[f"cumulative_{col}"] = focal.groupby("replicate")[col].sum() * dt
    if window is not None:
        for col in WINDOW_MEANS:
            out[f"mean_{col}"] = focal.groupby("replicate")[col].mean()
    return out


def summarize(timeseries: pd.DataFrame, scenario: Scenario, window: Window | None = None) -> dict:
    """summary.json content: focal KPIs at the last date (of the window) with 95% intervals across replicates."""
    per_rep = focal_kpis(timeseries, scenario, window)
    dates = timeseries["date"][in_window(timeseries["date"], window)]
    out = {
        "scenario": scenario.name,
        "service": scenario.services.focal.name,
        "date": str(pd.Timestamp(dates.max()).date()),
        "replicates": int(timeseries["replicate"].nunique()),
        "kpis": {k: ci95(per_rep[k].to_numpy(), kpi_bounds(k)) for k in per_rep.columns},
    }
    if window is not None:
        out["window"] = {"start": window[0], "end": window[1]}
    return out


def write_outputs(out_dir: Path, scenario: Scenario, results: list[SimulationResult], seed: int,
                  wall_seconds: float, command: list[str], extra: Callable[[Path, pd.DataFrame, pd.DataFrame, dict], None] | None = None,
                  window: Window | None = None) -> dict:
    """Write the output contract into a temporary folder, then rename it into place.

    Files: scenario.yaml, manifest.json, timeseries.parquet, cohorts.parquet, regions.parquet,
    summary.json, and whatever ``extra(tmp_dir, timeseries, cohorts, summary)`` adds (the report).
    An existing ``out_dir`` is replaced only once the new one is complete.
    """
    ts = pd.concat([r.timeseries for r in results], ignore_index=True)
    cohorts = pd.concat([r.cohorts for r in results], ignore_index=True)
    summary = summarize(ts, scenario, window)
    with replaced_atomically(Path(out_dir), "run") as tmp:
        (tmp / "scenario.yaml").write_text(scenario_to_yaml(scenario))
        ts.to_parquet(tmp / "timeseries.parquet", index=False)
        cohorts.to_parquet(tmp / "cohorts.parquet", index=False)
        pd.concat([r.regions for r in results], ignore_index=True).to_parquet(tmp / "regions.parquet", index=False)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
        manifest = {
            "package": "freemium-sim", "version": sim.__version__, "scenario": scenario.name, "seed": seed,
            "replicates": len(results), "agents": scenario.market.agents, "weight": scenario.weight,
            "wall_seconds": round(wall_seconds, 3), "command": command, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "python": sys.version.split()[0], "numpy": np.__version__,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
        if extra is not None:
            extra(tmp, ts, cohorts, summary)
    return summary
