"""``freemium-sim optimize OPT.yaml [--out DIR]``: search the levers for good policies (resumable)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sim.commands.common import add_executor_options, notice
from sim.metrics import format_kpi
from sim.report.display import format_interval


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``freemium-sim optimize``."""
    p = subparsers.add_parser(
        "optimize",
        description="Search scenario levers (paths with ranges, optionally from a month) for policies that maximise "
                    "or minimise objectives under constraints, every policy on the same replicate seeds. Writes "
                    "pareto.csv, trials.csv, figures/pareto.png and policies/*.yaml (ready `extends:` scenarios). "
                    "Killed or interrupted, the same command resumes from OUT/study.db.")
    p.add_argument("file", metavar="OPT.yaml", help="optimisation file, e.g. scenarios/optimize/price_ads.yaml")
    p.add_argument("--out", metavar="DIR", help="output folder (default: results/optimize-<name>/)")
    add_executor_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar or table; print the output folder")
    p.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    from sim.analysis.optimize import model_evaluator, prepare_folder, search, write_outputs
    from sim.analysis.optimize_spec import load_optimization
    from sim.outputs import writer_lock

    opt = load_optimization(args.file)
    out = Path(args.out) if args.out else Path("results") / f"optimize-{opt.spec.name}"
    prepare_folder(opt, out, notice)
    console = Console(stderr=True, quiet=args.quiet)
    for w in opt.warnings:  # --quiet drops the progress and the table, never a warning
        notice(w)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    with writer_lock(out):  # one search at a time in a folder
        with Progress(*columns, console=console, disable=args.quiet) as progress:
            bar = progress.add_task(f"optimize {opt.spec.name}", total=opt.spec.trials)
            with model_evaluator(opt, args.workers, args.executor, args.scheduler, notice) as evaluate:
                study = search(opt, out, evaluate, on_trial=lambda n: progress.update(bar, completed=n), notice=notice)
        result = write_outputs(opt, out, study)
    if not result["pareto"]:
        notice(f"no policy of {result['trials']} met the constraints (see trials.csv); widen the levers' ranges or "
               "relax the constraints")
    if args.quiet:
        print(out)
        return 0
    table = Table(title=f"{len(result['pareto'])} Pareto policies of {result['trials']} tried "
                        f"({opt.spec.replicates} replicates each, mean and 95% interval)")
    levers = list(opt.spec.levers)
    for col in ("#", *levers, *(o.key for o in opt.spec.objectives)):
        table.add_column(col, justify="right", overflow="fold")
    for k, row in enumerate(result["pareto"], start=1):
        cells = []
        for o in opt.spec.objectives:
            unit_of = f"cumulative_{o.column}" if o.agg == "cumulative" else o.column
            interval = format_interval(row[o.key + "_ci95_low"], row[o.key + "_ci95_high"], unit_of)
            cells.append(f"{format_kpi(row[o.key + '_mean'], unit_of)} ({interval})")
        table.add_row(str(k), *(f"{row[p]:.4g}" for p in levers), *cells)
    wide = Console() if sys.stdout.isatty() else Console(width=200)  # piped: no width of its own
    wide.print(table)
    wide.print(f"Results in [bold]{out}[/bold] (pareto.csv, policies/, figures/pareto.png)")
    return 0
