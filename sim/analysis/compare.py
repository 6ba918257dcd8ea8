"""`freemium-sim compare`: what changes between scenario A and scenarios B, C, ...

Every arm runs the same R replicates seeded from the same
``SeedSequence(seed).spawn(R)`` (common random numbers): replicate r of A and
replicate r of B see the same random stream, so the paired difference B - A
of a KPI cancels most of the Monte-Carlo noise the runs share. For every
KPI the report gives the mean of the R paired differences and its 95%
t-interval; a difference is *distinguishable from zero* when that interval
excludes zero.

The arms are built by :mod:`sim.analysis.whatif` (size settings on every side,
the what-if only on B, ``--from`` as a dated event, a warning when the timeline
undoes a value the user set). Outputs, in a folder named after the what-if with
a short hash (never replaced without ``--overwrite``): ``comparison.json``,
``comparison.html``, ``paired_timeseries.parquet`` and ``figures/``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.elasticity import elasticities, list_prices, revenue_bridge
from sim.analysis.whatif import Arms, values_at
from sim.analysis.windows import Window, in_window
from sim.atomic import replaced_atomically
from sim.report.display import RowScale
from sim.report.html import figure_block, page, table
from sim.report.plotting import (MILLION, PERCENT, FigureFile, ForestPanel, Panel, banded_figure, forest_grid, group_colors,
                                 save_figure)
from sim.runner import SimulationResult, ci95, focal_kpi_names, focal_kpis, months_per_step
from sim.scenario import Scenario, parameter_differences, parameter_index, parameter_table

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
DIFFERENCE_PANELS = [
    Panel("premium_subscribers", "Premium subscribers,\nX - A (millions)", MILLION),
    Panel("revenue_subscription_eur", "Subscription revenue,\nX - A (EUR millions/month)", MILLION),
    Panel("revenue_ads_eur", "Ad revenue,\nX - A (EUR millions/month)", MILLION),
]


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


def arm_series(results: list[SimulationResult], label: str) -> pd.DataFrame:
    """All rows (every service) of all replicates of one arm, with a leading `scenario` column (A, B, ...)."""
    ts = pd.concat([r.timeseries for r in results], ignore_index=True)
    ts.insert(0, "scenario", label)
    return ts


def paired_difference_series(focal: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Per other arm X: the focal rows of X minus those of A, replicate by replicate and date by
    date, with `scenario` = ``"X - A"`` (the difference-over-time figure's groups)."""
    columns = [p.column for p in DIFFERENCE_PANELS]
    a = focal[focal["scenario"] == labels[0]].set_index(["replicate", "date"])[columns]
    parts = []
    for label in labels[1:]:
        d = focal[focal["scenario"] == label].set_index(["replicate", "date"])[columns] - a
        parts.append(d.reset_index().assign(scenario=f"{label} - {labels[0]}"))
    return pd.concat(parts, ignore_index=True)


def comparison_figures(fig_dir: Path, focal: pd.DataFrame, comparison: dict, kpis: list[str]) -> list[FigureFile]:
    """The difference over time, A-vs-others band figures and a forest plot of ``kpis`` (one panel each),
    written to `fig_dir`. focal: focal rows of every arm with `scenario` = A, B, ...

    Each arm has one colour in every figure; the time axes cover the window (with a short lead-in)
    when there is one."""
    arms = comparison["arms"]
    labels = [a["label"] for a in arms]
    colors = group_colors(labels)
    focal = focal[shown_dates(focal["date"], comparison["window"])]
    named = focal.assign(scenario=focal["scenario"].map({a["label"]: f"{a['label']}: {a['scenario']}" for a in arms}))
    order = [f"{a['label']}: {a['scenario']}" for a in arms]
    band = "Lines are medians across replicates, shaded bands the 5-95% range."
    diff = paired_difference_series(focal, labels)
    span = "" if comparison["window"] is None else (f" The axis shows the window {comparison['window']['start']} to "
                                                    f"{comparison['window']['end']} (shaded) after a short lead-in.")
    figures = [save_figure(
        banded_figure(diff, DIFFERENCE_PANELS, "scenario", [f"{x} - {labels[0]}" for x in labels[1:]],
                      "Difference over time (paired replicates)", {f"{x} - {labels[0]}": colors[x] for x in labels[1:]},
                      comparison["window"]),
        fig_dir, "difference_over_time", "Difference over time",
        f"Each scenario minus A on the same replicate seeds, month by month. {band} A band that "
        f"leaves zero shows a difference larger than Monte-Carlo noise.{span}")]
    figures += [
        save_figure(banded_figure(named, panels, "scenario", order, title, dict(zip(order, colors.values())),
                                  comparison["window"]),
                    fig_dir, name, title, f"The scenarios on the same paired replicates ({', '.join(order)}). {band}{span}")
        for name, (title, panels) in PAIRED_FIGURES.items()
    ]
    figures.append(save_figure(
        forest_panels(comparison, kpis, colors), fig_dir, "forest", "Differences in KPIs",
        "One panel per KPI, each on its own scale and unit: the point is the mean paired difference X - A, the line its "
        "95% interval, one row per scenario in its colour; a filled point marks an interval that excludes zero, a "
        "hollow one an interval that holds it. Shares are in percentage points."))
    return figures


def shown_dates(dates: pd.Series, window: dict | None) -> pd.Series:
    """Which dates a figure shows: all, or the window's after a lead-in of a quarter of its length (3 to 12 months)."""
    if window is None:
        return pd.Series(True, index=dates.index)
    start, end = pd.Timestamp(window["start"]), pd.Timestamp(window["end"])
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    return (dates >= start - pd.DateOffset(months=min(12, max(3, months // 4)))) & (dates <= end)


def forest_panels(comparison: dict, kpis: list[str], colors: dict[str, str]):
    """The forest figure: per KPI, each arm's X - A and 95% interval in the KPI's row unit (:class:`RowScale`)."""
    arms = comparison["comparisons"]
    panels = []
    for name in kpis:
        ks = [c["kpis"][name] for c in arms]
        scale = paired_scale(name, ks)
        panels.append(ForestPanel(f"{name}\n(X - A, {scale.difference_unit})", [f"{c['label']} - A" for c in arms],
                                  *(np.array([np.nan if k[f] is None else k[f] / scale.divisor for k in ks])
                                    for f in ("diff_mean", "diff_ci95_low", "diff_ci95_high")),
                                  np.array([bool(k["significant"]) for k in ks]), [colors[c["label"]] for c in arms]))
    return forest_grid(panels, "Differences in KPIs, X - A with 95% intervals over paired replicates")


#: The KPIs a comparison's table and forest plot show unless ``--kpi`` chooses: at most 12.
HEADLINE_KPIS = ("premium_subscribers", "mau", "free_users", "market_share", "churn_premium_monthly", "arpu_premium_eur",
                 "ad_revenue_share", "cumulative_revenue_total_eur", "cumulative_revenue_subscription_eur",
                 "cumulative_revenue_ads_eur", "cumulative_gross_profit_eur")


def chosen_kpis(kpis: list[str] | None, window: Window | None) -> list[str]:
    """The KPIs a table and the forest plot show: ``kpis`` as asked (``--kpi``, each checked: a ScenarioError
    names an unknown one), else the headline ones."""
    from sim.scenario import ScenarioError, did_you_mean

    known = focal_kpi_names(window)
    for name in kpis or []:
        if name not in known:
            raise ScenarioError(f"--kpi: unknown KPI '{name}'{did_you_mean(name, known)} (allowed: {', '.join(known)})")
    return list(dict.fromkeys(kpis)) if kpis else [k for k in HEADLINE_KPIS if k in known]


def kpi_rows(comparison: dict, kpis: list[str], intervals: bool = True) -> list[tuple]:
    """One row per KPI of ``kpis``: name, unit, A's mean, then per other arm X - A (a trailing * where its 95% interval
    excludes zero) and, with ``intervals``, that interval: every number of a row in one unit and scale
    (:class:`~sim.report.display.RowScale`), a share's differences in percentage points."""
    rows = []
    for name in kpis:
        ks = [c["kpis"][name] for c in comparison["comparisons"]]
        scale = paired_scale(name, ks)
        unit = scale.unit if scale.difference_unit == scale.unit else f"{scale.unit}, X - A in {scale.difference_unit}"
        rows.append((name, unit, scale.value(ks[0]["a_mean"]), *(difference_cell(scale, k, intervals) for k in ks)))
    return rows


def paired_scale(name: str, ks: list[dict]) -> RowScale:
    """The one scale of a row of KPI ``name``: A's mean and every arm's X - A and 95% interval (``ks``, one
    :func:`paired_differences` entry per other arm, A's mean the same in each)."""
    return RowScale.of(name, [ks[0]["a_mean"]], [k[f] for k in ks for f in ("diff_mean", "diff_ci95_low", "diff_ci95_high")])


def difference_cell(scale: RowScale, k: dict, interval: bool = True) -> str | tuple[str, str]:
    """X - A in ``scale`` with a trailing * where its 95% interval excludes zero; with ``interval``, (that, the interval)."""
    cell = scale.value(k["diff_mean"], signed=True) + ("*" if k["significant"] else "")
    return (cell, scale.interval(k["diff_ci95_low"], k["diff_ci95_high"])) if interval else cell


def kpi_headers(comparison: dict) -> list[str]:
    """KPI, unit, A, then one column X - A per other arm."""
    return ["KPI", "unit", "A", *(f"{c['label']} - A" for c in comparison["comparisons"])]


def named_differences(a: Scenario, b: Scenario) -> list[dict]:
    """What differs between A and B, by what it changes, wherever it comes from (the files, ``--set``, a
    timeline event, ``--from``): rows ``{"path", "a", "b", "unit", "from"}``, ``from`` the month a dated
    difference takes effect (None from the start).

    A month whose events set values differently gives one row per value that A and B then hold
    differently, each side's value being the one in effect in that month (its events applied); an event's label fields (``at``, ``note``) drop out; what else an
    event does differently (an outage, an exit, an entrant: by its name if only one side has it) is a row of its own.
    """
    units = {path: p.unit for path, p in parameter_index(a).items()}  # a regional value's unit too
    by_leaf = {path.rsplit(".", 1)[-1]: unit for path, unit in units.items()}  # a plan added later: its price's unit
    in_effect: dict[str, tuple[dict, dict]] = {}
    differences = parameter_differences(a, b)
    paths = {d["path"] for d in differences}
    out = []
    for d in differences:
        parts = d["path"].split(".")
        if parts[2:3] == ["enter"] and parts[3:] != ["name"] and ".".join(parts[:3]) + ".name" in paths:
            continue  # an entrant only one side has is its name, not each of its values
        if parts[0] != "timeline":
            out.append({**d, "from": None})
            continue
        if len(parts) < 3:
            continue  # an empty timeline on one side: its events are rows of their own
        month = parts[1].split("#")[0]  # a repeated date is labelled 2025-01#2
        if parts[-1] == "set":
            if month in in_effect:
                continue  # that month's changes are listed once, from the values in effect
            va, vb = in_effect.setdefault(month, (_with_regional(values_at(a, month)), _with_regional(values_at(b, month))))
            keys = {*(d["a"] or {}), *(d["b"] or {}), *(k for ev in (*a.timeline, *b.timeline) if ev.at == month and ev.set
                                                          for k in ev.set)}
            # each value an event of that month sets (or a section's values) that A and B then hold differently
            out += [{"path": p, "a": va.get(p), "b": vb.get(p), "unit": units.get(p, by_leaf.get(p.rsplit(".", 1)[-1], "-")),
                     "from": month}
                    for p in dict.fromkeys([*va, *vb]) if va.get(p) != vb.get(p)
                    and any(p == k or p.startswith(k + ".") for k in keys)]
        elif parts[-1] not in ("at", "note"):
            out.append({**d, "from": month})
    return sorted(out, key=lambda d: d["from"] or "")  # from the start first, then by month


def _with_regional(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (key path -> value) with each service's regional values filled where unset: a region's
    ad load and free tier are then the service's own, its price multiple 1."""
    out = dict(values)
    for path, value in values.items():
        parts = path.split(".")
        if len(parts) >= 5 and parts[0] == "services" and parts[-3] == "regions" and value is None:
            out[path] = values.get(".".join([*parts[:-3], parts[-1]])) if parts[-1] != "price_multiplier" else 1.0
    return out


def is_price(path: str) -> bool:
    """A service's list price or regional price multiple: the cause the elasticities assume."""
    parts = path.split(".")
    return parts[0] == "services" and (parts[-1] == "price" or parts[-3:-2] == ["regions"] and parts[-1] == "price_multiplier")


def differs_rows(comparison: dict) -> list[tuple]:
    """What differs: (scenario, parameter, A's value, its value, unit) per parameter and arm, a dated
    difference (a timeline event, --from) with its month."""
    rows = []
    for c in comparison["comparisons"]:
        for d in c["differences"]:
            b = "-" if d["b"] is None else str(d["b"])
            rows.append((c["label"], d["path"], "-" if d["a"] is None else str(d["a"]),
                         b if d["from"] is None else f"{b} from {d['from']}", d["unit"]))
    return rows


def price_rows(comparison: dict) -> tuple[list[tuple], list[tuple]]:
    """Display rows of the elasticities and of the revenue bridge, per arm."""
    elastic, bridge = [], []
    for c in comparison["comparisons"]:
        e = c["elasticities"]
        if e is not None:
            for kpi, v in e["kpis"].items():
                interval = "-" if v["ci95_low"] is None else f"{v['ci95_low']:.2f} .. {v['ci95_high']:.2f}"
                elastic.append((c["label"], f"{e['price_a']:.2f} -> {e['price_b']:.2f}", kpi,
                                "n/a" if v["mean"] is None else f"{v['mean']:.2f}", interval))
        for effect, v in c["revenue_bridge"].items():  # one scale per row: EUR, M or bn
            scale = RowScale.of("cumulative_revenue_subscription_eur", [], [v["mean"], v["ci95_low"], v["ci95_high"]])
            bridge.append((c["label"], effect, f"{scale.value(v['mean'], signed=True)} {scale.unit}",
                           f"{scale.interval(v['ci95_low'], v['ci95_high'])} {scale.unit}"))
    return elastic, bridge


def period_text(comparison: dict) -> str:
    w = comparison["window"]
    return (f"cumulative and mean KPIs over {w['start']} to {w['end']}, others at {w['end']}" if w
            else "at the last month; cumulative KPIs over the whole horizon")


def comparison_html(comparison: dict, figures: list[FigureFile]) -> str:
    """The self-contained comparison page: what differs and any warning first, then the KPI
    differences, the price response, and the figures."""
    warnings = "".join(f"<p style='color:#a33'><b>Warning:</b> {html.escape(w)}</p>" for w in comparison["warnings"])
    diffs = differs_rows(comparison)
    elastic, bridge = price_rows(comparison)
    body = (
        "<h2>What differs</h2>" + warnings
        + (table(["scenario", "parameter", "A", "value", "unit"], diffs) if diffs
           else "<p>No parameter differs: any difference is Monte-Carlo noise.</p>")
        + "<h2>Differences in KPIs</h2>"
        f"<p>{html.escape(comparison['service'])}, {html.escape(period_text(comparison))}. "
        "X - A is the mean of the paired differences, its 95% t-interval below it; a * marks an interval that "
        "excludes zero. Each row is in one unit and scale; differences of shares are in percentage points (pp).</p>"
        + table(["KPI, unit", *kpi_headers(comparison)[2:]],
                [((name, unit), *cells) for name, unit, *cells in kpi_rows(comparison, list(comparison["comparisons"][0]["kpis"]))],
                numeric=[False] + [True] * (len(kpi_headers(comparison)) - 2), wide=True)
        + "<h2>Users by region</h2><p>The focal service's users in each region at the last month, A and X - A as "
          "above.</p>"
        + table(["region, KPI, unit", *kpi_headers(comparison)[2:]],
                [((region, f"{kpi}, {unit}"), *cells) for region, kpi, unit, *cells in region_rows(comparison)],
                numeric=[False] + [True] * (len(kpi_headers(comparison)) - 2), wide=True)
        + figure_block(figures[0])
        + ("<h2>Price response</h2><p>Arc elasticities (midpoint formula) with respect to the headline plan's "
           "price, one per paired replicate, mean and 95% interval.</p>"
           + table(["scenario", "price (EUR/month)", "of", "elasticity", "95% interval"], elastic) if elastic else "")
        + "<h2>Subscription revenue change: volume, mix, price, other</h2><p>Over the period: volume (subscribers at "
          "A's revenue each), mix (their plans), price (the plans' list prices) and other (the rest: regional "
          "price multiples, trials, who pays where) add up to the total (user guide, section 4).</p>"
        + table(["scenario", "effect", "EUR", "95% interval"], bridge, numeric=[False, False, True, True])
        + "<h2>Figures</h2>" + "".join(figure_block(f) for f in figures[1:])
    )
    names = ", ".join(f"{a['scenario']} ({a['label']})" for a in comparison["arms"])
    meta = (f"{comparison['service']} · {comparison['replicates']} paired replicates "
            f"(seed {comparison['seed']}, common random numbers) · {comparison['agents']:,} listeners")
    return page(f"Compare: {names}", meta, body)


def write_comparison(out_dir: Path, comparison: dict, series: pd.DataFrame, kpis: list[str] | None = None) -> None:
    """Write comparison.json, paired_timeseries.parquet, figures/ (the forest plot of ``kpis``, default the
    headline ones) and comparison.html into `out_dir` (a temporary folder renamed into place)."""
    with replaced_atomically(out_dir, "compare") as tmp:
        (tmp / "comparison.json").write_text(json.dumps(comparison, indent=2, default=str))
        series.to_parquet(tmp / "paired_timeseries.parquet", index=False)
        window = comparison["window"] and (comparison["window"]["start"], comparison["window"]["end"])
        figures = comparison_figures(tmp / "figures", series[series["focal"]], comparison, kpis or chosen_kpis(None, window))
        (tmp / "comparison.html").write_text(comparison_html(comparison, figures), encoding="utf-8")


REGION_KPIS = ("premium_subscribers", "free_users", "mau")


def paired_regions(arms: Arms, results: list[list[SimulationResult]], window: Window | None) -> dict:
    """The focal service's users by region at the last month (of the window): per other arm X, per region and
    KPI of :data:`REGION_KPIS`, the paired difference X - A (:func:`paired_differences`); people."""
    focal = arms.scenarios[0].services.focal.name
    per_arm = []
    for arm in results:
        rows = pd.concat([r.regions for r in arm], ignore_index=True)
        rows = rows[(rows["service"] == focal) & in_window(rows["date"], window)]
        last = rows[rows["date"] == rows["date"].max()]
        per_arm.append(last.pivot_table(index="replicate", columns="region", values=list(REGION_KPIS), sort=False))
    out = {}
    for label, frame in zip(arms.labels[1:], per_arm[1:]):
        diffs = paired_differences(per_arm[0], frame)
        out[label] = {region: {kpi: diffs[(kpi, region)] for kpi in REGION_KPIS} for region in per_arm[0].columns.levels[1]
                      if (REGION_KPIS[0], region) in diffs}
    return out


def region_rows(comparison: dict, intervals: bool = True) -> list[tuple]:
    """One row per region and KPI of the by-region table: region, KPI, unit, A, then X - A per other arm (as
    :func:`kpi_rows`, one scale per row)."""
    rows = []
    first = comparison["regions"][comparison["comparisons"][0]["label"]]
    for region in first:
        for kpi in REGION_KPIS:
            ks = [comparison["regions"][c["label"]][region][kpi] for c in comparison["comparisons"]]
            scale = paired_scale(kpi, ks)
            rows.append((region, kpi, scale.unit, scale.value(ks[0]["a_mean"]),
                         *(difference_cell(scale, k, intervals) for k in ks)))
    return rows


def compare_arms(arms: Arms, results: list[list[SimulationResult]], window: Window | None, command: list[str],
                 ) -> tuple[dict, pd.DataFrame]:
    """comparison.json's content and the paired time series (every arm, every service) of run arms."""
    labels = arms.labels
    series = pd.concat([arm_series(r, label) for r, label in zip(results, labels)], ignore_index=True)
    focal = {label: series[(series["scenario"] == label) & series["focal"]] for label in labels}
    kpis = {label: focal_kpis(focal[label], s, window) for label, s in zip(labels, arms.scenarios)}
    a = arms.scenarios[0]
    prices = {label: list_prices(s) for label, s in zip(labels, arms.scenarios)}
    dt = months_per_step(a)
    comparisons = [{
        "label": label,
        "scenario": s.name,
        "parameters": parameter_differences(a, s),
        "differences": named_differences(a, s),
        "kpis": paired_differences(kpis["A"], kpis[label]),
        "elasticities": elasticities(focal["A"], focal[label], window),
        "revenue_bridge": revenue_bridge(focal["A"], focal[label], prices["A"], prices[label], dt, window),
    } for label, s in zip(labels[1:], arms.scenarios[1:])]
    warnings = list(arms.warnings)
    for c in comparisons:
        others = [d["path"] + ("" if d["from"] is None else f" (from {d['from']})")
                  for d in c["differences"] if not is_price(d["path"])]
        if c["elasticities"] is not None:
            c["elasticities"]["other_differences"] = others
            if others:
                warnings.append(f"{c['label']}: the elasticities attribute the whole change to the price, but "
                                f"{', '.join(others)} differ(s) too")
        warnings += withdrawal_notes(c["label"], c["differences"], a.services.focal.name)
    comparison = {
        "arms": [{"label": label, "scenario": s.name, "file": f} for label, s, f in zip(labels, arms.scenarios, arms.files)],
        "set": {"what_if": arms.whatif, "from": arms.start, "from_values": _dated_values(arms)},
        "service": a.services.focal.name,
        "seed": a.seed,
        "replicates": a.replicates,
        "agents": a.market.agents,
        "window": None if window is None else {"start": window[0], "end": window[1]},
        "command": command,
        "warnings": warnings,
        "comparisons": comparisons,
        "regions": paired_regions(arms, results, window),
        # A and B's entries at the top level, as before several arms were possible
        "a": {"scenario": a.name, "file": arms.files[0], "label": "A"},
        "b": {"scenario": arms.scenarios[1].name, "file": arms.files[1], "label": "B"},
        "parameters": comparisons[0]["parameters"],
        "kpis": comparisons[0]["kpis"],
    }
    return comparison, series


def _dated_values(arms: Arms) -> dict[str, dict] | None:
    """With --from: each what-if path's value in A in that month, its value in B, and its unit."""
    if arms.start is None:
        return None
    before = values_at(arms.scenarios[0], arms.start)
    units = {p.path: p.unit for p in parameter_table(arms.scenarios[0])}
    return {path: {"a": before.get(path), "b": value, "unit": units.get(path, "-")}
            for path, value in arms.whatif.items() if path != "name"}


def withdrawal_notes(label: str, differences: list[dict], focal: str) -> list[str]:
    """What happens to the users of a free tier or a plan that X withdraws (everywhere or in a region),
    one sentence each: they choose again at once (``sim.mechanics.subscriptions``)."""
    out = []
    for d in differences:
        parts = d["path"].split(".")
        if parts[0] != "services" or d["from"] is None:
            continue  # from the start no one holds it: nobody moves
        service = focal if parts[1] == "focal" else parts[2]
        when = f"from {d['from']}"
        region = f" in {parts[-2]}" if parts[-3:-2] == ["regions"] else ""
        if parts[-1] == "free_tier" and d["a"] is not False and d["b"] is False:
            what = f"{service}'s free tier{region} ends {when}: its free users there"
        elif parts[-3:-1] and parts[-3] == "plans" and parts[-1] == "price" and d["a"] is not None and d["b"] is None:
            what = f"{service}'s {parts[-2]} plan is withdrawn {when}: its subscribers"
        else:
            continue
        out.append(f"{label}: {what} all choose again in that month, among the options left to them (another tier or "
                   "plan, another service, nothing); no one stays on it, and none of them waits (user guide, "
                   "'Removing a tier or a plan')")
    return out
