"""``freemium-sim compare A.yaml [B.yaml] [--set ...]``: run A and B on the same replicate seeds, report B - A."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from sim.analysis.compare import focal_series, paired_differences, variant, write_comparison
from sim.commands.common import add_run_options, executor_for, resolve_scenario, run_with_progress
from sim.metrics import format_kpi
from sim.outputs import claimed
from sim.runner import focal_kpis
from sim.scenario import ScenarioError, parameter_differences


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `freemium-sim compare A.yaml [B.yaml] [--set ...]`."""
    p = sub.add_parser(
        "compare", help="paired comparison of two scenarios (or one and a --set variant)",
        description="Run A and B on the same replicate seeds and report B - A for every KPI with a "
                    "95% interval. With one file, B is A with the --set overrides; with two, --set "
                    "applies to both. B always takes A's seed and replicate count.")
    p.add_argument("a", help="scenario A (YAML file)")
    p.add_argument("b", nargs="?", help="scenario B (YAML file); without it, B is A with the --set overrides")
    add_run_options(p)
    p.add_argument("--out", help="output folder (default: results/compare-<A>-vs-<B>/)")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    """Run A and B on the same replicate seeds and report their differences."""
    # With two files --set applies to both (e.g. a smaller market for a quick look);
    # with one file it defines B.
    a = resolve_scenario(args.a, args.set if args.b else [], args.replicates, args.seed)
    if args.b:
        # B takes A's seed and replicate count: the pairing needs the same streams.
        b = resolve_scenario(args.b, args.set, a.replicates, a.seed)
    elif args.set:
        b = variant(a, args.set)
    else:
        raise ScenarioError(f"compare: {args.a}: give a second scenario file, or --set overrides "
                            "that make B from A")
    labels = [f"A: {a.name}", f"B: {b.name}"]
    out = Path(args.out) if args.out else Path("results") / f"compare-{a.name}-vs-{b.name}"
    with claimed(out, "compare"):  # refused before simulating; one writer at a time
        return _compare(args, a, b, labels, out)


def _compare(args: argparse.Namespace, a, b, labels: list[str], out: Path) -> int:
    """Simulate A and B, write the comparison into ``out`` and show it."""
    with executor_for(args, max_tasks=a.replicates) as executor:  # one pool or cluster for both arms
        results = {label: run_with_progress(s, executor, args.quiet, label)[0]
                   for label, s in zip(labels, (a, b))}
    series = pd.concat([focal_series(results[label], label) for label in labels], ignore_index=True)
    kpis = [focal_kpis(series[series["scenario"] == label], s) for label, s in zip(labels, (a, b))]
    comparison = {
        "a": {"scenario": a.name, "file": args.a, "label": labels[0]},
        "b": {"scenario": b.name, "file": args.b or args.a, "label": labels[1], "set": args.set},
        "service": a.services.focal.name,
        "seed": a.seed,
        "replicates": a.replicates,
        "command": ["freemium-sim", *sys.argv[1:]],
        "parameters": parameter_differences(a, b),
        "kpis": paired_differences(*kpis),
    }
    write_comparison(out, comparison, series)
    if args.quiet:
        print(out)
    else:
        print_comparison(comparison, out)
    return 0


def print_comparison(comparison: dict, where: Path) -> None:
    """The KPI differences as a rich table on the terminal."""
    a, b = comparison["a"]["label"], comparison["b"]["label"]
    out = Table(title=f"{b} minus {a}: {comparison['service']}, "
                      f"{comparison['replicates']} paired replicates, 95% interval")
    for col, justify in (("KPI", "left"), ("A", "right"), ("B", "right"), ("B - A", "right"),
                         ("95% interval", "right"), ("differs", "center")):
        out.add_column(col, justify=justify, no_wrap=True)
    for name, k in comparison["kpis"].items():
        interval = ("-" if k["diff_ci95_low"] is None
                    else f"{format_kpi(k['diff_ci95_low'], name)} .. {format_kpi(k['diff_ci95_high'], name)}")
        verdict = {True: "[bold green]yes[/]", False: "no", None: "-"}[k["significant"]]
        out.add_row(name, format_kpi(k["a_mean"], name), format_kpi(k["b_mean"], name),
                    format_kpi(k["diff_mean"], name), interval, verdict)
    # Piped output has no width of its own; rich would squeeze the table into 80
    # columns, so give it the width the table needs.
    console = Console() if sys.stdout.isatty() else Console(width=120)
    console.print(out)
    console.print(f"Comparison in [bold]{where}[/bold]")
