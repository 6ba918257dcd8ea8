"""``freemium-sim calibrate CALIBRATION.yaml``: fit scenario parameters to observed KPI series."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sim.commands.common import add_emulator_options, add_executor_options, check_emulator_options, notice, progress_bar


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``freemium-sim calibrate``."""
    p = subparsers.add_parser(
        "calibrate",
        description="Fit scenario parameters to observed KPI series.")
    p.add_argument("calibration_file", metavar="CALIBRATION.yaml", help="calibration file, e.g. scenarios/calibration/spotify.yaml")
    p.add_argument("--trials", type=int, help="parameter sets to evaluate (default: the file's)")
    p.add_argument("--replicates", type=int, help="runs per trial (default: the file's)")
    add_executor_options(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default: results/calibration-<name>/)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or tables; print the output folder")
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE", default=[],
                   help="set a scenario key while fitting, like the file's `overrides` (repeatable)")
    p.add_argument("--method", choices=("optuna", "abc", "emulator"), default="optuna",
                   help="optuna: best fit by TPE (default); abc: posterior by ABC-SMC (pyabc); emulator: posterior "
                        "through a Gaussian-process emulator of the distance (--design, --rounds, --batch)")
    add_emulator_options(p)
    p.add_argument("--population", type=int, default=50, metavar="N", help="abc: particles per generation (default 50)")
    p.add_argument("--generations", type=int, default=4, metavar="G", help="abc: generations (default 4)")
    p.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    from sim.analysis.calibration import calibrate
    from sim.scenario import parse_set_options

    changes = {k: v for k, v in (("trials", args.trials), ("replicates", args.replicates)) if v is not None}
    if args.set:
        changes["set"] = parse_set_options(args.set)
    if args.method in ("abc", "emulator"):
        return _handle_abc(args, changes)
    progress, _ = progress_bar(args.quiet, f"calibrate {Path(args.calibration_file).stem}", None)
    bar = progress.task_ids[0]
    with progress:
        result = calibrate(args.calibration_file, args.out, args.workers, changes,
                           on_trial=lambda done, total: progress.update(bar, completed=done, total=total),
                           executor=args.executor, scheduler=args.scheduler, on_notice=notice)
    if result["top_decile"]["no_trial_beat_start"]:  # --quiet or not
        notice("no trial fit better than the starting values: the fit did not move from the base scenario; "
               "try wider bounds or more trials")
    if args.quiet:
        print(result["out"])
    else:
        print_fit(result)
    return 0


def print_fit(result: dict[str, Any]) -> None:
    """The per-series fit and the fitted parameters as two tables."""

    console = Console()
    check = result["check"]
    series = Table(title=f"{result['calibration']}: fit of the best parameters, {check['replicates']} fresh replicates",
                   caption=f"{check['label']}; MAPE = mean |sim - obs| / obs")
    for col in ("series", "n", "RMSE", "unit", "MAPE", result["distance_measure"]):
        series.add_column(col, justify="left" if col in ("series", "unit") else "right")
    for name, f in result["check"]["series"].items():
        def num(v, fmt):
            return "inf" if v is None else format(v, fmt)
        series.add_row(name, str(f["n"]), num(f["rmse"], ".4g"), f["unit"], num(f["mape_percent"], ".1f") + "%",
                       num(f[result["distance_measure"]], ".4f"))
    console.print(series)
    top = result["top_decile"]
    params = Table(title=f"fitted parameters; low..high over the best {top['trials']} trials", caption=top["label"])
    for col in ("parameter", "best", "low", "median", "high"):
        params.add_column(col, justify="left" if col == "parameter" else "right")
    for path, v in result["best"]["parameters"].items():
        r = result["top_decile"]["parameters"][path]
        cells = [f"{r[k]:.4g}" for k in ("low", "median", "high")] if "low" in r else [str(r["values"]), "", ""]
        params.add_row(path, f"{v:.4g}" if isinstance(v, float) else str(v), *cells)
    console.print(params)
    console.print(f"distance {result['check']['distance']:.4f} (check run); on fitting seeds: best "
                  f"{result['best']['distance_on_fitting_seeds']:.4f}"
                  + (f", base values {result['base_values']['distance_on_fitting_seeds']:.4f}" if result["base_values"] else ""))
    console.print(f"Results in [bold]{result['out']}[/bold]")


def _handle_abc(args: argparse.Namespace, changes: dict[str, Any]) -> int:
    from sim.analysis.emulator import calibrate_abc

    check_emulator_options(args)
    progress, advance = progress_bar(args.quiet, f"{args.method} simulations", None)
    with progress:
        result = calibrate_abc(args.calibration_file, args.out, args.workers, changes, args.population,
                               args.generations, on_simulation=advance, executor=args.executor,
                               scheduler=args.scheduler, on_notice=notice, method=args.method, design=args.design,
                               rounds=args.rounds, batch=args.batch)
    if args.quiet:
        print(result["out"])
    else:
        print_posterior(result)
    return 0


def print_posterior(result: dict[str, Any]) -> None:
    """The credible intervals as a table, the guard's and the start check's notes."""
    console = Console()
    post = result["posterior"]
    size = (f"{result['generations']} generations" if "generations" in result
            else f"emulator of {result['design']} + {result['rounds']} x {result['batch']} points")
    table = Table(title=f"{result['calibration']}: posterior, {post['particles']} particles, "
                        f"{size}, {result['evaluations']} simulations",
                  caption=post["label"])
    for col in ("parameter", "best", "2.5%", "10%", "median", "90%", "97.5%"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for path, r in post["intervals"].items():
        v = result["best"]["parameters"][path]
        cells = [f"{r[k]:.4g}" for k in ("q2.5", "q10", "q50", "q90", "q97.5")] if "q50" in r else [str(r["levels"])] + [""] * 4
        table.add_row(path, f"{v:.4g}" if isinstance(v, float) else str(v), *cells)
    console.print(table)
    console.print(f"tolerance by generation (round): {', '.join(f'{e:.4g}' for e in result['epsilons'])}; "
                  f"best particle distance {result['best']['distance']:.4g}")
    if result["guard"]["dropped"]:
        console.print(f"[yellow]{result['guard']['dropped']} particle(s) left out: {result['guard']['label']} "
                      "(the tolerance has not converged: more generations or particles narrow it)[/yellow]")
    if result["start"].get("note"):
        console.print(f"[yellow]{result['start']['note']}[/yellow]")
    console.print(f"Results in [bold]{result['out']}[/bold]")
