"""Run a scenario: R replicates from ``SeedSequence(seed).spawn(R)``, in a process pool.

``simulate(scenario, seed)`` is the pure, picklable unit of work (one replicate); the
executors, sweeps and ``compare`` all call it. Results are identical whatever the
number of worker processes because each replicate owns its seed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
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
from sim.metrics import kpi_bounds
from sim.model import MarketModel
from sim.scenario import Scenario, scenario_to_yaml

# KPIs of the focal service at the last date reported in summary.json (issue contract),
# plus cumulative revenue over the horizon.
SUMMARY_KPIS = (
    "mau", "premium_subscribers", "free_users", "trial_users", "revenue_subscription_eur", "revenue_ads_eur",
    "revenue_total_eur", "ad_revenue_share", "churn_premium_monthly", "churn_voluntary_monthly",
    "churn_downgrade_monthly", "churn_to_competitor_monthly", "churn_lapse_monthly", "arpu_premium_eur",
    "arpu_ad_supported_eur", "market_share", "gross_profit_eur", "gross_margin",
    "listening_hours_per_free_user", "listening_hours_per_premium_user", "cpm_eur", "fill_rate", "impressions",
    "support_response_hours", "trial_conversion", "cac_eur", "ltv_eur", "satisfaction_mean",
    "loyalty_prospect", "loyalty_customer", "loyalty_client", "loyalty_supporter", "loyalty_advocate",
)


@dataclass
class SimulationResult:
    """One replicate's outputs: per-step KPIs by service and focal cohort retention."""

    timeseries: pd.DataFrame
    cohorts: pd.DataFrame


def months_per_step(scenario: Scenario) -> float:
    """Length of one step in months: multiply a per-month flow by this to get the step's amount."""
    return Clock.of(scenario).months_per_step


def simulate(scenario: Scenario, seed: np.random.SeedSequence, replicate: int = 0,
             on_step: Callable[[], None] | None = None) -> SimulationResult:
    """Run one replicate to the horizon. Pure: same scenario and seed, same result."""
    model = MarketModel(scenario, seed)
    while model.running:
        model.step()
        if on_step is not None:
            on_step()
    return SimulationResult(model.timeseries(replicate), model.cohorts(replicate))


def replicate_seeds(seed: int, replicates: int) -> list[np.random.SeedSequence]:
    """Independent seed streams, one per replicate: ``SeedSequence(seed).spawn(replicates)``."""
    return np.random.SeedSequence(seed).spawn(replicates)


def _run_one(args: tuple[Scenario, np.random.SeedSequence, int, object]) -> SimulationResult:
    scenario, seed, r, queue = args
    tick = (lambda: queue.put(1)) if queue is not None else None
    return simulate(scenario, seed, r, tick)


def run_replicates(scenario: Scenario, replicates: int, seed: int, workers: int | None = None,
                   progress: Callable[[int], None] | None = None) -> list[SimulationResult]:
    """Run R replicates (in worker processes when ``workers`` > 1), in replicate order.

    ``progress(k)`` is called with the number of steps completed since the last call.
    """
    seeds = replicate_seeds(seed, replicates)
    workers = max(1, min(workers or os.cpu_count() or 1, replicates))
    if workers == 1:
        tick = (lambda: progress(1)) if progress else None
        return [simulate(scenario, s, r, tick) for r, s in enumerate(seeds)]
    import multiprocessing as mp

    ctx = mp.get_context("spawn" if sys.platform == "darwin" else "fork")
    # a Manager (its own server process) only when someone watches the progress
    with ctx.Manager() if progress else nullcontext() as manager:
        queue = manager.Queue() if progress else None
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [pool.submit(_run_one, (scenario, s, r, queue)) for r, s in enumerate(seeds)]
            while progress and not all(f.done() for f in futures):
                _drain(queue, progress, wait=0.1)
            results = [f.result() for f in futures]
            if progress:
                _drain(queue, progress, wait=0.0)
    return results


def _drain(queue, progress: Callable[[int], None], wait: float) -> None:
    import queue as q

    done = 0
    try:
        done += queue.get(timeout=wait) if wait else queue.get_nowait()
        while True:
            done += queue.get_nowait()
    except q.Empty:
        pass
    if done:
        progress(done)


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
    for col in ("revenue_total_eur", "revenue_subscription_eur", "revenue_ads_eur", "gross_profit_eur"):
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

    Files: scenario.yaml, manifest.json, timeseries.parquet, cohorts.parquet, summary.json,
    and whatever ``extra(tmp_dir, timeseries, cohorts, summary)`` adds (the report).
    An existing ``out_dir`` is replaced only once the new one is complete.
    """
    ts = pd.concat([r.timeseries for r in results], ignore_index=True)
    cohorts = pd.concat([r.cohorts for r in results], ignore_index=True)
    summary = summarize(ts, scenario, window)
    with replaced_atomically(Path(out_dir)) as tmp:
        (tmp / "scenario.yaml").write_text(scenario_to_yaml(scenario))
        ts.to_parquet(tmp / "timeseries.parquet", index=False)
        cohorts.to_parquet(tmp / "cohorts.parquet", index=False)
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
