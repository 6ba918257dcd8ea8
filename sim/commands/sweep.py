"""``freemium-sim sweep SWEEP.yaml``: run every design point x replicate of a sweep file, resumably."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sim.commands.common import add_executor_options, notice
from sim.errors import WorkerLost


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``freemium-sim sweep``."""
    p = subparsers.add_parser(
        "sweep",
        description="Run every design point x replicate of a sweep file into OUT/runs.parquet. "
                    "Killed or interrupted, the same command resumes: recorded runs are not run again.")
    p.add_argument("sweep_file", metavar="SWEEP.yaml", help="sweep file, e.g. scenarios/sweeps/smoke.yaml")
    add_executor_options(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default: results/sweep-<name>/)")
    p.add_argument("--retry-failed", action="store_true", help="rerun the runs recorded as failed")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    """Exit status: 0 all runs ok, 1 some failed or a worker died (rerun to resume); bad input raises (exit 2)."""
    from sim.sweep.run import run_sweep

    console = Console(quiet=args.quiet, stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("[green]{task.fields[ok]} ok[/] [red]{task.fields[failed]} failed[/]"),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    progress = Progress(*columns, console=console)
    bar = progress.add_task("runs", total=None, ok=0, failed=0)
    plans = []

    def start(plan) -> None:
        plans.append(plan)
        console.print(f"sweep [bold]{plan.name}[/]: {plan.points} points x {plan.replicates} replicates = "
                      f"{plan.total} runs; {plan.total - plan.to_run} recorded, {plan.to_run} to run -> {plan.root}")
        progress.update(bar, total=plan.to_run)
        progress.start()

    def recorded(record: dict) -> None:
        ok = record["status"] == "ok"
        fields = progress.tasks[0].fields
        progress.update(bar, advance=1, ok=fields["ok"] + ok, failed=fields["failed"] + (not ok))

    try:
        runs = run_sweep(args.sweep_file, executor=args.executor, scheduler=args.scheduler, workers=args.workers,
                         out=args.out, retry_failed=args.retry_failed, on_start=start, on_run=recorded,
                         on_notice=notice)
    except WorkerLost as exc:
        notice(f"{exc}; the recorded runs are kept: rerun the same command to resume")
        return 1
    finally:
        progress.stop()
    failed = runs["status"].eq("failed").sum()
    console.print(f"{len(runs)} of {plans[0].total} runs recorded in {plans[0].runs_path}")
    if failed:  # a warning, shown with --quiet too
        notice(f"{failed} of {len(runs)} runs failed (see the error column of {plans[0].runs_path}; rerun with --retry-failed)")
    return int(failed > 0)
