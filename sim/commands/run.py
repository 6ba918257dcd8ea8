"""``freemium-sim run SCENARIO.yaml``: run a scenario's replicates and write its results."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sim.commands.common import add_run_options, executor_for, resolve_scenario, run_with_progress


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``freemium-sim run``."""
    p = sub.add_parser("run")
    p.add_argument("scenario", help="scenario YAML file")
    add_run_options(p)
    p.add_argument("--out", help="output folder (default: results/<scenario name>/)")
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from sim.analysis.windows import parse_window
    from sim.outputs import claimed
    from sim.report import write_report
    from sim.resources import output_bytes
    from sim.runner import write_outputs
    from sim.scenario import differences_from_defaults

    scenario = resolve_scenario(args.scenario, args.set, args.replicates, args.seed)
    window = parse_window(args.window, scenario)
    out = Path(args.out) if args.out else Path("results") / scenario.name

    def report(tmp: Path, timeseries, cohorts, summary) -> None:
        write_report(tmp, timeseries, cohorts, summary, differences_from_defaults(scenario),
                     [ev.model_dump(mode="json") for ev in scenario.timeline])

    with claimed(out, "run", output_bytes(scenario)):  # refused before simulating; one writer at a time
        with executor_for(args, max_tasks=scenario.replicates) as executor:
            results, wall = run_with_progress(scenario, executor, args.quiet, f"{scenario.name}")
        summary = write_outputs(out, scenario, results, scenario.seed, wall, ["freemium-sim", *args.argv],
                                extra=report, window=window)
    if args.quiet:
        print(out / "report.html")
    else:
        print_summary(summary, out)
        Console().print(f"Report: [bold]{out / 'report.html'}[/bold]")
    return 0


def print_summary(summary: dict, where: Path) -> None:
    from sim.metrics import format_kpi
    from sim.report.display import format_interval, unit_label

    window = summary.get("window")
    over = f"; cumulative and mean KPIs over {window['start']} to {window['end']}" if window else ""
    table = Table(title=f"{summary['scenario']}: {summary['service']} at {summary['date']} "
                        f"({summary['replicates']} replicates, 95% interval{over})")
    table.add_column("KPI")
    table.add_column("unit")
    table.add_column("mean", justify="right")
    table.add_column("95% interval", justify="right")
    for name, v in summary["kpis"].items():
        table.add_row(name, unit_label(name), format_kpi(v["mean"], name), format_interval(v["ci95_low"], v["ci95_high"], name))
    Console().print(table)
    Console().print(f"Results in [bold]{where}[/bold]")
