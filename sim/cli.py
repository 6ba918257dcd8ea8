"""The ``freemium-sim`` command: parse the command line, run one subcommand, turn errors into exit codes.

Each subcommand lives in its own module under ``sim.commands`` with an
``add_parser(subparsers)`` that sets ``func=<handler>``. Only the module of the
subcommand asked for is imported (none for the top-level help or an unknown name, which
list the names and summaries of :data:`COMMANDS`), so ``validate`` does not pay for optuna,
SALib or matplotlib, and ``--help`` not for any command's work. A user error
(``sim.errors.UserError``) prints one message and exits 2; Ctrl-C exits 130, SIGTERM 143.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sim.errors import ExecutorError, Terminated, UserError, WorkerLost


#: Subcommand name -> (the module that registers it, its one-line summary), in the order of the help.
#: A new subcommand: a module ``sim/commands/<name>.py`` with ``add_parser``, and one line here.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("sim.commands.run", "run a scenario and write its results"),
    "validate": ("sim.commands.validate", "check a scenario file (exit 0 if valid, 2 if not)"),
    "params": ("sim.commands.params", "every parameter with its default, unit and description"),
    "compare": ("sim.commands.compare", "paired comparison of scenarios (or one and a --set what-if)"),
    "sweep": ("sim.commands.sweep", "run every design point x replicate of a sweep file (resumable)"),
    "sensitivity": ("sim.commands.sensitivity", "sensitivity indices of the KPIs of a finished sweep (any design)"),
    "calibrate": ("sim.commands.calibrate", "fit scenario parameters to observed KPI series (optuna TPE)"),
    "dashboard": ("sim.commands.dashboard", "start the teaching dashboard (a local web page)"),
    "classroom": ("sim.commands.classroom", "start the market game: every team of students runs a service"),
    "backtest": ("sim.commands.backtest", "fit a calibration on data up to a month, forecast the rest, score it"),
    "discover": ("sim.commands.discover", "which combinations of swept parameters lead to an outcome (PRIM, CART)"),
    "optimize": ("sim.commands.optimize", "search the levers for good policies (optuna; NSGA-II for several objectives)"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with ``command``'s subparser only (its module imported), or, when ``command`` is not one
    (the top-level help, an unknown name), every subcommand's name and summary without importing any."""
    parser = argparse.ArgumentParser(prog="freemium-sim", description="Agent-based simulation of a freemium music-streaming market")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if command in COMMANDS:
        module, summary = COMMANDS[command]
        importlib.import_module(module).add_parser(sub)
        named = sub.choices[command]
        named.description = named.description or summary
        return parser
    for name, (_, summary) in COMMANDS.items():
        sub.add_parser(name, help=summary)
    return parser


def _command_name(argv: list[str]) -> str | None:
    """The subcommand named in ``argv``: its first word that is not an option (the top level takes no values)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        with _sigterm_unwinds():
            _check_encoding(argv)
            args = build_parser(_command_name(argv)).parse_args(argv)
            args.argv = list(argv)
            _check_executor_options(args)
            return int(args.func(args) or 0)
    except KeyboardInterrupt as stop:
        return _stopped(stop)
    except Exception as exc:
        stop = _stop_behind(exc)
        if stop is not None:
            return _stopped(stop)
        if isinstance(exc, UserError):
            _say(f"[red]error:[/red] {exc}")
            return exc.exit_code
        if isinstance(exc, OSError):  # the machine's fault (a full disk) or the file system's refusal: never a traceback
            _say(f"[red]error:[/red] {_os_error(exc)}")
            return 1 if exc.errno in MACHINE_FAULTS else 2
        if isinstance(exc, WorkerLost):
            _say(f"[red]error:[/red] {exc}")
            return 1
        raise


def _stopped(stop: KeyboardInterrupt) -> int:
    """One line and the shell's status for a stop: 143 for SIGTERM, 130 for Ctrl-C."""
    if isinstance(stop, Terminated):
        _say("terminated")
        return 128 + signal.SIGTERM
    _say("interrupted")
    return 130


def _stop_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM that ``exc`` was raised while handling, if any. A stop can land inside a library's
    own clean-up (Optuna's ``tell`` then fails with an UnboundLocalError); that error is the stop, not a bug."""
    seen: set[int] = set()
    cause = exc.__context__
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return cause
        seen.add(id(cause))
        cause = cause.__context__
    return None


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Turn a SIGTERM during the block into :class:`~sim.errors.Terminated`, so the command unwinds as on Ctrl-C
    (its worker pool shut down, a study or sweep kept to resume) instead of dying at once, which left the pool's
    semaphores to multiprocessing's resource tracker and its "leaked semaphore" warning. Only in the main thread
    (where Python runs signal handlers); the previous handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signum: int, frame: Any) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


MACHINE_FAULTS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.ENOMEM}  # exit 1: not the user's doing


def _os_error(exc: OSError) -> str:
    """One line for an OSError: the file, what went wrong, and for a full disk that the earlier result is kept."""
    where = f"{exc.filename}: " if exc.filename else ""
    what = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"{where}{what} while writing; nothing half-written was kept (an earlier result in the folder is "
                "unchanged): free some space and run the command again")
    return f"{where}{what}"


def _check_encoding(argv: list[str]) -> None:
    """Refuse (UserError) an argument holding bytes that are not UTF-8 (Python keeps them as lone surrogates,
    which fail only when written, after the simulation): name it, with the bad bytes escaped."""
    for k, arg in enumerate(argv):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
            option = f"{argv[k - 1]}: " if k and argv[k - 1].startswith("-") else ""
            raise UserError(f"{option}'{shown[:200]}' is not valid UTF-8; name files and folders in UTF-8") from None


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
