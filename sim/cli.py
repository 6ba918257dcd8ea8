"""The ``freemium-sim`` command.

Subcommands register themselves through an ``add_parser(subparsers)`` function in their
own module; every user error (a ScenarioError) prints one message and exits 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sim.metrics import format_kpi
from sim.scenario import ScenarioError, apply_overrides, load_scenario, parameter_table, parse_set_options

console = Console(stderr=True)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that runs replicates (run, compare)."""
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE", default=[],
                   help="override a scenario value, e.g. services.focal.ad_load=3 (repeatable)")
    p.add_argument("--replicates", type=int, help="replicates (default: the scenario's)")
    p.add_argument("--seed", type=int, help="root seed (default: the scenario's)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or table (for scripts)")
    p.add_argument("--window", metavar="YYYY-MM:YYYY-MM",
                   help="months the cumulative and mean KPIs cover (both included; default: the whole horizon)")


def resolve_scenario(path: str, sets: list[str], replicates: int | None = None, seed: int | None = None):
    """Load a scenario file, apply ``--set`` overrides and the run options."""
    scenario = load_scenario(path)
    overrides = parse_set_options(sets)
    if replicates is not None:
        overrides["replicates"] = replicates
    if seed is not None:
        overrides["seed"] = seed
    return apply_overrides(scenario, overrides, source=f"{path}: --set") if overrides else scenario


def progress_bar(quiet: bool, description: str, total: int):
    """A rich progress bar over ``total`` units (replicates x steps), or a no-op when quiet."""
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console,
                        disable=quiet, transient=False)
    task = progress.add_task(description, total=total)
    return progress, (lambda k: progress.advance(task, k))


def run_with_progress(scenario, workers: int | None, quiet: bool, label: str):
    """Run the scenario's replicates with a progress bar; returns (results, wall seconds)."""
    from sim.clock import Clock
    from sim.runner import run_replicates

    steps = Clock.of(scenario).n_steps
    progress, advance = progress_bar(quiet, label, scenario.replicates * steps)
    start = time.perf_counter()
    with progress:
        results = run_replicates(scenario, scenario.replicates, scenario.seed, workers, advance)
    return results, time.perf_counter() - start


def print_summary(summary: dict, where: Path) -> None:
    window = summary.get("window")
    over = f"; cumulative and mean KPIs over {window['start']} to {window['end']}" if window else ""
    table = Table(title=f"{summary['scenario']}: {summary['service']} at {summary['date']} "
                        f"({summary['replicates']} replicates, 95% interval{over})")
    table.add_column("KPI")
    table.add_column("unit")
    table.add_column("mean", justify="right")
    table.add_column("95% interval", justify="right")
    from sim.report.display import format_interval, unit_label

    for name, v in summary["kpis"].items():
        table.add_row(name, unit_label(name), format_kpi(v["mean"], name), format_interval(v["ci95_low"], v["ci95_high"], name))
    Console().print(table)
    Console().print(f"Results in [bold]{where}[/bold]")


def cmd_run(args: argparse.Namespace) -> int:
    from sim.report import write_report
    from sim.runner import write_outputs
    from sim.scenario import differences_from_defaults

    from sim.analysis.windows import parse_window

    scenario = resolve_scenario(args.scenario, args.set, args.replicates, args.seed)
    window = parse_window(args.window, scenario)
    out = Path(args.out) if args.out else Path("results") / scenario.name
    results, wall = run_with_progress(scenario, args.workers, args.quiet, f"{scenario.name}")

    def report(tmp: Path, timeseries, cohorts, summary) -> None:
        write_report(tmp, timeseries, cohorts, summary, differences_from_defaults(scenario),
                     [ev.model_dump(mode="json") for ev in scenario.timeline])

    summary = write_outputs(out, scenario, results, scenario.seed, wall, ["freemium-sim", *args.argv], extra=report,
                            window=window)
    if args.quiet:
        print(out / "report.html")
    else:
        print_summary(summary, out)
        Console().print(f"Report: [bold]{out / 'report.html'}[/bold]")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.file)
    print(f"{args.file}: valid scenario '{scenario.name}' ({scenario.time.start} + {scenario.time.months} months, "
          f"{scenario.market.agents:,} listeners for {scenario.market.population:,.0f} people)")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    rows = parameter_table()
    if args.markdown:
        print("| parameter | default | unit | range | description |\n|---|---|---|---|---|")
        for p in rows:
            rng = "" if p.low is None and p.high is None else f"{p.low if p.low is not None else ''} .. {p.high if p.high is not None else ''}"
            print(f"| `{p.path}` | {p.default} | {p.unit} | {rng} | {p.description} |")
        return 0
    table = Table(title="freemium-sim parameters (defaults)")
    for col in ("parameter", "default", "unit", "range", "description"):
        table.add_column(col, overflow="fold")
    for p in rows:
        rng = "" if p.low is None and p.high is None else f"{p.low if p.low is not None else ''}..{p.high if p.high is not None else ''}"
        table.add_row(p.path, str(p.default), p.unit, rng, p.description)
    Console(width=200).print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="freemium-sim", description="Agent-based simulation of a freemium music-streaming market")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run a scenario and write its results")
    p.add_argument("scenario", help="scenario YAML file")
    add_run_options(p)
    p.add_argument("--out", help="output folder (default: results/<scenario name>/)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check a scenario file (exit 0 if valid, 2 if not)")
    p.add_argument("file")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("params", help="every parameter with its default, unit and description")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table (for docs)")
    p.set_defaults(func=cmd_params)

    for module in _subcommand_modules():
        module.add_parser(sub)
    return parser


def _subcommand_modules() -> list:
    """Modules that register their own subcommands (imported here: they import helpers from this module)."""
    from sim import app
    from sim.analysis import calibration, compare, sensitivity
    from sim.commands import discover, optimize
    from sim.sweep import run as sweep

    return [compare, sweep, sensitivity, calibration, app, discover, optimize]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    args.argv = list(argv)
    try:
        if getattr(args, "workers", None) is not None and args.workers < 1:  # every command that has --workers
            raise ScenarioError(f"--workers: must be at least 1 (got {args.workers})")
        return int(args.func(args) or 0)
    except ScenarioError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
