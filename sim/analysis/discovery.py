"""Scenario discovery: which combinations of swept parameters lead to an outcome.

From a finished sweep, each design point's KPI (mean over its replicates, so the
outcome is the policy's and not one random draw's) is a *case of interest* when it
lies below (or above) a threshold. PRIM, the Patient Rule Induction Method
(Friedman & Fisher 1999; Bryant & Lempert 2010), peels the parameter space into a
sequence of ever smaller boxes; each trades *coverage* (share of all cases of
interest inside the box) for *density* (share of the points inside the box that are
cases). We pick one box from that peeling trajectory, the densest with coverage at
least ``min_coverage`` unless the user names one, and report its limits per
parameter with the quasi-p-values of each limit (a one-sided binomial test of
whether the restriction raises density) and its stability under resampling (how
often the same parameters are restricted when PRIM runs on random halves of the
data). A CART tree (Breiman et al. 1984) on the same data is the cross-check: its
densest leaf should restrict the same parameters.

The implementations are the EMA Workbench's (``ema_workbench.analysis.prim`` and
``.cart``, Kwakkel 2017), imported only when discovery runs: they are slow to import.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.atomic import write_atomic  # noqa: E402
from sim.report.plotting import png_bytes  # noqa: E402
from sim.scenario import ScenarioError, did_you_mean  # noqa: E402
from sim.sweep.spec import SweepSpec  # noqa: E402
from sim.sweep.store import SweepStore, read_resolved  # noqa: E402

MIN_COVERAGE = 0.5  # default: the densest box that still holds half the cases of interest
MIN_RUNS = 20  # fewer successful runs: too few points for PRIM's peels and CART's leaves to mean anything
RESAMPLES = 10  # PRIM reruns on random halves behind the stability figures
PRIM_THRESHOLD = 0.8  # the density EMA's PRIM aims at when it peels
MIN_POINTS = 10  # fewer design points give PRIM nothing to peel (EMA fails on an assertion)
CART_MASS_MIN = 0.05  # the smallest leaf, as a share of the points (at least one point)


def point_table(root: str | Path, kpi: str) -> tuple[pd.DataFrame, np.ndarray, SweepSpec]:
    """The swept parameters per design point (DataFrame, one column per key path; levels as
    categories) and the KPI's mean over each point's successful replicates (ndarray (n_points,)),
    points without a successful run left out; raises ScenarioError for an unknown KPI or a sweep of
    fewer than :data:`MIN_POINTS` design points or :data:`MIN_RUNS` successful runs."""
    spec = SweepSpec.model_validate(read_resolved(root)["sweep"])
    names = [k.key for k in spec.kpis]
    if kpi not in names:
        hint = did_you_mean(kpi, names, 0.6)
        raise ScenarioError(f"--kpi: {root} has no KPI '{kpi}'{hint} (it has: {', '.join(names)})")
    store = SweepStore(root, names)
    runs = store.read_runs()
    ok = runs[runs["status"] == "ok"]
    points = ok["point"].nunique()
    if points < MIN_POINTS:
        raise ScenarioError(f"{root}: {points} design point{'s' * (points != 1)} with a successful run; scenario discovery "
                            f"needs at least {MIN_POINTS} (sweep more points: design.n)")
    if len(ok) < MIN_RUNS:
        raise ScenarioError(f"discover: {root} holds {len(ok)} successful runs; discovery needs at least {MIN_RUNS} "
                            "(PRIM peels 5% of the points at a time and CART's leaves need several points each: on fewer "
                            "its boxes are noise); run a larger design (design.n) or more replicates")
    y = ok.groupby("point")[kpi].mean()
    design = pd.read_parquet(store.design_path).set_index("point").loc[y.index, list(spec.parameters)]
    for col in design:
        if not pd.api.types.is_numeric_dtype(design[col]) or pd.api.types.is_bool_dtype(design[col]):
            design[col] = design[col].astype(str).astype("category")
    return design.reset_index(drop=True), y.to_numpy(dtype=float), spec


def cases_of_interest(y: np.ndarray, below: float | None, above: float | None) -> np.ndarray:
    """Boolean (n_points,): the points whose KPI is below ``below`` or above ``above`` (exactly one given)."""
    return y < below if below is not None else y > above


def _box_limits(box: Any, i: int, x: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Limits of box ``i`` on each restricted parameter, with the quasi-p-values of its ends."""
    table = box.inspect(i, style="data")[0][1]
    out = {}
    for path, row in table.iterrows():
        values = row.to_numpy()
        qp = [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values[2:4]]
        if isinstance(x[path].dtype, pd.CategoricalDtype):
            out[path] = {"values": sorted(str(v) for v in values[0]), "qp_values": qp}
        else:
            out[path] = {"min": float(values[0]), "max": float(values[1]), "qp_values": qp,
                         "range": [float(x[path].min()), float(x[path].max())]}
    return out


def discover(root: str | Path, kpi: str, below: float | None = None, above: float | None = None,
             box_id: int | None = None, min_coverage: float = MIN_COVERAGE, resamples: int = RESAMPLES,
             seed: int = 0) -> dict[str, Any]:
    """PRIM's box and CART's cross-check for one KPI of a sweep, as discovery.json's content.

    Raises ScenarioError when the threshold leaves no case of interest or makes every
    point one, or ``box_id`` is not on the peeling trajectory.
    """
    with warnings.catch_warnings():  # "ipyparallel not installed": nothing the user should do
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import cart, prim

    if (below is None) == (above is None):
        raise ScenarioError("discover: give exactly one of --below T or --above T")
    if not 0 <= min_coverage <= 1:
        raise ScenarioError(f"--min-coverage: must be in [0, 1] (got {min_coverage})")
    x, y, spec = point_table(root, kpi)
    cases = cases_of_interest(y, below, above)
    rule = f"{kpi} {'<' if below is not None else '>'} {below if below is not None else above:g}"
    if not cases.any() or cases.all():
        raise ScenarioError(f"--{'below' if below is not None else 'above'}: {rule} holds for "
                            f"{int(cases.sum())} of {len(y)} design points; choose a threshold that some points meet "
                            f"and others do not (the KPI ranges from {np.nanmin(y):.6g} to {np.nanmax(y):.6g})")
    logging.getLogger("EMA").setLevel(logging.ERROR)
    np.random.seed(seed)  # EMA's resampling draws from numpy's global generator
    # integer levels as numbers: EMA's PRIM writes a fractional peel limit into the column's dtype (pandas refuses)
    x = x.astype({c: float for c in x.select_dtypes("integer").columns})
    try:
        with warnings.catch_warnings():  # EMA's own deprecation notes (pandas' inplace=): nothing the user should do
            warnings.simplefilter("ignore")
            box = prim.Prim(x, cases, threshold=PRIM_THRESHOLD).find_box()
            traj = box.peeling_trajectory
            if box_id is None:
                eligible = traj[traj["coverage"] >= min_coverage]
                box_id = int(eligible.sort_values(["density", "coverage"]).index[-1])
            elif box_id not in traj.index:
                raise ScenarioError(f"--box: {box_id} is not on the peeling trajectory (0 to {traj.index[-1]})")
            stability = box.resample(box_id, iterations=resamples)
            c = cart.CART(x, cases, mass_min=max(CART_MASS_MIN, 1.5 / len(y)))  # at least one point: 1/n x n may round below 1
            c.build_tree()
    except AssertionError:  # EMA's PRIM asserts what too few or too uniform points cannot give it
        raise ScenarioError(f"{root}: PRIM could not peel a box for {rule} from {len(y)} design points "
                            f"({int(cases.sum())} of them cases of interest); sweep more points (design.n) or "
                            "choose a threshold nearer the middle of the KPI's range") from None
    leaf = max(range(len(c.stats)), key=lambda k: (c.stats[k]["density"], c.stats[k]["coverage"]))  # densest leaf
    cart_box = c.boxes[leaf]
    chosen = traj.loc[box_id]
    limits = _box_limits(box, box_id, x)
    cart_restricted = [p for p in x.columns if _restricts(cart_box[p], x[p])]
    stable = {p: {"reproduce_coverage_percent": float(r.iloc[0]), "reproduce_density_percent": float(r.iloc[1])}
              for p, r in stability.iterrows()}
    return {
        "generated_by": "freemium-sim discover", "sweep": spec.name, "kpi": kpi, "rule": rule,
        "points": len(y), "cases_of_interest": int(cases.sum()), "replicates_averaged": spec.replicates,
        "method": "PRIM (ema_workbench.analysis.prim), CART cross-check (ema_workbench.analysis.cart)",
        "box": {"id": box_id, "coverage": float(chosen["coverage"]), "density": float(chosen["density"]),
                "mass": float(chosen["mass"]), "restricted_dimensions": int(chosen["res_dim"]), "limits": limits,
                "stability": stable},
        "notes": fragile_limits(limits, stable, resamples),
        "trade_off": [{"id": int(i), "coverage": float(r["coverage"]), "density": float(r["density"]),
                       "mass": float(r["mass"]), "restricted_dimensions": int(r["res_dim"])} for i, r in traj.iterrows()],
        "cart": {"coverage": float(c.stats[leaf]["coverage"]), "density": float(c.stats[leaf]["density"]),
                 "mass": float(c.stats[leaf]["mass"]), "restricted": cart_restricted,
                 "agrees_with_prim": sorted(cart_restricted) == sorted(limits)},
        "min_coverage": min_coverage, "resamples": resamples,
    }


def fragile_limits(limits: dict[str, dict], stability: dict[str, dict], resamples: int) -> list[str]:
    """Why a limit can be significant yet rarely found again, one sentence per such parameter: the
    quasi-p-value tests that limit on all the points, given the box's other limits; the stability reruns
    PRIM from scratch on random halves, where a weaker limit is often peeled in another order or not at all."""
    out = []
    for path, v in limits.items():
        qp = min((q for q in v["qp_values"] if q is not None), default=None)
        found = stability.get(path, {}).get("reproduce_coverage_percent", 0.0)
        if qp is not None and qp < 0.05 and found < 50:
            out.append(f"{path}: its limit is significant on all the points (quasi-p {qp:.2g}, given the other limits) "
                       f"but PRIM restricts it in only {found:.0f}% of {resamples} reruns on random halves: the limit is "
                       "fragile, read it as a hint, not a finding (a larger design or more replicates settles it)")
    return out


def _restricts(limits: pd.Series, column: pd.Series) -> bool:
    """Whether a CART leaf's limits on one parameter cut off part of its values."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return len(set(limits.iloc[0])) < column.nunique()
    return bool(limits.iloc[0] > column.min() or limits.iloc[1] < column.max())


def write_outputs(out_dir: str | Path, result: dict[str, Any]) -> list[Path]:
    """Write ``discovery.json`` and ``figures/discovery-{tradeoff,box}.png`` into ``out_dir`` (each file
    whole or not at all; other files there are left alone); return the paths written."""
    out_dir = Path(out_dir)
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "discovery.json", out_dir / "figures" / "discovery-tradeoff.png",
             out_dir / "figures" / "discovery-box.png"]
    for path, data in zip(paths, (json.dumps(result, indent=2).encode(), tradeoff_png(result), limits_png(result))):
        write_atomic(path, data)
    return paths


def tradeoff_png(result: dict[str, Any]) -> bytes:
    """PNG bytes: density against coverage along the peeling trajectory, coloured by the number of
    restricted parameters, the chosen box ringed."""
    t = pd.DataFrame(result["trade_off"])
    fig, ax = plt.subplots(figsize=(7.5, 5.5), dpi=100)
    sc = ax.scatter(t["coverage"], t["density"], c=t["restricted_dimensions"], cmap="viridis", s=25)
    fig.colorbar(sc, ax=ax, label="restricted parameters")
    b = result["box"]
    ax.scatter([b["coverage"]], [b["density"]], s=220, facecolors="none", edgecolors="red", linewidths=2,
               label=f"chosen box {b['id']}")
    ax.set_xlabel("coverage (share of the cases of interest inside the box)")
    ax.set_ylabel("density (share of the box's points that are cases)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"PRIM trade-off for {result['rule']}", fontsize=10)
    ax.legend(loc="lower left")
    return png_bytes(fig)


def limits_png(result: dict[str, Any]) -> bytes:
    """PNG bytes: the chosen box's limits on each restricted numeric parameter, as a share of its swept range."""
    numeric = {p: v for p, v in result["box"]["limits"].items() if "min" in v}
    fig, ax = plt.subplots(figsize=(8, 1.4 + 0.5 * max(len(numeric), 1)), dpi=100)
    for k, (path, v) in enumerate(numeric.items()):
        lo, hi = v["range"]
        span = (hi - lo) or 1.0
        ax.barh(k, (v["max"] - v["min"]) / span, left=(v["min"] - lo) / span, color="tab:blue", alpha=0.7)
        ax.text(1.01, k, f"{v['min']:.4g} .. {v['max']:.4g}", va="center", fontsize=8)
    ax.set_yticks(range(len(numeric)), list(numeric), fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("position in the swept range (0 = low, 1 = high)")
    ax.set_title(f"Box {result['box']['id']}: coverage {result['box']['coverage']:.0%}, "
                 f"density {result['box']['density']:.0%}", fontsize=10)
    return png_bytes(fig)

