"""Refactor guard: the SHA-256 of every column of the tables of two small fixed-seed baseline runs.

The runs: :data:`RUNS`, a monthly one across the baseline's timeline events and a weekly one. Their tables:
``timeseries.parquet`` (its columns by name, as before), ``regions.parquet`` and ``cohorts.parquet`` (named
``<file>/<column>``), the weekly run's prefixed ``week/``.

A refactor changes no number. Run this before and after a refactor commit; every column both runs
have must be equal (a new KPI column adds a column and changes none). ``--save`` records the
digests in ``.identity`` (ignored by git), ``--check`` compares the columns both runs have against
it and exits 1 on a difference, naming the columns that differ; a column the saved run had and this
one lacks is a difference too (columns are extended, never removed).

    python tools/identity.py --save     # before
    python tools/identity.py --check    # after
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / ".identity"
# name -> the run's --set options: small enough for a few seconds, long enough to cross the baseline's timeline events
RUNS = {"": ["market.agents=4000", "replicates=2", "seed=7", "time.months=120"],
        "week/": ["market.agents=2000", "replicates=1", "seed=3", "time.months=30", "time.step=week"]}
TABLES = ("timeseries.parquet", "regions.parquet", "cohorts.parquet")


def column_digests(table: pd.DataFrame) -> dict[str, str]:
    """SHA-256 of each column's values (its dtype and bytes, in row order)."""
    out = {}
    for name in table.columns:
        values = table[name].to_numpy()
        raw = values.astype(str).tobytes() if values.dtype == object else values.tobytes()
        out[str(name)] = hashlib.sha256(str(values.dtype).encode() + raw).hexdigest()
    return out


def digests() -> dict[str, str]:
    """The column digests of every table of every run of :data:`RUNS` (names as in the module docstring)."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, (run, sets) in enumerate(RUNS.items()):
            folder = Path(tmp) / f"run{k}"
            cmd = [sys.executable, "-m", "sim.cli", "run", "scenarios/baseline.yaml", "--quiet", "--workers", "1",
                   "--out", str(folder)]
            for s in sets:
                cmd += ["--set", s]
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"the baseline run {' '.join(sets)} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
            for table in TABLES:
                prefix = run + ("" if table == "timeseries.parquet" else f"{table}/")
                out |= {prefix + name: d for name, d in column_digests(pd.read_parquet(folder / table)).items()}
    return out


def compare(saved: dict[str, str], now: dict[str, str]) -> list[str]:
    """Lines naming the saved columns that differ or are missing now; empty when every shared column is equal."""
    problems = [f"{name}: different" for name in saved if name in now and now[name] != saved[name]]
    problems += [f"{name}: missing" for name in saved if name not in now]
    return problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--save", action="store_true")
    p.add_argument("--check", action="store_true")
    args = p.parse_args()
    now = digests()
    print(hashlib.sha256(json.dumps(now, sort_keys=True).encode()).hexdigest(), f"({len(now)} columns)")
    if args.save:
        RECORD.write_text(json.dumps(now, indent=1) + "\n")
    if args.check:
        saved = json.loads(RECORD.read_text())
        problems = compare(saved, now)
        if problems:
            print("DIFFERENT from the saved run:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        added = sorted(set(now) - set(saved))
        shown = ", ".join(added[:5]) + (f" and {len(added) - 5} more" if len(added) > 5 else "")
        print(f"identical to the saved run in its {len(saved)} columns" + (f"; new: {shown}" if added else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
