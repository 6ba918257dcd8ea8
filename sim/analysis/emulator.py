"""Posterior of a calibration's parameters from a design that a Gaussian-process emulator guides.

``backtest --method emulator`` and ``calibrate --method emulator`` fit with far fewer
simulations than ABC-SMC needs, in the spirit of Bayesian optimisation for likelihood-free
inference (BOLFI; Gutmann & Corander 2016, JMLR 17:125), with scikit-learn's Gaussian process:

- design: a Latin hypercube of ``design`` points over the prior (each fitted parameter
  uniform over its bounds, log-uniform where the file says so: the same space as ABC,
  ``posterior.parameter_space``), one simulation each on its own seed, scored by the
  calibration's own distance (``calibration.score``), so ABC, the optimiser and the
  emulator answer the same question;
- emulator: a Gaussian process of log(distance) over the unit cube (anisotropic Matern 5/2
  plus a white-noise term for the run-to-run noise);
- refinement: ``rounds`` batches of ``batch`` points, drawn in proportion to the emulator's
  probability that a run there lands under the best simulated distance so far, from a pool
  of ``POOL`` points (half Sobol over the prior, half Gaussian steps around the
  ``CENTRES`` best simulated points: in many dimensions a global pool misses them);
- posterior: ABC rejection on the simulated points themselves: those within ``tolerance``
  x the best simulated distance, equally weighted (real runs, never an extrapolation).

Everything is seeded from the calibration's ``seed``: the whole fit repeats exactly.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from sim.analysis.calibration import Calibration, score, simulate_points
from sim.analysis.fan import fan_figure
from sim.analysis.posterior import (FAR_WORSE, Space, credible_intervals, fit_posterior, parameter_space, particle_seed,
                                   posterior_predictive)
from sim.executors import Executor, using

#: Candidate points from which each round's batch is drawn (2^14).
POOL = 16384
#: The posterior keeps the simulated points within TOLERANCE x the best simulated distance.
TOLERANCE = 1.2
#: Best simulated points around which half the pool is drawn, and the sd of its steps (unit cube).
CENTRES, LOCAL_SCALE = 10, 0.05
#: The method as the result files (posterior.json, backtest.json) name it.
METHOD = ("Gaussian-process emulator of the calibration's distance (BOLFI; sim.analysis.emulator) choosing where to "
          f"simulate; posterior: the simulated points within {TOLERANCE:g} x the best simulated distance, equally "
          "weighted (ABC rejection on real runs)")


def values_at(space: list[Space], u: np.ndarray) -> dict[str, Any]:
    """A point of the unit cube (one coordinate per parameter) -> {key path: scenario value}."""
    return {s.path: _plain(s.to_value(s.low + ui * (s.high - s.low))) for s, ui in zip(space, u)}


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def fit_gp(x: np.ndarray, y: np.ndarray, seed: int):
    """A Gaussian process of y over the unit cube: anisotropic Matern 5/2 + white noise, hyperparameters by ML."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * Matern(np.full(x.shape[1], 0.5), (1e-2, 1e2), nu=2.5)
              + WhiteKernel(0.05, (1e-5, 1.0)))
    with warnings.catch_warnings():  # a hyperparameter at its bound is a fact of the data, not an error
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=2, random_state=seed).fit(x, y)


def acceptance(gp, u: np.ndarray, log_eps: float) -> np.ndarray:
    """P(log distance < log_eps) at each row of ``u`` under the emulator (its noise included)."""
    from scipy.stats import norm

    mu, sd = gp.predict(u, return_std=True)
    return norm.cdf((log_eps - mu) / np.maximum(sd, 1e-9))


def local_pool(centres: np.ndarray, n: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` points of the unit cube around ``centres`` (rows): each centre plus isotropic Gaussian steps of sd
    ``scale``, clipped to the cube."""
    picks = centres[rng.integers(len(centres), size=n)]
    return np.clip(picks + rng.normal(0.0, scale, picks.shape), 0.0, 1.0)


def fit_emulator_posterior(cal: Calibration, design: int = 96, rounds: int = 2, batch: int = 32,
                           tolerance: float = TOLERANCE, executor: str | Executor = "local",
                           on_simulation: Callable[[int], None] | None = None, workers: int | None = None) -> dict[str, Any]:
    """Fit the posterior; the same dict as ``posterior.fit_posterior`` plus ``design`` (every simulated point).

    Returns ``{"sample": DataFrame (params + distance + weight), "epsilons": [epsilon after each round],
    "evaluations": int, "start": {...}, "dropped": int (simulated points outside epsilon), "design":
    DataFrame (params + distance)}``.
    """
    from scipy.stats import qmc

    space = parameter_space(cal)
    seed = cal.spec.seed
    rng = np.random.default_rng(seed)
    u = qmc.LatinHypercube(len(space), seed=seed).random(design)
    sobol = qmc.Sobol(len(space), seed=seed).random(POOL // 2)
    distances: list[float] = []
    epsilons: list[float] = []
    with using(executor, n_workers=workers) as ex:
        for r in range(rounds + 1):
            new = u[len(distances):]
            params = [values_at(space, p) for p in new]
            seeds = [particle_seed(seed, len(distances) + k) for k in range(len(new))]
            sims = simulate_points(cal, params, seeds, ex, on_simulation=on_simulation)
            distances += [score(cal, s)[0] for s in sims]
            d = np.array(distances)
            ok = np.isfinite(d)
            gp = fit_gp(u[ok], np.log(d[ok]), seed)
            # half the pool around the best simulated points: in many dimensions a global pool misses them
            centres = u[ok][np.argsort(d[ok], kind="stable")[:CENTRES]]
            pool = np.vstack([sobol, local_pool(centres, POOL - len(sobol), LOCAL_SCALE, rng)])
            epsilons.append(float(tolerance * d[ok].min()))
            if r < rounds:  # the next batch: drawn where the emulator expects runs under the best so far
                w = acceptance(gp, pool, float(np.log(d[ok].min())))
                # an emulator sure that nowhere beats the best (every w 0 in floating point): the pool alike
                p = w / w.sum() if w.sum() > 0 else None
                pick = rng.choice(len(pool), batch, replace=np.count_nonzero(w) < batch, p=p)
                u = np.vstack([u, pool[pick]])
    table = pd.DataFrame([values_at(space, p) for p in u])
    table["distance"] = distances
    sample = table[table["distance"] <= epsilons[-1]].reset_index(drop=True)
    sample["weight"] = 1.0 / len(sample)
    return {"sample": sample, "epsilons": epsilons, "evaluations": len(distances), "dropped": int(len(table) - len(sample)),
            "start": {"note": "", "beaten": None}, "design": table, "kernel": str(gp.kernel_)}


#: What the posterior's points are, by method.
POSTERIOR_OF = {"abc": "the final ABC-SMC population", "emulator": "the accepted simulated points (equal weights)"}


def fit_by_method(cal: Calibration, folder, method: str, executor: Executor, on_simulation: Callable[[int], None] | None,
                  population: int, generations: int, design: int, rounds: int, batch: int) -> dict[str, Any]:
    """The posterior by ``method`` (``abc``: ``posterior.fit_posterior``, writing abc.sqlite into ``folder``;
    ``emulator``: :func:`fit_emulator_posterior`, writing design.csv there)."""
    if method == "emulator":
        post = fit_emulator_posterior(cal, design, rounds, batch, executor=executor, on_simulation=on_simulation)
        post["design"].to_csv(folder / "design.csv", index=False)
        return post
    return fit_posterior(cal, folder, population, generations, executor, on_simulation)


# ---------------------------------------------------------------- the command's work


def calibrate_abc(path: str | Path, out: str | Path | None = None, workers: int | None = None,
                  changes: dict[str, Any] | None = None, population: int = 50, generations: int = 4,
                  draws: int = 40, on_simulation: Callable[[int], None] | None = None, executor: str | Executor = "local",
                  scheduler: str | None = None, on_notice: Callable[[str], None] | None = None,
                  method: str = "abc", design: int = 96, rounds: int = 2, batch: int = 32) -> dict[str, Any]:
    """``calibrate --method abc`` (or ``emulator``): fit the posterior and write the results folder; returns
    posterior.json.

    Writes posterior.csv, posterior.json, abc.sqlite (ABC) or design.csv (the emulator's simulated
    points), calibrated.yaml (the base scenario with the values of the posterior's point of lowest
    simulated distance) and figures/fit-<series>.png (posterior-predictive fan of ``draws`` draws
    over the whole horizon). ``executor``/``scheduler``: where a particle's replicates run (see
    :func:`sim.executors.using`), kept for the whole fit.
    """
    import json
    import time

    import pyabc

    import sim
    from sim.analysis.calibration import horizon_periods, load_calibration
    from sim.atomic import replaced_atomically
    from sim.outputs import claimed
    from sim.resources import check_run_fits
    from sim.scenario import apply_overrides, scenario_to_yaml

    started = time.perf_counter()
    cal = load_calibration(path, changes)
    # its own folder: an ABC run never replaces the optimiser's fit of the same file
    out = Path(out) if out else Path("results") / f"calibration-{cal.spec.name}-{method}"
    paths = list(cal.spec.parameters)
    periods = horizon_periods(cal)
    check_run_fits(cal.base, workers, cal.spec.replicates)
    with claimed(out, "calibrate"), replaced_atomically(out, "calibrate") as tmp:
        with using(executor, scheduler=scheduler, n_workers=workers,
                   max_tasks=cal.spec.replicates if method == "abc" else None, on_notice=on_notice) as ex:
            post = fit_by_method(cal, tmp, method, ex, on_simulation, population, generations, design, rounds, batch)
            predictive = posterior_predictive(cal, post["sample"], draws, cal.spec.seed + 1, periods, ex)
        sample = post["sample"]
        best = sample.sort_values("distance", kind="stable").iloc[0]
        best_params = {p: _plain(best[p]) for p in paths}
        for t in cal.targets:
            fan_figure(t, periods[t.name], predictive[t.name], tmp / "figures", f"fit-{t.name}")
        sample.to_csv(tmp / "posterior.csv", index=False)
        calibrated = apply_overrides(cal.scenario, best_params, source=f"{cal.source}: fitted values")
        (tmp / "calibrated.yaml").write_text(
            f"# Calibrated by `freemium-sim calibrate {path} --method {method}`: {cal.spec.base} with the best particle\n"
            f"# (posterior in posterior.csv; credible intervals in posterior.json)\n" + scenario_to_yaml(calibrated))
        result = {
            "calibration": cal.spec.name, "source": str(path), "base": cal.spec.base, "data": cal.spec.data,
            "base_sha256": cal.base_sha256,
            "method": ("ABC-SMC (pyabc, single-core sampler seeded from `seed`; uniform/log-uniform priors "
                       "over the bounds; the calibration's distance; median quantile tolerance schedule)"
                       if method == "abc" else METHOD),
            "distance_measure": cal.spec.distance, "seed": cal.spec.seed, "replicates": cal.spec.replicates,
            **({"population": population, "generations": generations} if method == "abc" else
               {"design": design, "rounds": rounds, "batch": batch, "kernel": post["kernel"]}),
            "evaluations": post["evaluations"],
            "epsilons": post["epsilons"], "overrides": cal.spec.overrides,
            "guard": {"far_worse_factor": FAR_WORSE, "dropped": post["dropped"],
                      "label": f"particles with distance above {FAR_WORSE:g} x the best accepted one are left out"},
            "start": post["start"],
            "best": {"parameters": best_params, "distance": float(best["distance"])},
            "posterior": {"particles": len(sample), "intervals": credible_intervals(sample, paths),
                          "label": f"weighted quantiles of {POSTERIOR_OF[method]}: q2.5..q97.5 = 95%, "
                                   "q10..q90 = 80% credible interval"},
            "predictive": {"draws": draws, "seed": cal.spec.seed + 1},
            "version": sim.__version__, "pyabc": pyabc.__version__, "wall_seconds": None,
        }
        result["wall_seconds"] = round(time.perf_counter() - started, 1)
        (tmp / "posterior.json").write_text(json.dumps(result, indent=2, default=str))
    result["out"] = str(out)
    return result
