"""The run report: figures plus one self-contained `report.html`, read top-down.

The page answers, in order: which scenario this is (run date and simulated period
apart), its headline KPIs, how the market evolved (figures), every KPI with its
95% interval, and, collapsed, what the scenario assumed differently from the
defaults and its timeline of policy changes, formatted with units.
"""

from __future__ import annotations

import html
import math
import time
from pathlib import Path

import pandas as pd

from sim.metrics import format_kpi
from sim.report.display import format_interval, unit_label
from sim.report.figures import make_figures
from sim.report.html import figure_block, page, table

#: The KPIs shown first, as cards, when the summary has them.
HEADLINE = ("premium_subscribers", "mau", "revenue_total_eur", "ad_revenue_share", "churn_premium_monthly",
            "cumulative_revenue_total_eur", "cumulative_gross_profit_eur")
CARDS_CSS = """
.cards { display: flex; flex-wrap: wrap; gap: 0.6em; margin: 0.4em 0 0.8em; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.35em 0.8em; min-width: 9em; }
.card b { display: block; font-size: 1.25em; }
.card span { color: #666; font-size: 0.85em; }
details { margin: 1em 0; } summary { cursor: pointer; font-weight: bold; font-size: 1.15em; }
"""


def kpi_table(kpis: dict[str, dict[str, float]]) -> str:
    """The KPI table: one row per KPI with its unit, mean and 95% interval over
    replicates (`kpis[name] = {"mean", "ci95_low", "ci95_high"}`)."""
    rows = [(name, unit_label(name), format_kpi(v["mean"], name),
             format_kpi(v["ci95_low"], name), format_kpi(v["ci95_high"], name)) for name, v in kpis.items()]
    return table(["KPI", "unit", "mean", "95% low", "95% high"], rows, numeric=[False, False, True, True, True])


def headline_cards(kpis: dict[str, dict[str, float]]) -> str:
    """The headline KPIs as a row of cards: value, name and unit, interval."""
    cards = []
    for name in [k for k in HEADLINE if k in kpis] or list(kpis)[:6]:
        v = kpis[name]
        interval = format_interval(v["ci95_low"], v["ci95_high"], name)
        cards.append(f"<div class='card'><span>{html.escape(name.replace('_', ' '))} ({html.escape(unit_label(name))})"
                     f"</span><b>{html.escape(format_kpi(v['mean'], name))}</b><span>{html.escape(interval)}</span></div>")
    return f"<div class='cards'>{''.join(cards)}</div>"


def format_value(value: object, unit: str = "") -> str:
    """A scenario value for people: None as '-', large numbers in M or bn, 0..1 shares of a '%'
    unit... left as given; sections and lists as `key: value` text."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if abs(value) >= 1e9:
            return f"{value / 1e9:,.3g} bn"
        if abs(value) >= 1e6:
            return f"{value / 1e6:,.4g} M"
        if float(value).is_integer():
            return f"{int(value):,}"
        return f"{value:,.6g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {format_value(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return "; ".join(format_value(v) for v in value)
    return str(value)


def assumptions_table(assumptions: list[dict]) -> str:
    """The parameters this scenario sets away from the defaults (timeline entries aside):
    `{"path", "value", "default", "unit", "description"}` per row, values formatted."""
    rows = [(a["path"], format_value(a["value"]), format_value(a["default"]), a.get("unit", ""),
             a.get("description", "")) for a in assumptions if not a["path"].startswith("timeline.")]
    if not rows:
        return "<p>Nothing: every parameter is at its default.</p>"
    return table(["parameter", "value", "default", "unit", "meaning"], rows, numeric=[False, True, True, False, False])


def timeline_table(timeline: list[dict]) -> str:
    """The scenario's timeline as a table: month, what it sets (one `path = value` per line), outage, note."""
    if not timeline:
        return "<p>No timeline events.</p>"
    rows = []
    for ev in timeline:
        sets = "; ".join(f"{k} = {format_value(v)}" for k, v in (ev.get("set") or {}).items())
        outage = ev.get("outage")
        what = f"outage of {outage['service']}: {format_value(outage['days'])} days at {outage['severity']:.0%}" if outage else ""
        rows.append((ev["at"], sets, what, ev.get("note") or ""))
    return table(["month", "sets", "outage", "note"], rows)


def write_report(out_dir: Path, timeseries: pd.DataFrame, cohorts: pd.DataFrame,
                 summary: dict, assumptions: list[dict], timeline: list[dict] | None = None,
                 created: str | None = None) -> Path:
    """Write `out_dir/figures/*.png` and a self-contained `out_dir/report.html`.

    timeseries: replicate x date x service rows in real units; cohorts:
    focal-service cohort retention rows; summary: `{"scenario", "date",
    "replicates", "kpis"}`; assumptions: parameters that differ from the
    defaults; timeline: the scenario's events as dicts (`at`, `set`, `outage`,
    `note`); created: when the run was made (default: now, UTC). Returns the
    path of report.html.
    """
    out_dir = Path(out_dir)
    figures = make_figures(out_dir / "figures", timeseries, cohorts)
    dates = timeseries["date"]
    created = created or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    window = summary.get("window")
    meta = (f"Run on {created} · simulated {dates.min():%Y-%m} to {dates.max():%Y-%m} · "
            f"{summary['replicates']} replicates · KPIs at {summary['date'][:7]}"
            + (f", cumulative and mean KPIs over {window['start']} to {window['end']}" if window else ""))
    body = (
        f"<style>{CARDS_CSS}</style>"
        + headline_cards(summary["kpis"])
        + "".join(figure_block(f) for f in figures)
        + "<h2>Every KPI</h2><p>Mean over replicates with its 95% interval.</p>" + kpi_table(summary["kpis"])
        + "<details><summary>What this scenario assumed</summary>"
        + "<p>Parameters set differently from the model's defaults.</p>" + assumptions_table(assumptions)
        + "<h3>Timeline</h3>" + timeline_table(timeline or []) + "</details>"
    )
    path = out_dir / "report.html"
    path.write_text(page(f"Scenario: {summary['scenario']}", meta, body), encoding="utf-8")
    return path
