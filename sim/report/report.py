"""The run report: figures plus one self-contained `report.html`.

The page answers, in order: which scenario and run this is, what its headline
KPIs are (mean and 95% interval over replicates), what the scenario assumed
differently from the defaults, and how the market evolved (figures).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.metrics import format_kpi, kpi_unit
from sim.report.figures import make_figures
from sim.report.html import figure_block, page, table


def kpi_table(kpis: dict[str, dict[str, float]]) -> str:
    """The KPI table: one row per KPI with its unit, mean and 95% interval over
    replicates (`kpis[name] = {"mean", "ci95_low", "ci95_high"}`)."""
    rows = [(name, kpi_unit(name).replace("share", "%"), format_kpi(v["mean"], name),
             format_kpi(v["ci95_low"], name), format_kpi(v["ci95_high"], name)) for name, v in kpis.items()]
    return table(["KPI", "unit", "mean", "95% low", "95% high"], rows, numeric=[False, False, True, True, True])


def assumptions_table(assumptions: list[dict]) -> str:
    """The parameters this scenario sets away from the defaults:
    `{"path", "value", "default", "unit", "description"}` per row."""
    if not assumptions:
        return "<p>Nothing: every parameter is at its default.</p>"
    rows = [(a["path"], a["value"], a["default"], a.get("unit", ""), a.get("description", ""))
            for a in assumptions]
    return table(["parameter", "value", "default", "unit", "meaning"], rows)


def write_report(out_dir: Path, timeseries: pd.DataFrame, cohorts: pd.DataFrame,
                 summary: dict, assumptions: list[dict]) -> Path:
    """Write `out_dir/figures/*.png` and a self-contained `out_dir/report.html`.

    timeseries: replicate x date x service rows in real units; cohorts:
    focal-service cohort retention rows; summary: `{"scenario", "date",
    "replicates", "kpis"}`; assumptions: parameters that differ from the
    defaults. Returns the path of report.html.
    """
    out_dir = Path(out_dir)
    figures = make_figures(out_dir / "figures", timeseries, cohorts)
    dates = timeseries["date"]
    meta = (f"Run {summary['date']} · {summary['replicates']} replicates · "
            f"{dates.min():%Y-%m} to {dates.max():%Y-%m}")
    body = (
        "<h2>Key results</h2>" + kpi_table(summary["kpis"])
        + "<h2>What this scenario assumed</h2>"
        + "<p>Parameters set differently from the model's defaults.</p>"
        + assumptions_table(assumptions)
        + "<h2>Figures</h2>" + "".join(figure_block(f) for f in figures)
    )
    path = out_dir / "report.html"
    path.write_text(page(f"Scenario: {summary['scenario']}", meta, body), encoding="utf-8")
    return path
