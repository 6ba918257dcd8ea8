"""``freemium-sim sensitivity DIR``: Sobol' or Morris indices of every KPI of a finished sweep."""

from __future__ import annotations

import argparse
import math
from typing import Any

from rich.console import Console
from rich.table import Table

from sim.analysis.sensitivity import COLUMNS, RANK, sensitivity, write_outputs


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``freemium-sim sensitivity``."""
    p = subparsers.add_parser("sensitivity", help="Sobol' or Morris indices of every KPI of a finished sweep",
                              description="Sobol' S1 and ST (from a sobol sweep) or Morris mu* and sigma (from a morris "
                              "sweep) of every KPI, with bootstrap confidence intervals: a table, DIR/sensitivity.json "
                              "and DIR/figures/sensitivity-<kpi>.png.")
    p.add_argument("sweep_dir", metavar="DIR", help="a sweep's output folder, e.g. results/sweep-sobol_levers")
    p.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    console = Console()
    result = sensitivity(args.sweep_dir)
    print_table(result, console)
    paths = write_outputs(args.sweep_dir, result)
    console.print(f"wrote {paths[0]} and {len(paths) - 1} figures in {paths[0].parent / 'figures'}")
    return 0


def print_table(result: dict[str, Any], console: Console) -> None:
    """One rich table per KPI, parameters sorted by their main index (ST or mu*), largest first."""
    keys = COLUMNS[result["method"]]
    rank = RANK[result["method"]]
    for kpi, by_param in result["kpis"].items():
        noise = result["noise_share"][kpi]
        table = Table(title=f"{kpi} ({result['method']}, {result['conf_level']:.0%} CI)",
                      caption=f"Monte-Carlo noise: {_fmt(noise)} of the variance of point means")
        table.add_column("parameter", overflow="fold")
        for k in keys:
            table.add_column(k, justify="right")
        for p in sorted(by_param, key=lambda p: _or_lowest(by_param[p][rank]), reverse=True):
            table.add_row(p, *(_fmt(by_param[p][k]) for k in keys))
        console.print(table)


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def _or_lowest(v: float | None) -> float:
    """A sort key that puts undefined indices last."""
    return -math.inf if v is None else v
