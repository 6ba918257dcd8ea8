"""``freemium-sim compare A.yaml [B.yaml C.yaml ...] [--set ...] [--from YYYY-MM]``: paired what-ifs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from sim.analysis.compare import (chosen_kpis, compare_arms, differs_rows, kpi_headers, kpi_rows, period_text, price_rows,
                                  region_rows, write_comparison)
from sim.analysis.whatif import SIZE_KEYS, build_arms, folder_name
from sim.analysis.windows import parse_window
from sim.commands.common import add_run_options, executor_for, notice, run_with_progress
from sim.outputs import check_output, claimed
from sim.scenario import ScenarioError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `freemium-sim compare A.yaml [B.yaml C.yaml ...] [--set ...] [--from YYYY-MM]`."""
    p = sub.add_parser(
        "compare",
        description="Run A and the other scenarios on the same replicate seeds and report X - A for every KPI "
                    f"with a 95%% interval. Size and sampling settings ({', '.join(SIZE_KEYS)}, --replicates, "
                    "--seed, --workers) apply to every scenario; every other --set defines the what-if and "
                    "applies to B (and C, ...) only. With one file, B is A with the what-if.")
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                   help="scenario A, then B, C, ... (YAML files); with A alone, B is A with the --set what-if")
    add_run_options(p)
    p.add_argument("--from", dest="start", metavar="YYYY-MM",
                   help="the what-if starts in this month (a timeline event) instead of the first month")
    p.add_argument("--out", help="output folder (default: results/compare-<A>-vs-<what-if>-<hash>/)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing comparison in the output folder")
    p.add_argument("--kpi", action="append", metavar="NAME",
                   help="a KPI for the table and the forest plot (repeatable; default: the headline KPIs)")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    """Run every arm on the same replicate seeds and report their differences from A."""
    arms = build_arms(args.scenarios, args.set, args.start, args.replicates, args.seed)
    window = parse_window(args.window, arms.scenarios[0])
    kpis = chosen_kpis(args.kpi, window)  # an unknown --kpi is refused before any run
    out = Path(args.out) if args.out else Path("results") / folder_name(arms, args.window)
    check_output(out, "compare")  # a foreign, linked or unwritable folder is refused first, naming what is there
    if out.exists() and not args.overwrite:
        raise ScenarioError(f"--out: {out} already exists; pass --overwrite to replace it, or choose another --out")
    for w in arms.warnings:  # to stderr, --quiet or not: a warning is never a table
        notice(w)
    with claimed(out, "compare"):  # refused before simulating; one writer at a time
        with executor_for(args, max_tasks=arms.scenarios[0].replicates) as executor:  # one pool for every arm
            results = [run_with_progress(s, executor, args.quiet, f"{label}: {s.name}")[0]
                       for label, s in zip(arms.labels, arms.scenarios)]
        comparison, series = compare_arms(arms, results, window, ["freemium-sim", *args.argv])
        write_comparison(out, comparison, series, kpis)
    for w in comparison["warnings"][len(arms.warnings):]:  # those the results raise
        notice(w)
    if args.quiet:
        print(out)
    else:
        print_comparison(comparison, out, kpis)
    return 0


def print_comparison(comparison: dict, where: Path, kpis: list[str]) -> None:
    """What differs first, then the differences of ``kpis``, as rich tables within 100 columns (the warnings went
    to stderr): scenarios as columns, each row in one unit; with two or three scenarios each difference has its
    interval beside it, with more they are in comparison.html."""
    console = Console(width=min(Console().width, 100) if sys.stdout.isatty() else 100)
    differs = Table(title="What differs from A")
    for col in ("", "parameter", "A", "value", "unit"):
        differs.add_column(col, overflow="fold")
    for row in differs_rows(comparison):
        differs.add_row(*row)
    console.print(differs if differs.rows else "No parameter differs from A: any difference is Monte-Carlo noise.")
    few = len(comparison["comparisons"]) <= 2
    out = Table(title=f"{comparison['service']}, {period_text(comparison)}; {comparison['replicates']} paired replicates",
                caption="X - A: mean paired difference" + (" (95% interval)" if few else "")
                        + "; * the 95% interval excludes 0" + ("" if few else "; the intervals are in comparison.html"))
    out.box, out.collapse_padding = box.SIMPLE_HEAD, True  # narrow: scenarios as columns fit 100 columns
    _, _, *heads = kpi_headers(comparison)
    out.add_column("KPI, unit", overflow="fold", min_width=22)  # a long name folds, the numbers never wrap
    for col in heads:
        out.add_column(col, justify="right", no_wrap=True)
    for name, unit, a, *diffs in kpi_rows(comparison, kpis, intervals=few):
        out.add_row(f"{name}\n[dim]{unit}[/]", a, *([f"{d} ({ci})" for d, ci in diffs] if few else diffs))
    console.print(out)
    by_region = Table(title=f"{comparison['service']}'s users by region at the last month", box=box.SIMPLE_HEAD,
                      collapse_padding=True)
    by_region.add_column("region, KPI, unit", overflow="fold", min_width=22)
    for col in heads:
        by_region.add_column(col, justify="right", no_wrap=True)
    for region, kpi, unit, a, *diffs in region_rows(comparison, intervals=few):
        by_region.add_row(f"{region}: {kpi}\n[dim]{unit}[/]", a, *([f"{d} ({ci})" for d, ci in diffs] if few else diffs))
    console.print(by_region)
    elastic, bridge = price_rows(comparison)
    for title, heads, rows in (("Arc elasticity w.r.t. price", ["", "price", "of", "elasticity", "95% interval"], elastic),
                               ("Subscription revenue change", ["", "effect", "X - A", "95% interval"], bridge)):
        if rows:
            t = Table(title=title)
            for col in heads:
                t.add_column(col, no_wrap=True)
            for row in rows:
                t.add_row(*row)
            console.print(t)
    console.print(f"Comparison in [bold]{where}[/bold]")
