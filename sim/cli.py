"""The ``freemium-sim`` command: parse the command line, run one subcommand, turn errors into exit codes.

Each subcommand lives in its own module under ``sim.commands`` with an
``add_parser(subparsers)`` that sets ``func=<handler>``. Only the module of the
subcommand asked for is imported (all of them for the top-level help or an unknown
name), so ``validate`` does not pay for optuna, SALib or matplotlib. A user error
(``sim.errors.UserError``) prints one message and exits 2; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from sim.errors import ExecutorError, UserError, WorkerLost


def _subcommand_modules() -> dict[str, str]:
    """Subcommand name -> the module that registers it, in the order of the help.

    A new subcommand: a module ``sim/commands/<name>.py`` with ``add_parser``, and one line here.
    """
    return {
        "run": "sim.commands.run",
        "validate": "sim.commands.validate",
        "params": "sim.commands.params",
        "compare": "sim.commands.compare",
        "sweep": "sim.commands.sweep",
        "sensitivity": "sim.commands.sensitivity",
        "calibrate": "sim.commands.calibrate",
        "dashboard": "sim.commands.dashboard",
        "classroom": "sim.commands.classroom",
        "backtest": "sim.commands.backtest",
        "discover": "sim.commands.discover",
        "optimize": "sim.commands.optimize",
    }


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with ``command``'s subparser only, or with every subcommand's when ``command`` is not one."""
    parser = argparse.ArgumentParser(prog="freemium-sim", description="Agent-based simulation of a freemium music-streaming market")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = _subcommand_modules()
    for name in [command] if command in modules else modules:
        importlib.import_module(modules[name]).add_parser(sub)
    return parser


def _command_name(argv: list[str]) -> str | None:
    """The subcommand named in ``argv``: its first word that is not an option (the top level takes no values)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser(_command_name(argv)).parse_args(argv)
        args.argv = list(argv)
        _check_executor_options(args)
        return int(args.func(args) or 0)
    except UserError as exc:
        _say(f"[red]error:[/red] {exc}")
        return exc.exit_code
    except WorkerLost as exc:
        _say(f"[red]error:[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        _say("interrupted")
        return 130


def _check_executor_options(args: argparse.Namespace) -> None:
    """The checks of ``--workers`` and ``--scheduler``, for every command that has them."""
    if getattr(args, "workers", None) is not None and args.workers < 1:
        raise UserError(f"--workers: must be at least 1 (got {args.workers})")
    if getattr(args, "scheduler", None) and args.executor != "dask":
        raise ExecutorError("--scheduler: names a Dask scheduler; add --executor dask")


def _say(message: str) -> None:
    """One line on stderr (rich markup)."""
    from rich.console import Console  # here: `--help` needs no console

    Console(stderr=True).print(message, highlight=False, soft_wrap=True)


if __name__ == "__main__":
    sys.exit(main())
