"""A stop (Ctrl-C, SIGTERM) ends a command with one line and the shell's status, wherever it lands."""

from __future__ import annotations

import argparse

import pytest

import sim.cli
from sim.errors import Terminated


def _command(monkeypatch: pytest.MonkeyPatch, body) -> None:
    """Make every command line run ``body`` (the parser is the real one's shape: a ``func`` taking the args)."""
    parser = argparse.ArgumentParser()
    parser.set_defaults(func=lambda args: body())
    monkeypatch.setattr(sim.cli, "build_parser", lambda command=None: parser)


def _fails_while_stopping(stop: KeyboardInterrupt):
    """A library's clean-up that breaks while the stop unwinds through it (Optuna's ``tell`` raised an
    UnboundLocalError from its ``finally`` when SIGTERM landed inside it)."""
    def body():
        try:
            raise stop
        finally:
            raise UnboundLocalError("cannot access local variable 'updated_state'")
    return body


@pytest.mark.parametrize("stop, status, line", [(Terminated(), 143, "terminated"), (KeyboardInterrupt(), 130, "interrupted")])
def test_a_stop_that_breaks_a_library_on_its_way_out_is_still_the_stop(monkeypatch, capsys, stop, status, line):
    _command(monkeypatch, _fails_while_stopping(stop))
    assert sim.cli.main([]) == status
    err = capsys.readouterr().err
    assert err.strip() == line and "Traceback" not in err


def test_an_error_with_no_stop_behind_it_is_not_taken_for_one(monkeypatch):
    def body():
        try:
            raise ValueError("handled")
        except ValueError:
            raise UnboundLocalError("a real bug") from None
    _command(monkeypatch, body)
    with pytest.raises(UnboundLocalError, match="a real bug"):
        sim.cli.main([])
