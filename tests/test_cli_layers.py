"""The command layer is thin: the domain never imports it, and a quick command imports only what it needs."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT

DOMAIN = ["sim.runner", "sim.executors", "sim.analysis.compare", "sim.analysis.calibration",
          "sim.analysis.sensitivity", "sim.sweep.run", "sim.app", "sim.report"]
HEAVY = ["optuna", "SALib", "matplotlib", "mesa", "PIL", "distributed"]


def loaded_after(code: str) -> set[str]:
    """Top-level names of the modules loaded in a fresh interpreter after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return set(out.splitlines()[-1].split())


def test_the_domain_never_imports_the_command_layer():
    loaded = loaded_after("".join(f"import {m}\n" for m in DOMAIN))
    assert not {m for m in loaded if m == "sim.cli" or m.startswith("sim.commands")}


def test_validate_and_params_load_no_heavy_library():
    for args in ("['validate', 'scenarios/baseline.yaml']", "['params', '--markdown']"):
        loaded = loaded_after(f"from sim.cli import main\nimport contextlib, io\n"
                              f"with contextlib.redirect_stdout(io.StringIO()):\n    assert main({args}) == 0")
        assert not {m.split(".")[0] for m in loaded} & set(HEAVY), args


def test_the_top_level_help_imports_no_command_and_no_numerics():
    loaded = loaded_after("from sim.cli import main\nimport contextlib, io\n"
                          "with contextlib.redirect_stdout(io.StringIO()):\n"
                          "    try:\n        main(['--help'])\n    except SystemExit as done:\n        assert done.code == 0")
    assert not {m for m in loaded if m.startswith("sim.commands.")}
    assert not {m.split(".")[0] for m in loaded} & {*HEAVY, "numpy", "pandas", "numba", "pydantic"}


def test_every_listed_command_registers_itself_with_its_summary():
    """Each command of the top-level help (``COMMANDS``) registers itself, with a description and a handler."""
    from sim.cli import COMMANDS, build_parser

    for name in COMMANDS:
        sub = build_parser(name)._subparsers._group_actions[0]
        assert list(sub.choices) == [name]
        assert sub.choices[name].description and callable(sub.choices[name].get_default("func")), name
