"""``freemium-sim sensitivity DIR``: sensitivity indices of the KPIs of a finished sweep (any design)."""

from __future__ import annotations

import argparse
import math
from typing import Any

from rich.console import Console
from rich.table import Table

from sim.analysis.sensitivity import COLUMNS, NUM_RESAMPLES, RANK, sensitivity, write_outputs


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``freemium-sim sensitivity``."""
    p = subparsers.add_parser(
        "sensitivity",
        description="Sobol' S1 and ST (sobol sweep), Morris mu* and sigma (morris sweep), or the "
                    "sample-free delta, RBD-FAST and PAWN (lhs, grid or sobol sweep) of the sweep's KPIs, with "
                    "bootstrap confidence intervals and a warning when the design is too small: a table, "
                    "DIR/sensitivity.json and DIR/figures/sensitivity-<kpi>.png.")
    p.add_argument("sweep_dir", metavar="DIR", help="a sweep's output folder, e.g. results/sweep-sobol_levers")
    p.add_argument("--method", choices=list(COLUMNS),
                   help="default: sobol for a sobol sweep, morris for a morris sweep, rbd_fast otherwise "
                   "(delta is slow: use --resamples 50 or so)")
    p.add_argument("--kpi", action="append", metavar="NAME", help="a KPI of the sweep (repeatable; default: all)")
    p.add_argument("--resamples", type=int, default=NUM_RESAMPLES, metavar="N",
                   help=f"bootstrap resamples per interval (default: {NUM_RESAMPLES})")
    p.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    console = Console()
    result = sensitivity(args.sweep_dir, args.method, args.kpi, args.resamples)
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
        for w in result["warnings"].get(kpi, []):
            console.print(f"[bold yellow]warning:[/] {kpi}: {w}", highlight=False)


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def _or_lowest(v: float | None) -> float:
    """A sort key that puts undefined indices last."""
    return -math.inf if v is None else v
