"""`freemium-sim compare`: what changes between scenario A and scenario B.

Both scenarios run the same R replicates seeded from the same
``SeedSequence(seed).spawn(R)`` (common random numbers): replicate r of A and
replicate r of B see the same random stream, so the paired difference B - A
of a KPI cancels most of the Monte-Carlo noise the two runs share. For every
KPI the report gives the mean of the R paired differences and its 95%
t-interval; a difference is *distinguishable from zero* when that interval
excludes zero.

B is either a second scenario file or A with ``--set`` overrides (a variant).
Outputs: ``results/compare-<A>-vs-<B>/`` with ``comparison.json``,
``comparison.html`` and ``figures/`` (the terminal table is drawn by
``sim.commands.compare``).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
from sim.report.html import figure_block, page, table
from sim.report.plotting import (
    MILLION,
    PERCENT,
    FigureFile,
    Panel,
    banded_figure,
    forest_figure,
    save_figure,
)
from sim.atomic import replaced_atomically
from sim.runner import SimulationResult, ci95
from sim.scenario import Scenario, apply_overrides, parse_set_options

PAIRED_FIGURES = {
    "paired_users": ("Users", [
        Panel("premium_subscribers", "Premium subscribers\n(millions)", MILLION),
        Panel("mau", "Monthly active users\n(millions)", MILLION),
        Panel("market_share", "Share of users (%)", PERCENT),
    ]),
    "paired_revenue": ("Revenue and churn", [
        Panel("revenue_total_eur", "Revenue\n(EUR millions/month)", MILLION),
        Panel("ad_revenue_share", "Ad share of\nrevenue (%)", PERCENT),
        Panel("churn_premium_monthly", "Premium churn\n(% per month)", PERCENT),
    ]),
}


def paired_differences(kpis_a: pd.DataFrame, kpis_b: pd.DataFrame) -> dict[str, dict]:
    """Per KPI: A's and B's means and the paired difference B - A with its
    95% t-interval across replicates.

    kpis_a, kpis_b: DataFrames indexed by replicate, one column per KPI (as
    `sim.runner.focal_kpis` returns), in each KPI's own unit. Returns
    `{kpi: {"a_mean", "b_mean", "diff_mean", "diff_ci95_low",
    "diff_ci95_high", "significant"}}`; a value is None where undefined (a KPI
    that is NaN in every replicate, an interval from one replicate), and
    `significant` is True when the interval excludes zero.
    """
    diff = kpis_b - kpis_a  # aligned on the replicate index: the pairs
    out = {}
    for kpi in kpis_a.columns:
        d = ci95(diff[kpi].to_numpy())
        low, high = d["ci95_low"], d["ci95_high"]
        out[kpi] = {
            "a_mean": ci95(kpis_a[kpi].to_numpy())["mean"],
            "b_mean": ci95(kpis_b[kpi].to_numpy())["mean"],
            "diff_mean": d["mean"],
            "diff_ci95_low": low,
            "diff_ci95_high": high,
            "significant": None if low is None else bool(low > 0 or high < 0),
        }
    return out


def variant(a: Scenario, sets: list[str]) -> Scenario:
    """Scenario A with `--set` overrides: the B of a one-file comparison.
    Named `<A>-variant` unless the overrides name it (`--set name=...`).
    Seed and replicates stay A's whatever the overrides say: the pairing needs
    the same streams (--seed and --replicates set them for both)."""
    overrides = {"name": f"{a.name}-variant", **parse_set_options(sets),
                 "seed": a.seed, "replicates": a.replicates}
    return apply_overrides(a, overrides, source="--set")


def focal_series(results: list[SimulationResult], label: str) -> pd.DataFrame:
    """The focal service's rows of all replicates of one arm, with a
    `scenario` column holding the arm's label (the group of paired figures)."""
    ts = pd.concat([r.timeseries for r in results], ignore_index=True)
    focal = ts[ts["focal"]].copy()
    focal["scenario"] = label
    return focal


def relative_to_a(kpis: dict[str, dict]) -> pd.DataFrame:
    """Paired differences as % of A's mean (the common scale of a forest plot
    over KPIs of different units), for KPIs where that is defined: A's mean
    non-zero and an interval available. Columns: kpi, diff, low, high,
    significant."""
    rows = []
    for name, k in kpis.items():
        if k["diff_ci95_low"] is None or not k["a_mean"]:
            continue
        scale = PERCENT / abs(k["a_mean"])
        rows.append((name, k["diff_mean"] * scale, k["diff_ci95_low"] * scale,
                     k["diff_ci95_high"] * scale, k["significant"]))
    return pd.DataFrame(rows, columns=["kpi", "diff", "low", "high", "significant"])


def comparison_figures(fig_dir: Path, series: pd.DataFrame, labels: list[str],
                       kpis: dict[str, dict]) -> list[FigureFile]:
    """A-vs-B band figures of the focal service's main series and a forest
    plot of the KPI differences, written to `fig_dir`.

    series: focal rows of both arms (replicate x date) with a `scenario`
    column; labels: [A's label, B's label]."""
    band = "Lines are medians across replicates, shaded bands the 5-95% range."
    figures = [
        save_figure(banded_figure(series, panels, "scenario", labels, f"{title}: {labels[0]} vs {labels[1]}"),
                    fig_dir, name, title, f"A and B on the same paired replicates. {band}")
        for name, (title, panels) in PAIRED_FIGURES.items()
    ]
    rel = relative_to_a(kpis)
    forest = forest_figure(rel["kpi"].tolist(), rel["diff"].to_numpy(), rel["low"].to_numpy(),
                           rel["high"].to_numpy(), rel["significant"].to_numpy(dtype=bool),
                           "B - A (% of A's mean), 95% interval over paired replicates",
                           "Differences in KPIs")
    figures.append(save_figure(
        forest, fig_dir, "forest", "Differences in KPIs",
        "Each row is one KPI: the point is the mean paired difference B - A as a percentage of A's "
        "mean, the line its 95% interval; red rows exclude zero (distinguishable). KPIs whose A "
        "mean is zero or undefined are left out."))
    return figures


def comparison_html(comparison: dict, figures: list[FigureFile]) -> str:
    """The self-contained comparison page: KPI differences, what differs
    between A and B, and the figures."""
    a, b = comparison["a"]["label"], comparison["b"]["label"]
    kpi_rows = [(name, k["a_mean"], k["b_mean"], k["diff_mean"], k["diff_ci95_low"],
                 k["diff_ci95_high"], {True: "yes", False: "no", None: "n/a"}[k["significant"]])
                for name, k in comparison["kpis"].items()]
    param_rows = [(d["path"], d["a"], d["b"], d["unit"]) for d in comparison["parameters"]]
    body = (
        "<h2>Differences in KPIs</h2>"
        f"<p>{html.escape(comparison['service'])} at the last date; cumulative KPIs over the horizon. "
        "B - A is the mean of the paired differences with its 95% t-interval; "
        "'distinguishable' means the interval excludes zero.</p>"
        + table(["KPI", "A mean", "B mean", "B - A", "95% low", "95% high", "distinguishable"],
                kpi_rows, numeric=[False, True, True, True, True, True, False])
        + "<h2>What differs between A and B</h2>"
        + (table(["parameter", a, b, "unit"], param_rows) if param_rows
           else "<p>No parameter differs: any difference is Monte-Carlo noise.</p>")
        + "<h2>Figures</h2>" + "".join(figure_block(f) for f in figures)
    )
    meta = (f"{comparison['service']} · {comparison['replicates']} paired replicates "
            f"(seed {comparison['seed']}, common random numbers)")
    return page(f"Compare: {comparison['a']['scenario']} (A) vs {comparison['b']['scenario']} (B)",
                meta, body)


def write_comparison(out_dir: Path, comparison: dict, series: pd.DataFrame) -> None:
    """Write comparison.json, figures/ and comparison.html into `out_dir`,
    replacing it atomically."""
    labels = [comparison["a"]["label"], comparison["b"]["label"]]
    with replaced_atomically(out_dir, "compare") as tmp:
        (tmp / "comparison.json").write_text(json.dumps(comparison, indent=2, default=str))
        figures = comparison_figures(tmp / "figures", series, labels, comparison["kpis"])
        (tmp / "comparison.html").write_text(comparison_html(comparison, figures), encoding="utf-8")
