"""``freemium-sim backtest CALIBRATION.yaml --until YYYY-MM``: the command line of ``sim.analysis.backtest``."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from sim.commands.common import add_emulator_options, add_executor_options, check_emulator_options, notice, progress_bar


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``freemium-sim backtest``."""
    p = subparsers.add_parser(
        "backtest",
        description="Fit CALIBRATION.yaml (ABC-SMC or a Gaussian-process emulator) on the observations that end by --until, "
                    "forecast the later ones with posterior-predictive intervals, and write "
                    "backtest.json (MAPE, bias, 80%%/95%% coverage per series) and fan figures.")
    p.add_argument("calibration_file", metavar="CALIBRATION.yaml", help="calibration file, e.g. scenarios/calibration/spotify.yaml")
    p.add_argument("--until", required=True, metavar="YYYY-MM", help="last month of the fitted data")
    p.add_argument("--method", choices=("abc", "emulator"), default="abc",
                   help="abc: ABC-SMC (--population, --generations); emulator: a Gaussian-process emulator of the "
                        "distance (--design, --rounds, --batch); default abc")
    p.add_argument("--discrepancy", choices=("random-walk", "none"), default="random-walk",
                   help="random-walk: widen and shift the forecast by the model's structural error, a random walk of "
                        "log(observed / model) fitted to the observations up to --until (sim.analysis.discrepancy); "
                        "none: the posterior-predictive draws alone; default random-walk")
    add_emulator_options(p)
    p.add_argument("--population", type=int, default=50, metavar="N", help="particles per ABC generation (default 50)")
    p.add_argument("--generations", type=int, default=4, metavar="G", help="ABC generations (default 4)")
    p.add_argument("--draws", type=int, default=40, metavar="K", help="posterior-predictive runs (default 40)")
    p.add_argument("--replicates", type=int, help="runs per particle (default: the file's)")
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE", default=[],
                   help="set a scenario key, like the calibration's `overrides` (repeatable)")
    add_executor_options(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default: results/backtest-<name>-<until>/)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or table; print the output folder")
    p.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    from sim.analysis.backtest import backtest
    from sim.scenario import ScenarioError, parse_set_options

    if args.draws < 2:
        raise ScenarioError(f"--draws: needs at least 2 runs for an interval (got {args.draws})")
    check_emulator_options(args)
    changes = {"replicates": args.replicates} if args.replicates is not None else {}
    if args.set:
        changes["set"] = parse_set_options(args.set)
    progress, advance = progress_bar(args.quiet, "backtest simulations", None)
    with progress:
        result = backtest(args.calibration_file, args.until, args.out, args.workers, changes, args.population,
                          args.generations, args.draws, on_simulation=advance, executor=args.executor,
                          scheduler=args.scheduler, on_notice=notice, method=args.method, design=args.design,
                          rounds=args.rounds, batch=args.batch, discrepancy=args.discrepancy)
    if args.quiet:
        print(result["out"])
    else:
        print_backtest(result)
    return 0


def print_backtest(result: dict) -> None:
    """Held-out and in-sample scores per series as one table."""
    table = Table(title=f"{result['calibration']}: fitted to {result['until']}, forecast after "
                        f"({result['evaluations']} fitting simulations)", caption=result["measures"])
    for col in ("series", "unit", "n held out", "MAPE", "bias", "80% cover", "95% cover", "80% cover, model alone",
                "in-sample MAPE"):
        table.add_column(col, justify="left" if col in ("series", "unit") else "right")

    def cell(v, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    for name, s in result["series"].items():
        f, i, m = s["forecast"], s["fitted"], s["model_alone"]
        table.add_row(name, s["unit"], str(f["n"]), cell(f["mape_percent"], ".1f") + "%", cell(f["bias"], ".4g"),
                      cell(f["coverage80"], ".0%"), cell(f["coverage95"], ".0%"), cell(m["coverage80"], ".0%"),
                      cell(i["mape_percent"], ".1f") + "%")
    console = Console()
    console.print(table)
    if result["start"].get("note"):
        console.print(f"[yellow]{result['start']['note']}[/yellow]")
    console.print(f"Results in [bold]{result['out']}[/bold]")
