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

import pandas as pd

from sim.analysis.elasticity import elasticities, list_prices, revenue_bridge
from sim.analysis.whatif import Arms, values_at
from sim.analysis.windows import Window
from sim.atomic import replaced_atomically
from sim.metrics import format_kpi
from sim.report.display import format_change, format_interval, unit_label
from sim.report.html import figure_block, page, table
from sim.report.plotting import MILLION, PERCENT, FigureFile, Panel, banded_figure, forest_figure, save_figure
from sim.runner import SimulationResult, ci95, focal_kpis, months_per_step
from sim.scenario import Scenario, parameter_differences, parameter_table

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


def relative_to_a(kpis: dict[str, dict], suffix: str = "") -> pd.DataFrame:
    """Paired differences as % of A's mean (the common scale of a forest plot
    over KPIs of different units), for KPIs where that is defined: A's mean
    non-zero and an interval available. Columns: kpi, diff, low, high,
    significant; `suffix` is appended to each KPI's label (the arm)."""
    rows = []
    for name, k in kpis.items():
        if k["diff_ci95_low"] is None or not k["a_mean"]:
            continue
        scale = PERCENT / abs(k["a_mean"])
        rows.append((name + suffix, k["diff_mean"] * scale, k["diff_ci95_low"] * scale,
                     k["diff_ci95_high"] * scale, k["significant"]))
    return pd.DataFrame(rows, columns=["kpi", "diff", "low", "high", "significant"])


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


def comparison_figures(fig_dir: Path, focal: pd.DataFrame, comparison: dict) -> list[FigureFile]:
    """The difference over time, A-vs-others band figures and one forest plot of every arm's
    KPI differences, written to `fig_dir`. focal: focal rows of every arm with `scenario` = A, B, ..."""
    arms = comparison["arms"]
    labels = [a["label"] for a in arms]
    named = focal.assign(scenario=focal["scenario"].map({a["label"]: f"{a['label']}: {a['scenario']}" for a in arms}))
    order = [f"{a['label']}: {a['scenario']}" for a in arms]
    band = "Lines are medians across replicates, shaded bands the 5-95% range."
    diff = paired_difference_series(focal, labels)
    figures = [save_figure(
        banded_figure(diff, DIFFERENCE_PANELS, "scenario", [f"{x} - {labels[0]}" for x in labels[1:]],
                      "Difference over time (paired replicates)"),
        fig_dir, "difference_over_time", "Difference over time",
        f"Each scenario minus A on the same replicate seeds, month by month. {band} A band that "
        "leaves zero shows a difference larger than Monte-Carlo noise.")]
    figures += [
        save_figure(banded_figure(named, panels, "scenario", order, f"{title}: {' vs '.join(order)}"),
                    fig_dir, name, title, f"The scenarios on the same paired replicates. {band}")
        for name, (title, panels) in PAIRED_FIGURES.items()
    ]
    many = len(labels) > 2
    rel = pd.concat([relative_to_a(c["kpis"], f" ({c['label']})" if many else "")
                     for c in comparison["comparisons"]], ignore_index=True)
    forest = forest_figure(rel["kpi"].tolist(), rel["diff"].to_numpy(), rel["low"].to_numpy(),
                           rel["high"].to_numpy(), rel["significant"].to_numpy(dtype=bool),
                           "X - A (% of A's mean), 95% interval over paired replicates",
                           "Differences in KPIs")
    figures.append(save_figure(
        forest, fig_dir, "forest", "Differences in KPIs",
        "Each row is one KPI (of one scenario X against A): the point is the mean paired difference X - A "
        "as a percentage of A's mean, the line its 95% interval; red rows exclude zero (distinguishable). "
        "KPIs whose A mean is zero or undefined are left out."))
    return figures


def kpi_rows(comparison: dict) -> list[tuple]:
    """One row per KPI: name, unit, A's mean, then per other arm its mean, X - A and the interval (display strings)."""
    rows = []
    first = comparison["comparisons"][0]["kpis"]
    for name in first:
        row = [name, unit_label(name), format_kpi(first[name]["a_mean"], name)]
        for c in comparison["comparisons"]:
            k = c["kpis"][name]
            interval = format_interval(k["diff_ci95_low"], k["diff_ci95_high"], name, signed=True)
            row += [format_kpi(k["b_mean"], name), format_change(k["diff_mean"], name), interval,
                    {True: "yes", False: "no", None: "-"}[k["significant"]]]
        rows.append(tuple(row))
    return rows


def kpi_headers(comparison: dict) -> list[str]:
    heads = ["KPI", "unit", "A"]
    for c in comparison["comparisons"]:
        x = c["label"]
        heads += [x, f"{x} - A", "95% interval", "differs"]
    return heads


def named_differences(a: Scenario, b: Scenario) -> list[dict]:
    """What differs between A and B, by what it changes, wherever it comes from (the files, ``--set``, a
    timeline event, ``--from``): rows ``{"path", "a", "b", "unit", "from"}``, ``from`` the month a dated
    difference takes effect (None from the start).

    A timeline event's ``set`` gives one row per key path it sets differently, each side's value being
    the one in effect in that month; an event's label fields (``at``, ``note``) drop out; what else an
    event does differently (an outage, an exit, an entrant: by its name if only one side has it) is a row of its own.
    """
    units = {p.path: p.unit for p in parameter_table(a)}
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
            sa, sb = d["a"] or {}, d["b"] or {}
            va, vb = in_effect.setdefault(month, (values_at(a, month), values_at(b, month)))
            out += [{"path": k, "a": sa.get(k, va.get(k)), "b": sb.get(k, vb.get(k)), "unit": units.get(k, "-"),
                     "from": month} for k in dict.fromkeys([*sa, *sb]) if sa.get(k) != sb.get(k)]
        elif parts[-1] not in ("at", "note"):
            out.append({**d, "from": month})
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
        for effect, v in c["revenue_bridge"].items():
            interval = format_interval(v["ci95_low"], v["ci95_high"], "cumulative_eur", signed=True)
            bridge.append((c["label"], effect, format_change(v["mean"], "cumulative_eur"), interval))
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
        "X - A is the mean of the paired differences with its 95% t-interval; 'differs' means the interval "
        "excludes zero. Differences of shares are in percentage points.</p>"
        + table(kpi_headers(comparison), kpi_rows(comparison), numeric=[False, False] + [True] * (len(kpi_headers(comparison)) - 2))
        + figure_block(figures[0])
        + ("<h2>Price response</h2><p>Arc elasticities (midpoint formula) with respect to the headline plan's "
           "price, one per paired replicate, mean and 95% interval.</p>"
           + table(["scenario", "price (EUR/month)", "of", "elasticity", "95% interval"], elastic) if elastic else "")
        + "<h2>Subscription revenue change: price, volume, mix</h2><p>EUR over the period; the three effects add "
          "up to the total (see the user guide for their definition).</p>"
        + table(["scenario", "effect", "EUR", "95% interval"], bridge, numeric=[False, False, True, True])
        + "<h2>Figures</h2>" + "".join(figure_block(f) for f in figures[1:])
    )
    names = ", ".join(f"{a['scenario']} ({a['label']})" for a in comparison["arms"])
    meta = (f"{comparison['service']} · {comparison['replicates']} paired replicates "
            f"(seed {comparison['seed']}, common random numbers) · {comparison['agents']:,} listeners")
    return page(f"Compare: {names}", meta, body)


def write_comparison(out_dir: Path, comparison: dict, series: pd.DataFrame) -> None:
    """Write comparison.json, paired_timeseries.parquet, figures/ and comparison.html into `out_dir`
    (a temporary folder renamed into place)."""
    with replaced_atomically(out_dir, "compare") as tmp:
        (tmp / "comparison.json").write_text(json.dumps(comparison, indent=2, default=str))
        series.to_parquet(tmp / "paired_timeseries.parquet", index=False)
        figures = comparison_figures(tmp / "figures", series[series["focal"]], comparison)
        (tmp / "comparison.html").write_text(comparison_html(comparison, figures), encoding="utf-8")


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
        if parts[0] != "services":
            continue
        service = focal if parts[1] == "focal" else parts[2]
        when = "from the start" if d["from"] is None else f"from {d['from']}"
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
