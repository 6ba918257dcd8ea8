"""``freemium-sim calibrate CALIBRATION.yaml``: fit scenario parameters to observed KPI series.

A calibration file names a base scenario, the parameters to fit (scenario key paths
with bounds, in the sweep file's format: ``{low, high, distribution: loguniform}`` or
``{levels: [...]}``), the observations (a CSV in ``data/``) and, per target series,
the focal-service model quantity it is compared with (``sim.analysis.targets``).

Method. The distance of a parameter set is the weighted sum over series of the
normalised error of the replicate-mean simulated series against the observations
(``nrmse``: RMSE / mean |observed|, or ``msre``: mean squared relative error), so a
series in millions of people and one in percent count alike. It is minimised with
Optuna's multivariate TPE sampler (Bergstra et al. 2011; Falkner et al. 2018), chosen
because:

- it is cheap: a handful of model runs per trial and no gradients, which a
  stochastic agent-based model does not have;
- it is a well-kept, pinned dependency of this project;
- it is deterministic: a seeded sampler with ``n_jobs=1`` proposes the same trials
  in the same order, and every trial runs the same replicate seeds (common random
  numbers), so two parameter sets are compared on the same random draws and the
  whole fit repeats exactly;
- it handles bounded, log-scaled, integer and categorical parameters natively.

The first trial is the base scenario's own values (where they lie inside the
bounds), so the fit never reports something worse than the starting point on the
fitting seeds. Reported uncertainty is deliberately modest: the range of each
parameter over the best 10% of trials that lie within 20% of the best distance (and a
warning when no trial beat the starting values). That is an approximate, posterior-like range
of values that fit about as well, NOT a Bayesian posterior: TPE samples densely near
good values, so it mostly shows how flat the distance is around the optimum.

Because the best trial is selected on noisy evaluations, its own distance is
optimistic. The reported per-series fit and the figures therefore come from a check
run of the best parameters with ``check_replicates`` fresh seeds (root seed
``seed + 1``, independent of the fitting seeds).

Outputs in ``results/calibration-<name>/`` (written to a temporary folder, renamed
into place): ``fit.json``, ``calibrated.yaml`` (the base scenario, without the
calibration's cheap-run overrides, with the fitted values applied), ``trials.csv``
and ``figures/fit-<series>.png``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Literal

import numpy as np
import optuna
import pandas as pd
from pydantic import Field

import sim
from sim.analysis.targets import (KNOWN_METRICS, TargetSpec, check_services, covered, observed_series, read_observations, series_fit,
                                  service_rows, simulated_series)
from sim.atomic import replaced_atomically
from sim.clock import Clock
from sim.outputs import claimed
from sim.report.plotting import format_date_axis, new_figure, plot_band, save_figure
from sim.executors import Executor, using
from sim.metrics import kpi_bounds
from sim.resources import check_fits, check_run_fits, rows_bytes
from sim.runner import months_per_step, run_replicates
from sim.scenario import (SAFE_NAME, BasedOn, BasedSpec, ScenarioError, apply_overrides, cut, did_you_mean, load_based,
                          parameter_table, scenario_to_yaml)
from sim.sweep.spec import ParameterSpec, _check_parameters

#: Share of the trials, best first, whose parameter ranges are reported.
TOP_FRACTION = 0.10
MIN_TOP_TRIALS = 3
RANGE_TOLERANCE = 0.2  # a trial within 20% of the best distance counts as fitting about as well
TRIAL_BYTES = 20_000  # an optuna trial in memory (parameters, distributions, values) and its row, generously


class CalibrationSpec(BasedSpec):
    """A whole calibration file (a base scenario plus overrides, ``sim.scenario.based``)."""

    WHAT: ClassVar[str] = "calibration"
    name: str = Field(pattern=SAFE_NAME, description="Names results/calibration-<name>/ (default: file name)")
    description: str = Field("", description="What is fitted to what")
    data: str = Field(description="Observations CSV (period, metric, value, unit, ...), relative to the calibration file")
    seed: int = Field(ge=0, description="Seed of the sampler and root seed of every trial's replicates")
    trials: int = Field(ge=1, le=100_000, description="Parameter sets evaluated")
    replicates: int = Field(2, ge=1, le=1000, description="Runs per trial, the same seeds in every trial")
    check_replicates: int = Field(8, ge=2, le=1000, description="Runs of the best parameters, fresh seeds, for the reported fit")
    parameters: dict[str, ParameterSpec] = Field(min_length=1, description="Fitted parameters by scenario key path")
    distance: Literal["nrmse", "msre"] = Field("nrmse", description="nrmse = RMSE / mean |observed|; msre = mean squared relative error")
    targets: dict[str, TargetSpec] = Field(min_length=1, description="Observed series by name")
    unused_metrics: list[str] = Field(default_factory=list, description="Metrics of the data that no target reads, beyond "
                                      "those of the project's data (`sim.analysis.targets.KNOWN_METRICS`); any other "
                                      "metric no target reads is refused as unknown (a misspelt name)")


@dataclass(frozen=True)
class Target:
    """One target with its observations inside the horizon: ``observed`` is indexed by Period."""

    name: str
    spec: TargetSpec
    observed: pd.Series
    unit: str
    scale: float
    outside_horizon: tuple[str, ...]


@dataclass(frozen=True)
class Calibration(BasedOn[CalibrationSpec]):
    """A validated calibration: the spec, the base scenario as written (the fit is applied to it) and with the
    cheap-run overrides (every trial runs this plus its parameters), the targets."""

    targets: tuple[Target, ...]
    integer_parameters: frozenset[str]
    base_sha256: str  # of the base file as read: which version the values are fitted to (it may be edited later)


# ---------------------------------------------------------------- loading


def load_calibration(path: str | Path, changes: dict[str, Any] | None = None) -> Calibration:
    """Read and validate a calibration file, its base scenario and its data.

    ``changes`` replaces top-level keys before validation (the CLI's --trials etc.);
    its ``set`` entry, {key path: value}, is added to the file's ``overrides`` (--set).
    Every user error raises ScenarioError naming the file and the key path.
    """
    based = load_based(path, CalibrationSpec, changes)
    spec, source, base = based.spec, based.source, based.base
    integers = _check_parameters(spec, base, source)
    check_services(spec.targets, [s.name for s in base.all_services()], f"{source}: targets")
    observations = read_observations(Path(path).parent / spec.data, f"{source}: data")
    dates = Clock.of(base).dates
    targets = tuple(_target(name, t, observations, dates, f"{source}: targets.{name}") for name, t in spec.targets.items())
    _check_metrics(spec, observations, f"{source}: data: {cut(str(Path(path).parent / spec.data))}")
    _check_relative(spec.distance, targets, source)
    digest = hashlib.sha256(based.base_path.read_bytes()).hexdigest()
    return Calibration(**vars(based), targets=targets, integer_parameters=integers, base_sha256=digest)


def _check_metrics(spec: CalibrationSpec, observations: pd.DataFrame, where: str) -> None:
    """ScenarioError naming the first row of a metric that no target reads, the project's data does not know
    (``KNOWN_METRICS``) and ``unused_metrics`` does not list: its rows would be left out silently, and a
    misspelt metric would lose its observations."""
    read = [t.metric or name for name, t in spec.targets.items()]
    for _, row in observations.drop_duplicates("metric").iterrows():
        metric = row["metric"]
        if metric not in read and metric not in KNOWN_METRICS and metric not in spec.unused_metrics:
            raise ScenarioError(f"{where}: {cut(row['period'])} {cut(repr(metric))}: no target reads this metric"
                                f"{did_you_mean(metric, read)}; add a target for it or list it in `unused_metrics`")


def _target(name: str, spec: TargetSpec, observations: pd.DataFrame, dates: pd.DatetimeIndex, where: str) -> Target:
    """A target's observations, keeping the periods wholly inside the simulated horizon."""
    series, unit, scale = observed_series(observations, name, spec, where)
    negative = series.index[series.to_numpy() < 0]
    if len(negative) and all(kpi_bounds(c)[0] >= 0 for c in spec.column):
        raise ScenarioError(f"{where}: the observation of {negative[0]} is {series[negative[0]]:g}, but "
                            f"{' + '.join(spec.column)} cannot be negative; correct the data")
    inside = covered(series.index, dates)
    if not inside.any():
        raise ScenarioError(f"{where}: no observation lies inside the simulated horizon "
                            f"{dates.min():%Y-%m}..{dates.max():%Y-%m} (extend time.months in `overrides`?)")
    return Target(name, spec, series[inside], unit, scale, tuple(str(p) for p in series.index[~inside]))


def _check_relative(distance: str, targets: tuple[Target, ...], source: str) -> None:
    """A distance relative to the observations needs them non-zero (msre: each one; nrmse: their mean)."""
    for t in targets:
        zero = t.observed.index[t.observed.to_numpy() == 0]
        if distance == "msre" and len(zero):
            raise ScenarioError(f"{source}: targets.{t.name}: the observation of {zero[0]} is 0, and distance msre "
                                "divides by each observation; exclude that period or use distance: nrmse")
        if len(zero) == len(t.observed):
            raise ScenarioError(f"{source}: targets.{t.name}: every observation is 0, and distance {distance} "
                                "divides by their size; this series cannot be fitted relative to itself")


# ---------------------------------------------------------------- evaluating a parameter set


def simulate_targets(cal: Calibration, params: dict[str, Any], replicates: int, seed: int,
                     executor: str | Executor = "local", periods: dict[str, pd.Index] | None = None) -> dict[str, np.ndarray]:
    """Run the base scenario with ``params`` (replicate r from ``replicate_seeds(seed, replicates)[r]``) on ``executor``.

    Returns, per target name, an array (replicates, n_periods) in the CSV's unit, over
    the observed periods (default) or the given ``periods``.
    """
    scenario = apply_overrides(cal.base, params, source=f"{cal.source}: parameters") if params else cal.base
    results = run_replicates(scenario, replicates, seed, executor=executor)
    ts = pd.concat([r.timeseries for r in results], ignore_index=True)
    dt = months_per_step(scenario)
    periods = periods or {t.name: t.observed.index for t in cal.targets}
    return {t.name: simulated_series(service_rows(ts, t.spec), t.spec, periods[t.name], t.scale, dt) for t in cal.targets}


def _simulate_point(task: tuple[int, Calibration, dict[str, Any], int, dict | None]) -> dict[str, np.ndarray]:
    """One run of a parameter set (an executor's task: it runs whole in its worker)."""
    _, cal, params, seed, periods = task
    return simulate_targets(cal, params, 1, seed, "local", periods)


def simulate_points(cal: Calibration, params: list[dict[str, Any]], seeds: list[int], executor: Executor,
                    periods: dict[str, pd.Index] | None = None,
                    on_simulation: Callable[[int], None] | None = None) -> list[dict[str, np.ndarray]]:
    """One run per parameter set (``seeds[k]`` as ``simulate_targets``' root seed), the sets in parallel on
    ``executor``; returned in the order given, per target an array (1, n_periods)."""
    tasks = [(k, cal, p, s, periods) for k, (p, s) in enumerate(zip(params, seeds))]
    out: dict[int, dict[str, np.ndarray]] = {}
    for task, result, error in executor.map_unordered(_simulate_point, tasks):
        if error is not None:
            raise error
        out[task[0]] = result
        if on_simulation:
            on_simulation(1)
    return [out[k] for k in range(len(tasks))]


def score(cal: Calibration, simulated: dict[str, np.ndarray]) -> tuple[float, dict[str, dict[str, float]]]:
    """Distance of replicate-mean simulated series from the observations, and each series' fit.

    simulated: per target, (replicates, n_periods) over the observed periods. The
    distance is sum over targets of weight x the file's ``distance`` measure.
    """
    fits = {t.name: series_fit(simulated[t.name].mean(axis=0), t.observed.to_numpy()) for t in cal.targets}
    total = sum(t.spec.weight * fits[t.name][cal.spec.distance] for t in cal.targets)
    return float(total), fits


def _suggest(trial: optuna.Trial, path: str, p: ParameterSpec, integer: bool) -> Any:
    """Optuna's proposal for one parameter, in the scenario's unit."""
    if p.levels is not None:
        return trial.suggest_categorical(path, list(p.levels))
    log = p.distribution == "loguniform"
    if integer:
        return trial.suggest_int(path, math.ceil(p.low), math.floor(p.high), log=log)
    return trial.suggest_float(path, p.low, p.high, log=log)


def _start_values(cal: Calibration) -> dict[str, Any]:
    """The base scenario's values of the fitted parameters that lie inside their bounds."""
    current = {p.path: p.default for p in parameter_table(cal.base)}
    out = {}
    for path, p in cal.spec.parameters.items():
        v = current[path]
        if (p.levels is not None and v in p.levels) or (p.levels is None and p.low <= v <= p.high):
            out[path] = v
    return out


# ---------------------------------------------------------------- the fit


def fit(cal: Calibration, executor: str | Executor = "local", on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None) -> optuna.Study:
    """Run the calibration's trials; returns the finished study (minimising the distance).

    Each trial stores each series' distance measure in ``user_attrs`` for trials.csv.
    """
    # ERROR, not WARNING: optuna logs a failed trial's traceback at WARNING, Ctrl-C included,
    # and then raises the error again, which the caller reports
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # multivariate: one joint density over the parameters, so levers that trade off
    # (growth speed against saturation level) are proposed together
    sampler = optuna.samplers.TPESampler(seed=cal.spec.seed, multivariate=True,
                                         n_startup_trials=min(10, max(1, cal.spec.trials // 3)))
    study = optuna.create_study(direction="minimize", sampler=sampler)
    start = _start_values(cal)
    if start:
        study.enqueue_trial(start)

    def objective(trial: optuna.Trial) -> float:
        params = {path: _suggest(trial, path, p, path in cal.integer_parameters) for path, p in cal.spec.parameters.items()}
        distance, fits = score(cal, simulate_targets(cal, params, cal.spec.replicates, cal.spec.seed, executor))
        for name, f in fits.items():
            trial.set_user_attr(name, f[cal.spec.distance])
        return distance

    callbacks = [lambda _study, trial: on_trial(trial)] if on_trial else None
    study.optimize(objective, n_trials=cal.spec.trials, n_jobs=1, callbacks=callbacks)
    return study


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, each parameter, distance, each series' measure, seconds; best first."""
    rows = []
    for t in study.trials:
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else math.nan
        rows.append({"trial": t.number, **t.params, "distance": t.value, **t.user_attrs, "state": t.state.name,
                     "seconds": round(seconds, 3)})
    return pd.DataFrame(rows).sort_values(["distance", "trial"], na_position="last", ignore_index=True)


def top_ranges(table: pd.DataFrame, cal: Calibration, start_trial: int | None = None) -> dict[str, Any]:
    """Each parameter over the well-fitting trials: the best TOP_FRACTION of finished trials (at
    least MIN_TOP_TRIALS), keeping only those within RANGE_TOLERANCE of the best distance (a
    trial that fits clearly worse does not widen the range).

    Numeric parameters give low, median and high; categorical ones the values seen.
    ``start_trial``: the number of the trial that ran the base values; when no other trial beat
    it, ``no_trial_beat_start`` is True and the label says so (the fit did not move, so the
    range says nothing about better values).
    """
    done = table[np.isfinite(table["distance"].astype(float))]
    k = min(len(done), max(MIN_TOP_TRIALS, math.ceil(TOP_FRACTION * len(done))))
    top = done.sort_values("distance", kind="stable").head(k)
    best = float(top["distance"].min()) if k else math.nan
    top = top[top["distance"] <= best + RANGE_TOLERANCE * abs(best)]
    ranges: dict[str, Any] = {}
    for path, p in cal.spec.parameters.items():
        if p.levels is not None:
            ranges[path] = {"values": top[path].value_counts().to_dict()}
        else:
            v = top[path].astype(float)
            ranges[path] = {"low": float(v.min()), "median": float(v.median()), "high": float(v.max())}
    start = done[done["trial"] == start_trial]["distance"] if start_trial is not None else pd.Series(dtype=float)
    stuck = bool(len(start)) and bool((done["distance"] >= float(start.iloc[0])).all())
    # of every trial run, as the progress bar counts them; those without a distance (failed) are named
    unfinished = len(table) - len(done)
    of = f"{len(table)} trials" + (f" ({unfinished} without a distance: failed or no finite fit)" if unfinished else "")
    label = (f"approximate range of well-fitting values: the {len(top)} of the best {k} of {of} within "
             f"{RANGE_TOLERANCE:.0%} of the best distance (not a Bayesian posterior)")
    if stuck:
        label = f"no trial fit better than the starting values (trial {start_trial}); " + label
    return {"label": label, "trials": len(top), "candidates": k, "run": len(table), "finished": len(done), "no_trial_beat_start": stuck,
            "distance_max": float(top["distance"].max()) if len(top) else None, "parameters": ranges}


# ---------------------------------------------------------------- outputs


def horizon_periods(cal: Calibration) -> dict[str, pd.Index]:
    """Every period of each target's frequency wholly inside the horizon (for the figures)."""
    dates = Clock.of(cal.base).dates
    out = {}
    for t in cal.targets:
        freq = "Q" if t.spec.periods == "quarterly" else "Y"
        periods = pd.period_range(dates.min(), dates.max(), freq=freq)
        out[t.name] = periods[covered(periods, dates)]
    return out


def fit_figure(target: Target, periods: pd.Index, simulated: np.ndarray, fit_row: dict[str, float], fig_dir: Path) -> Path:
    """figures/fit-<name>.png: the model's median and 5-95% replicate band against the observed points.

    simulated: (replicates, n_periods) over ``periods``, in the target's unit. Points sit
    at the last day of their period.
    """
    ends = pd.DatetimeIndex([p.to_timestamp(how="end").normalize() for p in periods])
    reps = simulated.shape[0]
    frame = pd.DataFrame({"date": np.tile(ends, reps), "replicate": np.repeat(np.arange(reps), len(ends)),
                          "value": simulated.reshape(-1)})
    spec = target.spec
    what = {"stock": "at period end", "flow": "sum over the period", "mean": "mean over the period"}[spec.agg]
    fig, (ax,) = new_figure(1, f"{target.name}: model vs observed ({spec.periods}, {what})", row_height_in=4.0)
    plot_band(ax, frame, "value", 1.0, label=f"model ({_formula(spec)}): median, 5-95% of {reps} replicates")
    obs_dates = pd.DatetimeIndex([p.to_timestamp(how="end").normalize() for p in target.observed.index])
    ax.scatter(obs_dates, target.observed.to_numpy(), color="k", s=22, zorder=3, label="observed")
    ax.set_ylabel(f"{spec.metric or target.name} ({target.unit})")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", frameon=False)
    ax.text(0.99, 0.02, f"RMSE {fit_row['rmse']:.3g} {target.unit}   MAPE {fit_row['mape_percent']:.1f}%",
            transform=ax.transAxes, ha="right", va="bottom", fontsize=10)
    # from the first period's start (so the first year is labelled) to just past the last point
    format_date_axis(ax, pd.Series([periods[0].start_time, periods[-1].end_time + pd.Timedelta(days=20)]))
    return save_figure(fig, fig_dir, f"fit-{target.name}", target.name, "").path


def _formula(spec: TargetSpec) -> str:
    """The model quantity of a target in words, e.g. ``revenue_subscription_eur / (premium_subscribers + trial_users)``."""
    def total(columns: list[str]) -> str:
        return " + ".join(columns) if len(columns) == 1 or spec.per is None else f"({' + '.join(columns)})"
    return total(spec.column) + (f" / {total(spec.per)}" if spec.per else "")


def _jsonable(fits: dict[str, dict[str, float]], cal: Calibration) -> dict[str, Any]:
    """Per-series fit with units and counts, infinities as None (JSON has no inf)."""
    out = {}
    for t in cal.targets:
        f = {k: (v if math.isfinite(v) else None) for k, v in fits[t.name].items()}
        out[t.name] = {**f, "unit": t.unit, "n": len(t.observed), "periods": [str(p) for p in t.observed.index],
                       "outside_horizon": list(t.outside_horizon)}
    return out


def calibrate(path: str | Path, out: str | Path | None = None, workers: int | None = None,
              changes: dict[str, Any] | None = None, on_trial: Callable[[int, int], None] | None = None,
              executor: str | Executor = "local", scheduler: str | None = None,
              on_notice: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fit a calibration file and write its results folder; returns fit.json's content.

    ``executor``: ``local`` (``workers`` processes, default every core), ``dask`` (``scheduler``,
    or a LocalCluster of ``workers``) or a running executor, kept for the whole fit: starting
    workers costs more than a small trial's runs. ``on_trial(done, total)`` is called after
    each trial, ``on_notice(message)`` when workers died and their runs start again.
    """
    started = time.perf_counter()
    cal = load_calibration(path, changes)
    out = Path(out) if out else Path("results") / f"calibration-{cal.spec.name}"
    check_run_fits(cal.base, workers, max(cal.spec.replicates, cal.spec.check_replicates))
    check_fits(rows_bytes(cal.spec.trials, TRIAL_BYTES), f"the study ({cal.spec.trials:,} trials)", f"{cal.source}: trials",
               "use fewer trials")
    with claimed(out, "calibrate"):  # refused before simulating; one writer at a time
        return _fit_and_write(cal, path, out, started, workers, on_trial, executor, scheduler, on_notice)


def _fit_and_write(cal: Calibration, path: str | Path, out: Path, started: float, workers: int | None,
                   on_trial: Callable[[int, int], None] | None, executor: str | Executor, scheduler: str | None,
                   on_notice: Callable[[str], None] | None) -> dict[str, Any]:
    """Fit, check the best parameters on fresh replicates, and write the results folder."""
    periods = horizon_periods(cal)
    check_seed = cal.spec.seed + 1
    with using(executor, scheduler=scheduler, n_workers=workers,
               max_tasks=max(cal.spec.replicates, cal.spec.check_replicates), on_notice=on_notice) as ex:
        def report(trial: optuna.trial.FrozenTrial) -> None:
            on_trial(trial.number + 1, cal.spec.trials)

        if on_trial is not None:
            on_trial(0, cal.spec.trials)
        study = fit(cal, ex, on_trial=report if on_trial is not None else None)
        best = study.best_trial
        check = simulate_targets(cal, best.params, cal.spec.check_replicates, check_seed, ex, periods)
    table = trials_table(study)
    observed_cols = {t.name: np.isin(periods[t.name], t.observed.index) for t in cal.targets}
    check_distance, check_fits = score(cal, {k: v[:, observed_cols[k]] for k, v in check.items()})
    calibrated = apply_overrides(cal.scenario, best.params, source=f"{cal.source}: fitted values")
    base_trial = study.trials[0] if _start_values(cal) else None
    result = {
        "calibration": cal.spec.name, "source": str(path), "base": cal.spec.base, "data": cal.spec.data,
        "base_sha256": cal.base_sha256,
        "method": "optuna multivariate TPESampler (seeded, n_jobs=1), common replicate seeds across trials",
        "distance_measure": cal.spec.distance, "seed": cal.spec.seed, "trials": cal.spec.trials,
        "replicates": cal.spec.replicates, "overrides": cal.spec.overrides,
        "best": {"trial": best.number, "parameters": best.params, "distance_on_fitting_seeds": best.value},
        "base_values": {"parameters": base_trial.params, "distance_on_fitting_seeds": base_trial.value} if base_trial else None,
        "check": {"label": f"best parameters rerun with {cal.spec.check_replicates} fresh replicates (root seed {check_seed}); "
                           "fit of the replicate-mean series",
                  "replicates": cal.spec.check_replicates, "seed": check_seed, "distance": check_distance,
                  "series": _jsonable(check_fits, cal)},
        "top_decile": top_ranges(table, cal, base_trial.number if base_trial else None),
        "version": sim.__version__, "optuna": optuna.__version__, "wall_seconds": None,
    }

    with replaced_atomically(out, "calibrate") as tmp:
        for t in cal.targets:
            fit_figure(t, periods[t.name], check[t.name], check_fits[t.name], tmp / "figures")
        table.to_csv(tmp / "trials.csv", index=False)
        (tmp / "calibrated.yaml").write_text(
            f"# Calibrated by `freemium-sim calibrate {path}`: {cal.spec.base} with the fitted values\n"
            f"# {', '.join(f'{k} = {v:.6g}' if isinstance(v, float) else f'{k} = {v}' for k, v in best.params.items())}\n"
            + scenario_to_yaml(calibrated))
        result["wall_seconds"] = round(time.perf_counter() - started, 1)
        (tmp / "fit.json").write_text(json.dumps(result, indent=2, default=str))
    result["out"] = str(out)
    return result
