"""Errors the command line turns into one message and an exit status, never a traceback.

``UserError`` and its subclasses are mistakes or conditions the user can fix (exit 2):
a bad scenario, sweep or calibration file (``ScenarioError``), a folder another process
is writing (``LockError``), an executor that cannot start or connect (``ExecutorError``).
``WorkerLost`` is not the user's fault: worker processes died and their runs could not
be finished (exit 1). ``Terminated`` is a SIGTERM, unwound like Ctrl-C (exit 143).
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in user input or setup. ``str(error)`` is the whole message; the CLI exits 2."""

    exit_code = 2


class LockError(UserError):
    """Another freemium-sim process is writing to the same output folder."""


class ExecutorError(UserError):
    """The executor cannot start or reach its workers (e.g. an unreachable Dask scheduler)."""


class WorkerLost(RuntimeError):
    """Worker processes died (killed, out of memory) and their runs could not be finished."""


class Terminated(KeyboardInterrupt):
    """The command was sent SIGTERM (``kill``, a job scheduler's stop): it unwinds as Ctrl-C does, ending its
    workers and keeping what it recorded (a KeyboardInterrupt, so every ``except KeyboardInterrupt`` applies)."""
