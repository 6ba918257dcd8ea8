"""Posterior of a calibration's parameters by ABC-SMC, and forecasts that carry it.

``freemium-sim calibrate CALIBRATION.yaml --method abc`` replaces the optimiser's
"best decile" range with an approximate Bayesian posterior (approximate Bayesian
computation with sequential Monte Carlo; Toni et al. 2009, Beaumont et al. 2009, as
implemented by pyabc, Klinger et al. 2018; Schälte et al. 2022):

- prior: each fitted parameter independent, uniform over its bounds (log-uniform
  where the file says ``distribution: loguniform``; a ``levels`` parameter is
  uniform over its levels);
- simulator: the calibration's own path (``calibration.simulate_targets``): the base
  scenario with the calibration's cheap-run overrides and the particle's values,
  ``replicates`` runs, each particle on fresh seeds, so the distance carries the
  model's own noise as ABC requires;
- distance: the calibration's distance (``calibration.score``), unchanged, so the
  optimiser and the posterior answer the same question;
- tolerance: each generation accepts the particles under the median distance of the
  previous one (pyabc's default quantile schedule); ``population`` particles per
  generation, ``generations`` generations.

The sampler is pyabc's single-core sampler seeded from the calibration's ``seed``,
and particle k of the run uses seed ``SeedSequence([seed, k])``: the whole fit
repeats exactly. Replicates of one particle may run in worker processes (an executor)
without changing a number.

Guard (the same rule as the optimiser's range): the reported posterior never holds
particles far worse than the best one: those above ``FAR_WORSE`` x the best accepted
distance are dropped (and counted), and the result says so plainly when no sampled
parameter set beat the base scenario's own values (judged by rerunning the best particle
and the base values on the same ``check_replicates`` fresh seeds: the best particle's own
distance, a minimum over many noisy runs, is optimistic).

Outputs (in ``results/calibration-<name>-abc/``): ``posterior.csv`` (one row per
particle: each parameter in the scenario's unit, ``distance``, ``weight``),
``posterior.json`` (credible intervals, the guard's counts, the tolerance schedule)
and ``abc.sqlite`` (pyabc's database of every generation, for pyabc's own plots).
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from sim.analysis.calibration import Calibration, _start_values, score, simulate_points, simulate_targets
from sim.analysis.fan import QUANTILES
from sim.executors import Executor, using
from sim.scenario import ScenarioError

#: Particles whose distance exceeds this multiple of the best accepted distance are
#: dropped from the reported posterior (they fit "far worse than the best").
FAR_WORSE = 2.0


@dataclass(frozen=True)
class Space:
    """How a calibration parameter maps to pyabc's continuous space.

    pyabc's key is ``p<i>``; ``log`` parameters live as log10(value); ``levels``
    parameters as an index in [0, n) floored; ``integer`` ones are rounded.
    """

    path: str
    key: str
    low: float
    high: float
    log: bool = False
    integer: bool = False
    levels: tuple | None = None

    def to_value(self, x: float) -> Any:
        """pyabc's value -> the scenario's value."""
        if self.levels is not None:
            return self.levels[min(int(math.floor(x)), len(self.levels) - 1)]
        v = 10.0 ** x if self.log else float(x)
        return int(round(v)) if self.integer else v


def parameter_space(cal: Calibration) -> list[Space]:
    """One Space per fitted parameter, in the calibration file's order."""
    out = []
    for i, (path, p) in enumerate(cal.spec.parameters.items()):
        if p.levels is not None:
            out.append(Space(path, f"p{i}", 0.0, float(len(p.levels)), levels=tuple(p.levels)))
        elif p.distribution == "loguniform":
            out.append(Space(path, f"p{i}", math.log10(p.low), math.log10(p.high), log=True,
                             integer=path in cal.integer_parameters))
        else:
            out.append(Space(path, f"p{i}", float(p.low), float(p.high), integer=path in cal.integer_parameters))
    return out


def _prior(space: list[Space]):
    import pyabc

    return pyabc.Distribution(**{s.key: pyabc.RV("uniform", s.low, s.high - s.low) for s in space})


def _values(space: list[Space], particle: dict[str, float]) -> dict[str, Any]:
    return {s.path: s.to_value(particle[s.key]) for s in space}


def particle_seed(seed: int, k: int) -> int:
    """Root seed of the k-th simulated particle of a fit (independent streams per particle)."""
    return int(np.random.SeedSequence([seed, k]).generate_state(1)[0])


def fit_posterior(cal: Calibration, folder: Path, population: int, generations: int, executor: str | Executor = "local",
                  on_simulation: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run ABC-SMC; writes ``abc.sqlite`` into ``folder`` and returns the posterior.

    Returns ``{"sample": DataFrame (particles, params + distance + weight), "epsilons":
    [float per generation], "evaluations": int, "start": ``_start_check``'s dict,
    "dropped": int}``. ``on_simulation(1)`` is called after each
    simulated particle (how many a generation needs is not known in advance).
    """
    import pyabc

    if population < 2:
        raise ScenarioError(f"{cal.source}: --population: needs at least 2 particles (got {population})")
    if generations < 1:
        raise ScenarioError(f"{cal.source}: --generations: needs at least 1 (got {generations})")
    logging.getLogger("ABC").setLevel(logging.WARNING)
    logging.getLogger("pyabc").setLevel(logging.WARNING)
    space = parameter_space(cal)
    counter = itertools.count()  # particle k of the fit runs on particle_seed(seed, k)
    replicates = cal.spec.replicates

    def model(particle: dict[str, float]) -> dict[str, np.ndarray]:
        params = _values(space, particle)
        out = simulate_targets(cal, params, replicates, particle_seed(cal.spec.seed, next(counter)), executor)
        if on_simulation:
            on_simulation(1)
        return out

    def distance(x: dict[str, np.ndarray], _x0: dict[str, np.ndarray]) -> float:
        d = score(cal, x)[0]
        return d if math.isfinite(d) else 1e300  # pyabc's quantiles need finite numbers; never accepted

    observed = {t.name: t.observed.to_numpy()[None, :] for t in cal.targets}
    np.random.seed(cal.spec.seed)  # pyabc's prior draws and perturbations use numpy's global state
    abc = pyabc.ABCSMC(model, _prior(space), distance, population_size=population,
                       sampler=pyabc.sampler.SingleCoreSampler())
    db = folder / "abc.sqlite"
    abc.new(f"sqlite:///{db}", observed)
    history = abc.run(max_nr_populations=generations)
    particles = history.get_population(t=history.max_t).particles  # values, weight and distance together
    sample = pd.DataFrame({s.path: [s.to_value(p.parameter[s.key]) for p in particles] for s in space})
    sample["distance"] = np.array([p.distance for p in particles], dtype=float)
    sample["weight"] = np.array([p.weight for p in particles], dtype=float)
    best = sample.sort_values("distance", kind="stable").iloc[0]
    start = _start_check(cal, {p: _plain(best[p]) for p in (s.path for s in space)}, executor)
    sample, dropped = within_best(sample)
    epsilons = history.get_all_populations()
    return {"sample": sample, "epsilons": [float(e) for e in epsilons.loc[epsilons["t"] >= 0, "epsilon"]],
            "evaluations": int(history.total_nr_simulations), "start": start, "dropped": dropped}


def within_best(sample: pd.DataFrame, factor: float = FAR_WORSE) -> tuple[pd.DataFrame, int]:
    """Drop rows whose ``distance`` exceeds ``factor`` x the best finite distance; renormalise ``weight``.

    Returns (kept rows, number dropped). Serves any weighted or unweighted sample of
    trials (an optimiser's top trials have weight 1 each).
    """
    d = sample["distance"].astype(float)
    best = d[np.isfinite(d)].min() if np.isfinite(d).any() else np.inf
    keep = np.isfinite(d) & (d <= factor * best)
    kept = sample[keep].reset_index(drop=True)
    if "weight" in kept:
        kept["weight"] = kept["weight"] / kept["weight"].sum()
    return kept, int((~keep).sum())


def _start_check(cal: Calibration, best: dict[str, Any], executor: str | Executor = "local") -> dict[str, Any]:
    """Whether the best particle beat the base scenario's own values, judged fairly.

    The best particle's fitting distance is the minimum of many noisy evaluations, so
    it is optimistic; both are rerun here on the same ``check_replicates`` fresh seeds
    (root seed ``seed + 2``, common random numbers) and their replicate-mean distances
    compared.
    """
    start = _start_values(cal)
    if len(start) < len(cal.spec.parameters):
        return {"distance": None, "best_particle": None, "beaten": None, "note": "base values lie outside the bounds"}
    seed, reps = cal.spec.seed + 2, cal.spec.check_replicates
    d_start = score(cal, simulate_targets(cal, start, reps, seed, executor))[0]
    d_best = score(cal, simulate_targets(cal, best, reps, seed, executor))[0]
    beaten = d_best < d_start
    note = "" if beaten else (f"no sampled parameter set beat the starting point: rerun on the same {reps} fresh seeds, "
                              f"the base values score {d_start:.4g} and the best particle {d_best:.4g}; "
                              "the base values fit at least as well as the posterior")
    return {"distance": d_start, "best_particle": d_best, "replicates": reps, "seed": seed, "beaten": bool(beaten),
            "note": note}


def credible_intervals(sample: pd.DataFrame, paths: list[str]) -> dict[str, dict[str, Any]]:
    """Weighted quantiles (QUANTILES) and mean of each numeric parameter; level shares of the others."""
    w = sample["weight"].to_numpy(float)
    out: dict[str, dict[str, Any]] = {}
    for path in paths:
        col = sample[path]
        if not pd.api.types.is_numeric_dtype(col):
            out[path] = {"levels": col.groupby(col).apply(lambda g: float(w[g.index].sum())).to_dict()}
            continue
        v = col.to_numpy(float)
        out[path] = {**{f"q{q * 100:g}": weighted_quantile(v, w, q) for q in QUANTILES},
                     "mean": float(np.sum(v * w) / w.sum())}
    return out


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The q-quantile of a weighted sample (inverse of the weighted empirical CDF, midpoint rule)."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return float(np.interp(q, cdf, v))


# ---------------------------------------------------------------- using the posterior


def read_posterior(path: str | Path) -> pd.DataFrame:
    """A ``posterior.csv`` written by ``calibrate --method abc`` (or its results folder).

    ScenarioError naming the file, and saying to move it aside, where it is missing, not a CSV, another
    program's (no ``weight``), truncated (a row with a missing value) or has weights that are not a
    distribution."""
    path = Path(path)
    path = path / "posterior.csv" if path.is_dir() else path
    if not path.is_file():
        raise ScenarioError(f"{path}: posterior file not found (written by `freemium-sim calibrate ... --method abc`)")
    again = "move it aside and write it again with `freemium-sim calibrate ... --method abc`"
    try:
        frame = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError, OSError) as exc:  # pandas' ParserError and EmptyDataError are ValueErrors
        raise ScenarioError(f"{path}: not a readable posterior.csv ({str(exc).splitlines()[0][:150]}); {again}") from None
    weight = pd.to_numeric(frame["weight"], errors="coerce") if "weight" in frame else None
    if weight is None or len(frame.columns) < 2:
        raise ScenarioError(f"{path}: not a posterior.csv (needs a column per parameter and `weight`; "
                            f"found {', '.join(map(str, frame.columns[:5]))[:150]}); {again}")
    incomplete = frame.isna().any(axis=1) | weight.isna()
    if incomplete.any():
        raise ScenarioError(f"{path}: line {int(incomplete.to_numpy().argmax()) + 2} is incomplete or not a number "
                            f"(a truncated file?); {again}")
    if weight.lt(0).any() or not np.isfinite(weight).all() or not weight.sum() > 0:
        raise ScenarioError(f"{path}: weight: needs a non-negative `weight` column with a positive sum")
    frame["weight"] = weight
    return frame


def draw_parameters(posterior: pd.DataFrame, k: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """k parameter sets drawn with replacement from a weighted posterior sample.

    posterior: rows of parameter values (columns = scenario key paths) with ``weight``
    (and optionally ``distance``, ignored). Returns k dicts {key path: value}, ready
    for ``apply_overrides`` / ``MarketModel.set_policy``.
    """
    paths = [c for c in posterior.columns if c not in ("weight", "distance")]
    w = posterior["weight"].to_numpy(float)
    rows = rng.choice(len(posterior), size=k, replace=True, p=w / w.sum())
    records = posterior[paths].to_dict("records")
    return [{p: _plain(records[i][p]) for p in paths} for i in rows]


def _plain(v: Any) -> Any:
    """numpy scalars -> Python numbers (scenario validation and YAML want plain types)."""
    return v.item() if isinstance(v, np.generic) else v


def posterior_predictive(cal: Calibration, posterior: pd.DataFrame, draws: int, seed: int,
                         periods: dict[str, pd.Index], executor: str | Executor = "local",
                         on_draw: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """Simulated series for ``draws`` parameter sets drawn from the posterior, one fresh run each.

    Parameter and stochastic uncertainty together: draw d uses parameters
    ``draw_parameters(posterior, draws, default_rng(seed))[d]`` and replicate seed
    ``particle_seed(seed, d)``. Returns per target an array (draws, n_periods) over
    ``periods[target]`` in the target's unit.
    """
    params = draw_parameters(posterior, draws, np.random.default_rng(seed))
    with using(executor) as ex:  # the draws in parallel; each its own seed, so the numbers do not depend on it
        sims = simulate_points(cal, params, [particle_seed(seed, d) for d in range(draws)], ex, periods, on_draw)
    return {t.name: np.vstack([s[t.name][0] for s in sims]) for t in cal.targets}
