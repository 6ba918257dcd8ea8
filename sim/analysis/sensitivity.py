"""``freemium-sim sensitivity DIR``: which swept parameters drive each KPI of a sweep.

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

import io
import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (backend first)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from SALib.analyze import morris, sobol  # noqa: E402

from sim.scenario import ScenarioError  # noqa: E402
from sim.sweep import designs  # noqa: E402
from sim.sweep.spec import SweepSpec  # noqa: E402
from sim.atomic import write_atomic  # noqa: E402
from sim.sweep.store import SweepStore, read_resolved  # noqa: E402

CONF_LEVEL = 0.95
NUM_RESAMPLES = 1000  # bootstrap resamples behind each confidence interval
#: What each method reports per parameter (``*_conf``: half-width of the CONF_LEVEL interval)
COLUMNS = {"sobol": ("S1", "S1_conf", "ST", "ST_conf"), "morris": ("mu_star", "mu_star_conf", "sigma", "mu")}
BARS = {"sobol": ("S1", "ST"), "morris": ("mu_star", "sigma")}  # drawn side by side per parameter
RANK = {"sobol": "ST", "morris": "mu_star"}  # orders the table, largest first


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


def analyze(spec: SweepSpec, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Sensitivity indices of one KPI.

    x: ndarray (n_points, n_parameters), the raw design in problem units;
    y: ndarray (n_points,), the KPI per point. Returns arrays of shape
    (n_parameters,): ``S1, S1_conf, ST, ST_conf`` for a sobol design (fractions of
    variance; ``*_conf`` is the half-width of the CONF_LEVEL interval), or
    ``mu_star, mu_star_conf, sigma, mu`` for a morris design (KPI units over the
    parameter's range). All NaN if the KPI is constant over the design.
    """
    problem = designs.salib_problem(spec)
    keys = COLUMNS[spec.design.kind]
    if np.ptp(y) == 0:  # no variance to apportion: every index is undefined
        return {k: np.full(problem["num_vars"], math.nan) for k in keys}
    if spec.design.kind == "sobol":
        si = sobol.analyze(problem, y, calc_second_order=spec.design.second_order,
                           num_resamples=NUM_RESAMPLES, conf_level=CONF_LEVEL, seed=spec.seed)
    else:
        si = morris.analyze(problem, x, y, num_resamples=NUM_RESAMPLES, conf_level=CONF_LEVEL,
                            num_levels=spec.design.num_levels, seed=spec.seed)
    return {k: np.asarray(si[k], dtype=float) for k in keys}


def sensitivity(root: str | Path) -> dict[str, Any]:
    """Indices of every KPI of the sweep in ``root``, as JSON-ready data (NaN as None)."""
    resolved = read_resolved(root)
    spec = SweepSpec.model_validate(resolved["sweep"])
    if spec.design.kind not in COLUMNS:
        raise ScenarioError(f"{root}: a {spec.design.kind} sweep; sensitivity indices need design kind sobol or morris")
    store = SweepStore(root, [k.key for k in spec.kpis])
    x = designs.sample(spec)
    store.check_design(designs.to_values(spec, x, frozenset(resolved["integer_parameters"])))
    runs = store.read_runs()
    out: dict[str, Any] = {"generated_by": "freemium-sim sensitivity", "sweep": spec.name, "method": spec.design.kind,
                           "conf_level": CONF_LEVEL, "bootstrap_resamples": NUM_RESAMPLES,
                           "replicates_averaged": spec.replicates, "common_random_numbers": spec.common_random_numbers,
                           "parameters": list(spec.parameters), "noise_share": {}, "kpis": {}}
    for kpi in spec.kpis:
        y = point_means(runs, kpi.key, len(x))
        missing = np.flatnonzero(np.isnan(y))
        if missing.size:
            raise ScenarioError(f"{root}: {kpi.key}: {missing.size} design points have no successful run "
                                f"(first: point {missing[0]}); finish the sweep (rerun it, --retry-failed) first")
        indices = analyze(spec, x, y)
        out["noise_share"][kpi.key] = _json_number(noise_share(runs, kpi.key))
        out["kpis"][kpi.key] = {p: {k: _json_number(v[j]) for k, v in indices.items()}
                                for j, p in enumerate(spec.parameters)}
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
    """PNG bytes: one pair of bars per parameter (S1 and ST, or mu* and sigma), error bars = CIs."""
    names = list(by_param)
    # sigma has no bootstrap interval in SALib; ST, S1 and mu* do
    conf = {"S1": "S1_conf", "ST": "ST_conf", "mu_star": "mu_star_conf"}
    pos = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(names) + 2), 4.5), dpi=100)
    for offset, index in zip((-0.2, 0.2), BARS[method]):
        heights = np.array([_nan(by_param[p][index]) for p in names])
        errors = np.array([_nan(by_param[p][conf[index]]) for p in names]) if index in conf else None
        ax.bar(pos + offset, heights, width=0.4, yerr=errors, capsize=3, label=_LABELS[index])
    ax.set_xticks(pos, names, rotation=25, ha="right", fontsize=8)
    ax.set_xlabel("swept parameter (scenario key path)")
    ax.set_ylabel("share of KPI variance" if method == "sobol" else "KPI change over the parameter's range")
    ax.set_title(f"{'Sobol' if method == 'sobol' else 'Morris'} sensitivity of {kpi} "
                 f"(error bars: {CONF_LEVEL:.0%} bootstrap CI{' of mu*' if method == 'morris' else ''})", fontsize=10)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


_LABELS = {"S1": "S1 (alone)", "ST": "ST (total, with interactions)", "mu_star": "mu* (mean |effect|)",
           "sigma": "sigma (spread of effects)"}


def _nan(v: float | None, missing: float = math.nan) -> float:
    return missing if v is None else v
