"""What several subcommands share: run options, scenario resolution, progress bars."""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


def add_executor_options(p: argparse.ArgumentParser) -> None:
    """Where the runs execute: the same options for every command that runs the model."""
    p.add_argument("--executor", choices=["local", "dask"], default="local",
                   help="local worker processes (default) or a Dask cluster")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="Dask scheduler address (with --executor dask; default: a local Dask cluster)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes (default: every core; 1 runs in this process)")


#: The emulator's options (calibrate and backtest --method emulator): flag, default, metavar, least, what it sets.
EMULATOR_OPTIONS = (("--design", 96, "N", 4, "Latin-hypercube points"), ("--rounds", 2, "R", 0, "refinement rounds"),
                    ("--batch", 32, "B", 1, "points per round"))


def add_emulator_options(p: argparse.ArgumentParser) -> None:
    """--design, --rounds and --batch of ``--method emulator`` (:data:`EMULATOR_OPTIONS`)."""
    for flag, default, metavar, _, what in EMULATOR_OPTIONS:
        p.add_argument(flag, type=int, default=default, metavar=metavar, help=f"emulator: {what} (default {default})")


def check_emulator_options(args: argparse.Namespace) -> None:
    """Refuse (ScenarioError, exit 2) an emulator option below its least value, naming the flag."""
    from sim.scenario import ScenarioError

    for flag, _, _, least, _ in EMULATOR_OPTIONS:
        value = getattr(args, flag.removeprefix("--"))
        if value < least:
            raise ScenarioError(f"{flag}: needs at least {least} (got {value})")


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that runs replicates of scenarios (run, compare)."""
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE", default=[],
                   help="override a scenario value, e.g. services.focal.ad_load=3 (repeatable)")
    p.add_argument("--replicates", type=int, help="replicates (default: the scenario's)")
    p.add_argument("--seed", type=int, help="root seed (default: the scenario's)")
    add_executor_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar or table (for scripts)")
    p.add_argument("--window", metavar="YYYY-MM:YYYY-MM",
                   help="months the cumulative and mean KPIs cover (both included; default: the whole horizon)")


def notice(message: str) -> None:
    """A warning the user should see, e.g. that a worker died and its runs start again."""
    console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


def executor_for(args: argparse.Namespace, max_tasks: int | None = None):
    """The executor the command line asks for (``--executor``, ``--scheduler``, ``--workers``)."""
    from sim.executors import make_executor

    return make_executor(args.executor, scheduler=args.scheduler, n_workers=args.workers, max_tasks=max_tasks,
                         on_notice=notice)


def resolve_scenario(path: str, sets: list[str], replicates: int | None = None, seed: int | None = None):
    """Load a scenario file, apply ``--set`` overrides and the run options."""
    from sim.scenario import apply_overrides, load_scenario, parse_set_options

    scenario = load_scenario(path)
    overrides = parse_set_options(sets)
    if overrides:
        scenario = apply_overrides(scenario, overrides, source=f"{path}: --set")
    for flag, value in (("replicates", replicates), ("seed", seed)):
        if value is not None:  # a bad value is reported as the flag's, not as a --set
            scenario = apply_overrides(scenario, {flag: value}, source=f"--{flag}")
    return scenario


def progress_bar(quiet: bool, description: str, total: int):
    """A rich progress bar over ``total`` units (replicates x steps), or a no-op when quiet."""
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console,
                        disable=quiet, transient=False)
    task = progress.add_task(description, total=total)
    return progress, (lambda k: progress.advance(task, k))


def run_with_progress(scenario, executor, quiet: bool, label: str):
    """Run the scenario's replicates on a running executor with a progress bar; returns (results, wall seconds)."""
    from sim.clock import Clock
    from sim.runner import run_replicates

    steps = Clock.of(scenario).n_steps
    progress, advance = progress_bar(quiet, label, scenario.replicates * steps)
    start = time.perf_counter()
    with progress:
        results = run_replicates(scenario, scenario.replicates, scenario.seed, progress=advance, executor=executor)
    return results, time.perf_counter() - start
