"""``freemium-sim sensitivity DIR``: which swept parameters drive each KPI of a sweep.

Any design has a method: Sobol' and Morris need their own samples; an ``lhs`` or
``grid`` sweep (or a sobol one) takes SALib's sample-free analyses: the moment-
independent delta (Borgonovo 2007; Plischke et al. 2013) with a first-order S1,
RBD-FAST's first-order S1 (Tarantola et al. 2006; Plischke 2010) and PAWN's
CDF-based index (Pianosi & Wagener 2015). ``--method`` picks one, ``--kpi`` the
KPIs, ``--resamples`` the bootstrap resamples. A design too small for its indices
(S1 above ST, an index outside [0, 1] beyond its interval, the largest index's
interval wider than the index, any interval wider than +-0.1) gets a warning, for every KPI,
with the n that would be enough; share indices' intervals are clipped to [0, 1].

Variance-based Sobol' indices (Sobol' 2001; Saltelli 2002 estimators, via
``SALib.analyze.sobol``) from a ``sobol`` sweep: S1 is the share of the KPI's variance
due to a parameter alone, ST the share it takes part in (with interactions), each
with a bootstrap confidence interval. Elementary effects (Morris 1991; mu* of
Campolongo et al. 2007, via ``SALib.analyze.morris``) from a ``morris`` sweep: mu* is
the mean absolute change of the KPI when the parameter moves one grid step, scaled
to the parameter's whole range, sigma the spread of that change (non-linearity or
interactions).

Replicates are averaged per design point first, so the indices describe the
expected KPI and Monte-Carlo noise does not count as a parameter's effect. SALib's
``problem`` comes from the sweep spec (``designs.salib_problem``), the same one that
drew the design.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (backend first)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from SALib.analyze import delta, morris, pawn, rbd_fast, sobol  # noqa: E402

from sim.scenario import ScenarioError, did_you_mean  # noqa: E402
from sim.sweep import designs  # noqa: E402
from sim.sweep.spec import SweepSpec  # noqa: E402
from sim.atomic import write_atomic  # noqa: E402
from sim.report.plotting import png_bytes  # noqa: E402
from sim.sweep.store import SweepStore, read_resolved  # noqa: E402

CONF_LEVEL = 0.95
NUM_RESAMPLES = 1000  # bootstrap resamples behind each confidence interval (default of --resamples)
#: What each method reports per parameter (``*_conf``: half-width of the CONF_LEVEL interval)
COLUMNS = {"sobol": ("S1", "S1_conf", "ST", "ST_conf"), "morris": ("mu_star", "mu_star_conf", "sigma", "mu"),
           "delta": ("delta", "delta_conf", "S1", "S1_conf"), "rbd_fast": ("S1", "S1_conf"),
           "pawn": ("median", "minimum", "maximum", "CV")}
BARS = {"sobol": ("S1", "ST"), "morris": ("mu_star", "sigma"), "delta": ("delta", "S1"), "rbd_fast": ("S1",),
        "pawn": ("median", "maximum")}  # drawn side by side per parameter
RANK = {"sobol": "ST", "morris": "mu_star", "delta": "delta", "rbd_fast": "S1", "pawn": "median"}  # table order
#: Methods each design supports; the first is the default. Morris needs its trajectories and
#: Sobol' its Saltelli sample; the sample-free methods need a space-filling design.
METHODS = {"sobol": ("sobol", "delta", "rbd_fast", "pawn"), "morris": ("morris",),
           "lhs": ("rbd_fast", "delta", "pawn"), "grid": ("rbd_fast", "delta", "pawn")}
# delta's kernel density bootstrap is slow (about a minute per 1,000 points and 100 resamples on one
# core): RBD-FAST, fast and unbiased for first-order effects, is the default of a sample-free design
#: Half-width an index's interval should not exceed; the design size advice aims at it.
TARGET_CONF = 0.05
TOO_WIDE = 2 * TARGET_CONF  # an interval half this wide or more cannot tell a parameter's index from its neighbours'
MEANINGFUL = 0.05  # an index below this is "about zero": S1 > ST there is noise, not a symptom


def point_means(runs: pd.DataFrame, kpi: str, n_points: int) -> np.ndarray:
    """Mean of a KPI over the successful replicates of each point: ndarray (n_points,), NaN where none succeeded."""
    ok = runs[runs["status"] == "ok"]
    return ok.groupby("point")[kpi].mean().reindex(range(n_points)).to_numpy(dtype=float)


def noise_share(runs: pd.DataFrame, kpi: str) -> float:
    """Share of the variance of the point means that is Monte-Carlo noise; NaN with one replicate.

    The variance of a mean of R replicates is the within-point variance over R; divided
    by the variance of the point means it is the part of the KPI's variance that the
    parameters do not explain. With independent seeds per point this noise enters every
    total index, so ST values below it cannot be told from noise.
    """
    ok = runs[runs["status"] == "ok"].groupby("point")[kpi]
    if ok.count().min() < 2:
        return math.nan
    between = ok.mean().var(ddof=1)
    return float((ok.var(ddof=1) / ok.count()).mean() / between) if between > 0 else math.nan


def analyze(spec: SweepSpec, x: np.ndarray, y: np.ndarray, method: str | None = None,
            resamples: int = NUM_RESAMPLES) -> dict[str, np.ndarray]:
    """Sensitivity indices of one KPI.

    x: ndarray (n_points, n_parameters), the raw design in problem units;
    y: ndarray (n_points,), the KPI per point; method: one of :data:`METHODS` for the
    design (default: its first). Returns arrays of shape (n_parameters,), the
    :data:`COLUMNS` of the method: fractions of variance (sobol, rbd_fast, delta's S1),
    delta's moment-independent index in [0, 1], PAWN's KS statistics, or Morris' mu*,
    sigma and mu in KPI units over the parameter's range. ``*_conf`` is the half-width
    of the CONF_LEVEL bootstrap interval. All NaN if the KPI is constant over the design.
    """
    problem = designs.salib_problem(spec)
    method = method or METHODS[spec.design.kind][0]
    keys = COLUMNS[method]
    if np.ptp(y) == 0:  # no variance to apportion: every index is undefined
        return {k: np.full(problem["num_vars"], math.nan) for k in keys}
    common = {"conf_level": CONF_LEVEL, "seed": spec.seed, "num_resamples": resamples}
    if method == "sobol":
        si = sobol.analyze(problem, y, calc_second_order=spec.design.second_order, **common)
    elif method == "morris":
        si = morris.analyze(problem, x, y, num_levels=spec.design.num_levels, **common)
    elif method == "delta":
        raw = delta.analyze(problem, x, y, **common)  # delta_raw: the classic estimator, plain bootstrap
        si = {"delta": raw["delta_raw"], "delta_conf": raw["delta_raw_conf"], "S1": raw["S1"], "S1_conf": raw["S1_conf"]}
    elif method == "rbd_fast":
        si = rbd_fast.analyze(problem, x, y, **common)
    else:
        si = pawn.analyze(problem, x, y, seed=spec.seed)
    return {k: np.asarray(si[k], dtype=float) for k in keys}


def design_n(spec: SweepSpec, n_points: int) -> int:
    """The design's size as its ``n`` counts it: Sobol's base samples N, else the points."""
    return spec.design.n if spec.design.kind == "sobol" else n_points


def design_warnings(method: str, indices: dict[str, np.ndarray], names: list[str], n: int,
                    power_of_two: bool) -> list[str]:
    """Symptoms of a design too small for its indices, each a sentence; empty when none.

    indices: :func:`analyze`'s output; n: the design's size (:func:`design_n`). The
    advice scales n with the squared ratio of the widest interval to TARGET_CONF (an
    interval narrows as 1/sqrt(n)), rounded up to a power of 2 for Sobol'.
    """
    if method in ("morris", "pawn"):  # mu* is in KPI units, PAWN has no interval
        return []
    out = []
    pairs = [(k, f"{k}_conf") for k in COLUMNS[method] if f"{k}_conf" in COLUMNS[method]]
    if method == "sobol":
        bad = [p for p, s1, st in zip(names, indices["S1"], indices["ST"]) if s1 > st and s1 >= MEANINGFUL]
        if bad:
            out.append(f"S1 > ST for {', '.join(bad)}: impossible for exact indices")
    for k, conf in pairs:
        v, c = indices[k], indices[conf]
        outside = [p for p, vi, ci in zip(names, v, c) if vi - ci > 1 or vi + ci < 0]
        if outside:
            out.append(f"{k} outside [0, 1] beyond its interval for {', '.join(outside)}")
        top = int(np.nanargmax(v)) if np.isfinite(v).any() else None
        if top is not None and c[top] > abs(v[top]):
            out.append(f"the interval of the largest {k} ({names[top]}: {v[top]:.3g} +- {c[top]:.3g}) is wider "
                       "than the estimate")
    widest = max((float(np.nanmax(indices[c])) for _, c in pairs if np.isfinite(indices[c]).any()), default=0.0)
    if widest > TOO_WIDE:
        out.append(f"intervals up to +-{widest:.2g}, too wide to rank the parameters (+-{TOO_WIDE} at most)")
    if not out:
        return []
    need = math.ceil(n * max(widest / TARGET_CONF, 1.0) ** 2)
    if power_of_two:
        need = 2 ** math.ceil(math.log2(need))
    return [f"design too small for {method} indices (n = {n}): {'; '.join(out)}. About n = {need} would give "
            f"intervals of +-{TARGET_CONF}"]


def sensitivity(root: str | Path, method: str | None = None, kpis: list[str] | None = None,
                resamples: int = NUM_RESAMPLES) -> dict[str, Any]:
    """Indices of the sweep's KPIs (all, or ``kpis``) in ``root``, as JSON-ready data (NaN as None).

    Raises ScenarioError for a method the design does not support, an unknown KPI, a
    resample count below 1, or a sweep with unfinished points.
    """
    resolved = read_resolved(root)
    spec = SweepSpec.model_validate(resolved["sweep"])
    allowed = METHODS[spec.design.kind]
    method = method or allowed[0]
    if method not in allowed:
        raise ScenarioError(f"--method: {method} does not fit the {spec.design.kind} design of {root} "
                            f"(allowed: {', '.join(allowed)})")
    if resamples < 1:
        raise ScenarioError(f"--resamples: must be at least 1 (got {resamples})")
    names = [k.key for k in spec.kpis]
    for k in kpis or []:
        if k not in names:
            raise ScenarioError(f"--kpi: {root} has no KPI '{k}'{did_you_mean(k, names)} (it has: {', '.join(names)})")
    store = SweepStore(root, names)
    x = designs.sample(spec)
    store.check_design(designs.to_values(spec, x, frozenset(resolved["integer_parameters"])))
    runs = store.read_runs()
    if len(x) < 2:
        raise ScenarioError(f"{root}: {len(x)} design point; sensitivity apportions the variation between points "
                            "and there is none: sweep more points (design.n)")
    out: dict[str, Any] = {"generated_by": "freemium-sim sensitivity", "sweep": spec.name, "method": method,
                           "design": spec.design.kind, "design_n": design_n(spec, len(x)),
                           "conf_level": CONF_LEVEL, "bootstrap_resamples": resamples,
                           "replicates_averaged": spec.replicates, "common_random_numbers": spec.common_random_numbers,
                           "parameters": list(spec.parameters), "noise_share": {}, "warnings": {}, "kpis": {}}
    for kpi in [k for k in spec.kpis if not kpis or k.key in kpis]:
        y = point_means(runs, kpi.key, len(x))
        missing = np.flatnonzero(np.isnan(y))
        if missing.size:
            raise ScenarioError(f"{root}: {kpi.key}: {missing.size} design points have no successful run "
                                f"(first: point {missing[0]}); finish the sweep (rerun it, --retry-failed) first")
        indices = analyze(spec, x, y, method, resamples)
        out["noise_share"][kpi.key] = _json_number(noise_share(runs, kpi.key))
        out["warnings"][kpi.key] = design_warnings(method, indices, list(spec.parameters), out["design_n"],
                                                   spec.design.kind == "sobol")
        if np.ptp(y) == 0:
            out["warnings"][kpi.key].append(f"{kpi.key} is {y[0]:g} at every design point: no parameter moves it, "
                                            "and every index is undefined (n/a)")
        out["kpis"][kpi.key] = {p: {k: _json_number(v[j]) for k, v in {**indices, **clipped_bounds(method, indices)}.items()}
                                for j, p in enumerate(spec.parameters)}
    return out


def clipped_bounds(method: str, indices: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``<index>_low`` and ``<index>_high``: each share index's interval (estimate -+ half-width) clipped to
    [0, 1], the values a share can take (an estimate's own sampling error may still lie outside)."""
    if method in ("morris", "pawn"):  # mu* is in KPI units, PAWN has no interval
        return {}
    out = {}
    for k in COLUMNS[method]:
        if f"{k}_conf" in COLUMNS[method]:
            v, c = indices[k], indices[f"{k}_conf"]
            out[f"{k}_low"], out[f"{k}_high"] = np.clip(v - c, 0.0, 1.0), np.clip(v + c, 0.0, 1.0)
    return out


def _json_number(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def write_outputs(root: str | Path, result: dict[str, Any]) -> list[Path]:
    """Write ``sensitivity.json`` and one bar chart per KPI under ``figures/``; return the paths written."""
    root = Path(root)
    # every chart drawn before the first file is written: Ctrl-C while drawing leaves nothing half-done
    charts = {kpi: _bar_chart(kpi, result["method"], by_param) for kpi, by_param in result["kpis"].items()}
    json_path = root / "sensitivity.json"
    write_atomic(json_path, json.dumps(result, indent=2).encode())
    (root / "figures").mkdir(exist_ok=True)
    paths = [json_path]
    for kpi, png in charts.items():
        path = root / "figures" / f"sensitivity-{kpi}.png"
        write_atomic(path, png)
        paths.append(path)
    return paths


def _bar_chart(kpi: str, method: str, by_param: dict[str, dict[str, float | None]]) -> bytes:
    """PNG bytes: the method's indices side by side per parameter (:data:`BARS`), error bars = CIs;
    for Morris, the mu*-sigma scatter instead."""
    if method == "morris":
        return _morris_scatter(kpi, by_param)
    names = list(by_param)
    pos = np.arange(len(names))
    bars = BARS[method]
    width = 0.8 / len(bars)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.3 * len(names) + 2), 4.8), dpi=100)
    for i, index in enumerate(bars):
        heights = np.array([_nan(by_param[p][index]) for p in names])
        errors = None
        if f"{index}_low" in by_param[names[0]]:  # the interval clipped to [0, 1]: no bar below 0 or above 1
            low = np.array([_nan(by_param[p][f"{index}_low"]) for p in names])
            high = np.array([_nan(by_param[p][f"{index}_high"]) for p in names])
            errors = np.maximum([heights - low, high - heights], 0.0)
        ax.bar(pos + (i - (len(bars) - 1) / 2) * width, heights, width=width, yerr=errors, capsize=3,
               label=_LABELS[index])
    ax.set_xticks(pos, names, rotation=25, ha="right", fontsize=8)
    ax.set_xlabel("swept parameter (scenario key path)")
    ax.set_ylabel("KS distance of conditional CDFs" if method == "pawn" else "index (share of KPI variance or 0..1)")
    ax.set_title(f"{_TITLES[method]} sensitivity of {kpi}"
                 + ("" if method == "pawn" else f"\n(error bars: {CONF_LEVEL:.0%} bootstrap CI, clipped to [0, 1])"), fontsize=10)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.legend()
    return png_bytes(fig)


def _morris_scatter(kpi: str, by_param: dict[str, dict[str, float | None]]) -> bytes:
    """PNG bytes: the usual Morris plot, sigma against mu* per parameter (Campolongo et al. 2007), with
    the lines sigma/mu* = 0.1, 0.5 and 1 that separate linear, monotonic and non-linear or interacting
    effects (Garcia Sanchez et al. 2014); horizontal bars are mu*'s bootstrap CI."""
    names = list(by_param)
    mu = np.array([_nan(by_param[p]["mu_star"]) for p in names])
    sigma = np.array([_nan(by_param[p]["sigma"]) for p in names])
    conf = np.array([_nan(by_param[p]["mu_star_conf"]) for p in names])
    fig, ax = plt.subplots(figsize=(7.5, 5.5), dpi=100)
    ax.errorbar(mu, sigma, xerr=conf, fmt="o", capsize=3)
    for p, m, sd in zip(names, mu, sigma):
        if np.isfinite(m) and np.isfinite(sd):
            ax.annotate(p, (m, sd), textcoords="offset points", xytext=(4, 4), fontsize=8)
    top = float(np.nanmax(np.r_[mu + np.nan_to_num(conf), sigma, 1e-12])) * 1.1
    for ratio, style in ((0.1, ":"), (0.5, "--"), (1.0, "-")):
        ax.plot([0, top], [0, ratio * top], color="0.6", lw=0.8, ls=style, label=f"sigma / mu* = {ratio:g}")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("mu* (mean |elementary effect|, KPI units over the parameter's range)")
    ax.set_ylabel("sigma (spread of the elementary effects)")
    ax.set_title(f"Morris screening of {kpi} (bars: {CONF_LEVEL:.0%} bootstrap CI of mu*)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return png_bytes(fig)



_LABELS = {"S1": "S1 (alone)", "ST": "ST (total, with interactions)", "mu_star": "mu* (mean |effect|)",
           "sigma": "sigma (spread of effects)", "delta": "delta (moment-independent)",
           "median": "PAWN median KS", "maximum": "PAWN maximum KS"}
_TITLES = {"sobol": "Sobol'", "morris": "Morris", "delta": "Delta (Borgonovo)", "rbd_fast": "RBD-FAST",
           "pawn": "PAWN"}


def _nan(v: float | None, missing: float = math.nan) -> float:
    return missing if v is None else v
