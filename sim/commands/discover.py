"""``freemium-sim discover SWEEP_DIR --kpi K --below|--above T``: scenario discovery (PRIM + CART)."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from sim.analysis.discovery import MIN_COVERAGE, RESAMPLES, discover, write_outputs


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``freemium-sim discover``."""
    p = subparsers.add_parser(
        "discover",
        description="Scenario discovery on a finished sweep: PRIM finds a box of parameter values where the KPI "
                    "is below (or above) a threshold, with its coverage/density trade-off, limits, quasi-p-values "
                    "and resampling stability; CART cross-checks it. Writes discovery.json and figures/.")
    p.add_argument("sweep_dir", metavar="SWEEP_DIR", help="a sweep's output folder")
    p.add_argument("--kpi", required=True, help="a KPI of the sweep (a column of runs.parquet)")
    side = p.add_mutually_exclusive_group(required=True)
    side.add_argument("--below", type=float, metavar="T", help="cases of interest: KPI below T")
    side.add_argument("--above", type=float, metavar="T", help="cases of interest: KPI above T")
    p.add_argument("--box", type=int, metavar="ID", help="pick this box of the peeling trajectory "
                   "(default: the densest with coverage >= --min-coverage)")
    p.add_argument("--min-coverage", type=float, default=MIN_COVERAGE, metavar="C",
                   help=f"coverage the default box keeps at least (default: {MIN_COVERAGE})")
    p.add_argument("--resamples", type=int, default=RESAMPLES, metavar="N",
                   help=f"PRIM reruns on random halves for the stability figures (default: {RESAMPLES})")
    p.add_argument("--out", metavar="DIR", help="where to write (default: the sweep's folder)")
    p.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    from sim.scenario import ScenarioError

    if args.resamples < 1:
        raise ScenarioError(f"--resamples: must be at least 1 (got {args.resamples})")
    result = discover(args.sweep_dir, args.kpi, args.below, args.above, args.box, args.min_coverage, args.resamples)
    paths = write_outputs(args.out or args.sweep_dir, result)
    box = result["box"]
    console = Console()
    table = Table(title=f"{result['rule']}: box {box['id']} covers {box['coverage']:.0%} of the "
                        f"{result['cases_of_interest']} cases of interest at density {box['density']:.0%} "
                        f"({result['points']} design points)")
    for col in ("parameter", "limits", "quasi-p (low, high end)", "restricted in resamples"):
        table.add_column(col, overflow="fold")
    for path, v in box["limits"].items():
        limits = ", ".join(v["values"]) if "values" in v else f"{v['min']:.4g} .. {v['max']:.4g}"
        qp = ", ".join("-" if q is None else f"{q:.2g}" for q in v["qp_values"])
        stable = box["stability"].get(path, {}).get("reproduce_coverage_percent")
        table.add_row(path, limits, qp, "-" if stable is None else f"{stable:.0f}%")
    console.print(table)
    for note in result["notes"]:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    cart = result["cart"]
    console.print(f"CART cross-check: its densest leaf (coverage {cart['coverage']:.0%}, density "
                  f"{cart['density']:.0%}) restricts {', '.join(cart['restricted']) or 'nothing'}"
                  f"{'' if cart['agrees_with_prim'] else ' [yellow](not the same parameters as PRIM)[/]'}")
    console.print(f"wrote {paths[0]} and figures in {paths[1].parent}")
    return 0
