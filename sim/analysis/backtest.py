"""``freemium-sim backtest CALIBRATION.yaml --until YYYY-MM``: fit on the past, forecast the rest.

The calibration's observations are split at the end of month ``until``: periods that
end by then are fitted (ABC-SMC, ``sim.analysis.posterior``, or a Gaussian-process emulator,
``sim.analysis.emulator``; on the forecast's own horizon, scoring only the
observations that end by ``until``: see :func:`split`); the later ones are held out and never read.
The posterior then drives ``draws`` runs over the whole horizon (parameter and
stochastic uncertainty together). The forecast adds the model's structural error
(``discrepancy="random-walk"``, the default; ``sim.analysis.discrepancy``): each series'
log residual against the draws' median is a random walk whose step scale and last level are
estimated from the observations that end by ``until`` alone, carried past the cut-off
(``"none"``: the model's draws alone). Each series' held-out observations are scored
against the forecast:

- ``mape_percent``: mean |median - observed| / |observed| x 100;
- ``bias`` (series unit) and ``bias_percent``: mean (median - observed), and relative;
- ``coverage80`` / ``coverage95``: share of observations inside the central 80% / 95%
  posterior-predictive interval (a calibrated forecast covers about 0.8 / 0.95).

The same measures over the fitted periods are reported as ``fitted`` (in-sample, the model's
draws), those of the model's draws alone on the held-out periods as ``model_alone``, and the
fitted discrepancy as ``discrepancy`` (level and step scale).

Outputs in ``results/backtest-<name>-<until>/``: ``backtest.json``, ``forecast.csv``
(per series and period: observed, split, quantiles, the discrepancy's level and sd), ``posterior.csv``,
``abc.sqlite`` (ABC) or ``design.csv`` (the emulator's simulated points and their distances)
and ``figures/backtest-<series>.png`` (fan vs observations).
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from sim.analysis.calibration import Calibration, Target, horizon_periods, load_calibration
from sim.executors import Executor, using
from sim.outputs import claimed
from sim.resources import check_run_fits
from sim.analysis.fan import fan_figure, intervals, period_ends
from sim.analysis.discrepancy import NONE, PATHS, Discrepancy, fit_discrepancy, with_discrepancy
from sim.analysis.emulator import METHOD as EMULATOR, fit_by_method
from sim.analysis.posterior import FAR_WORSE, credible_intervals, posterior_predictive
from sim.atomic import replaced_atomically
from sim.clock import Clock
from sim.scenario import ScenarioError

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
DISCREPANCIES = ("random-walk", "none")
METHODS = {"abc": "ABC-SMC posterior", "emulator": EMULATOR}


def parse_until(until: str) -> pd.Period:
    """``YYYY-MM`` -> monthly Period; ScenarioError naming --until otherwise."""
    if not MONTH.match(str(until)):
        raise ScenarioError(f"--until: '{until}' is not a month YYYY-MM (e.g. 2018-12)")
    return pd.Period(until, freq="M")


def split(cal: Calibration, until: pd.Period) -> tuple[Calibration, dict[str, pd.Series]]:
    """(the calibration restricted to periods ending by ``until``, held-out series).

    The fit simulates the forecast's horizon: the listeners stand for the horizon's largest population
    (``Scenario.weight``), so where the horizon ends moves the months before a cut (on a horizon cut at
    2018-12 the baseline's users grow faster to 2018 than on one to 2020-12), and a fit on a shorter
    horizon would fit another model than the one that forecasts. Only inputs lie past ``until`` (the
    people in reach, prices, launches); its outcomes are never read. A target with no fitted observation
    is left out of the fit (it is still forecast).
    """
    dates = Clock.of(cal.base).dates
    first, last = dates.min().to_period("M"), dates.max().to_period("M")
    if not first <= until < last:
        raise ScenarioError(f"--until: {until} must lie inside the simulated horizon {first}..{last} "
                            "and leave later months to forecast")
    fitted, held = [], {}
    for t in cal.targets:
        ends = np.array([p.asfreq("M", "end") <= until for p in t.observed.index])
        held[t.name] = t.observed[~ends]
        if ends.any():
            fitted.append(dataclasses.replace(t, observed=t.observed[ends]))
    if not fitted:
        raise ScenarioError(f"--until: no observation ends by {until}; nothing to fit")
    if not any(len(s) for s in held.values()):
        raise ScenarioError(f"--until: every observation ends by {until}; nothing to forecast")
    return dataclasses.replace(cal, targets=tuple(fitted)), held


def forecast_scores(observed: pd.Series, periods: pd.Index, draws: np.ndarray) -> dict[str, Any]:
    """Fit of the forecast to ``observed`` (values by Period, a subset of ``periods``).

    draws: (n_draws, n_periods) over ``periods``. Returns n, mape_percent, bias,
    bias_percent, coverage80, coverage95 (None when there is no observation).
    """
    if observed.empty:
        return {"n": 0, "mape_percent": None, "bias": None, "bias_percent": None, "coverage80": None, "coverage95": None}
    q = intervals(draws).set_index(periods)
    q = q.loc[observed.index]
    obs = observed.to_numpy(float)
    err = q["q50"].to_numpy() - obs
    inside = lambda lo, hi: float(np.mean((obs >= q[lo].to_numpy()) & (obs <= q[hi].to_numpy())))  # noqa: E731
    return {"n": int(len(obs)), "mape_percent": float(100 * np.mean(np.abs(err) / np.abs(obs))),
            "bias": float(np.mean(err)), "bias_percent": float(100 * np.mean(err / np.abs(obs))),
            "coverage80": inside("q10", "q90"), "coverage95": inside("q2.5", "q97.5")}


def fan_note(scores: dict[str, Any], d: Discrepancy) -> str:
    """The fan figure's note: the held-out scores of backtest.json's ``series`` entry ``scores`` and, where one was
    fitted, the model discrepancy ``d``; '' with no held-out observation and no discrepancy."""
    f = scores["forecast"]
    note = "" if not f["n"] else (f"held out: MAPE {f['mape_percent']:.1f}%, "
                                  f"80% cover {f['coverage80']:.0%}, 95% cover {f['coverage95']:.0%}")
    if d.steps:
        gap = scores["discrepancy"]
        note += (f"\nmodel discrepancy: {gap['level_percent']:+.1f}% at the cut-off, "
                 f"random-walk sd {gap['sigma_per_quarter_percent']:.1f}% a quarter")
    return note


def forecast_rows(t: Target, periods: pd.Index, fan: np.ndarray, d: Discrepancy, month: pd.Period) -> pd.DataFrame:
    """forecast.csv's rows of target ``t``: per period of ``periods``, the observation, whether it was fitted (ends by
    ``month``) or forecast, the quantiles of ``fan`` (draws x paths, n_periods; the target's unit) and the discrepancy
    ``d``'s log level and sd."""
    return pd.DataFrame({"series": t.name, "period": [str(p) for p in periods],
                         "date": period_ends(periods).strftime("%Y-%m-%d"),
                         "observed": t.observed.reindex(periods).to_numpy(),
                         "part": ["fit" if p.asfreq("M", "end") <= month else "forecast" for p in periods],
                         "unit": t.unit, **intervals(fan),
                         "discrepancy_level": d.level_at(periods), "discrepancy_sd": d.sd(periods)})


def backtest(path: str | Path, until: str, out: str | Path | None = None, workers: int | None = None,
             changes: dict[str, Any] | None = None, population: int = 50, generations: int = 4, draws: int = 40,
             on_simulation: Callable[[int], None] | None = None, executor: str | Executor = "local",
             scheduler: str | None = None, on_notice: Callable[[str], None] | None = None,
             method: str = "abc", design: int = 96, rounds: int = 2, batch: int = 32,
             discrepancy: str = "random-walk") -> dict[str, Any]:
    """Fit the calibration up to ``until``, forecast the rest, write the results folder; returns backtest.json.

    ``method``: ``abc`` (ABC-SMC, ``population`` x ``generations``) or ``emulator`` (a Gaussian-process
    emulator of the distance, ``sim.analysis.emulator``: ``design`` points, then ``rounds`` x ``batch``).
    ``discrepancy``: ``random-walk`` (the model's structural error fitted up to ``until``, carried
    forward: ``sim.analysis.discrepancy``) or ``none`` (the posterior-predictive draws alone)."""
    import pyabc

    import sim

    started = time.perf_counter()
    month = parse_until(until)
    if discrepancy not in DISCREPANCIES:
        raise ScenarioError(f"--discrepancy: '{discrepancy}' is not one of {', '.join(DISCREPANCIES)}")
    cal = load_calibration(path, changes)
    fit_cal, held = split(cal, month)
    out = Path(out) if out else Path("results") / f"backtest-{cal.spec.name}-{month}"
    periods = horizon_periods(cal)
    split_date = month.to_timestamp(how="end").normalize()
    check_run_fits(cal.base, workers, cal.spec.replicates)
    with claimed(out, "backtest"), replaced_atomically(out, "backtest") as tmp:
        with using(executor, scheduler=scheduler, n_workers=workers,
                   max_tasks=cal.spec.replicates if method == "abc" else None, on_notice=on_notice) as ex:
            post = fit_by_method(fit_cal, tmp, method, ex, on_simulation, population, generations, design, rounds, batch)
            predictive = posterior_predictive(cal, post["sample"], draws, cal.spec.seed + 1, periods, ex,
                                              on_draw=on_simulation)
        series, rows = {}, []
        for i, t in enumerate(cal.targets):
            model = predictive[t.name]
            fitted = t.observed.drop(held[t.name].index)
            d = fit_discrepancy(t.observed, month, periods[t.name], model) if discrepancy == "random-walk" else NONE
            fan = with_discrepancy(model, periods[t.name], d, np.random.default_rng([cal.spec.seed + 3, i]))
            series[t.name] = {"unit": t.unit, "forecast": forecast_scores(held[t.name], periods[t.name], fan),
                              "fitted": forecast_scores(fitted, periods[t.name], model),
                              "model_alone": forecast_scores(held[t.name], periods[t.name], model),
                              "discrepancy": d.summary(),
                              "held_out_periods": [str(p) for p in held[t.name].index]}
            fan_figure(t, periods[t.name], fan, tmp / "figures", f"backtest-{t.name}", split=split_date,
                       note=fan_note(series[t.name], d),
                       median_label=f"median of {len(model)} posterior draws" + (f" x {PATHS} discrepancy paths"
                                                                                 if d.steps else ""))
            rows.append(forecast_rows(t, periods[t.name], fan, d, month))
        pd.concat(rows).to_csv(tmp / "forecast.csv", index=False)
        post["sample"].to_csv(tmp / "posterior.csv", index=False)
        result = {
            "calibration": cal.spec.name, "source": str(path), "until": str(month), "data": cal.spec.data,
            "method": (f"{METHODS[method]} on observations ending by `until` (simulated over the whole horizon, scored up to `until`), then "
                       f"{draws} posterior-predictive runs over the whole horizon"
                       + (f", each times {PATHS} paths of a random-walk model discrepancy fitted to the observations "
                          "ending by `until`" if discrepancy == "random-walk" else "")),
            "discrepancy": discrepancy,
            "seed": cal.spec.seed, "replicates": cal.spec.replicates,
            **({"population": population, "generations": generations} if method == "abc" else
               {"design": design, "rounds": rounds, "batch": batch, "kernel": post["kernel"]}),
            "evaluations": post["evaluations"], "epsilons": post["epsilons"],
            "overrides": cal.spec.overrides,
            "guard": {"far_worse_factor": FAR_WORSE, "dropped": post["dropped"]}, "start": post["start"],
            "posterior": credible_intervals(post["sample"], list(cal.spec.parameters)),
            "series": series,
            "measures": "mape_percent and bias of the predictive median; coverage80/95 = share of observations "
                        "inside the central 80%/95% predictive interval (forecast: with the model discrepancy; "
                        "model_alone and fitted: the posterior-predictive draws alone)",
            "version": sim.__version__, "pyabc": pyabc.__version__, "wall_seconds": None,
        }
        result["wall_seconds"] = round(time.perf_counter() - started, 1)
        (tmp / "backtest.json").write_text(json.dumps(result, indent=2, default=str))
    result["out"] = str(out)
    return result
