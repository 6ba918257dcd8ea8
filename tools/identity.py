"""Refactor guard: the SHA-256 of ``timeseries.parquet`` of a small fixed-seed baseline run.

A refactor changes no number. Run this before and after a refactor commit; the digests must
be equal. ``--save`` records the digest in ``.identity`` (ignored by git), ``--check``
compares against it and exits 1 on a difference.

    python tools/identity.py --save     # before
    python tools/identity.py --check    # after
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / ".identity"
# small enough for a few seconds, long enough to cross the baseline's timeline events
SETS = ["market.agents=4000", "replicates=2", "seed=7", "time.months=120"]


def digest() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "identity"
        cmd = [sys.executable, "-m", "sim.cli", "run", "scenarios/baseline.yaml", "--quiet", "--workers", "1",
               "--out", str(out)]
        for s in SETS:
            cmd += ["--set", s]
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        return hashlib.sha256((out / "timeseries.parquet").read_bytes()).hexdigest()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--save", action="store_true")
    p.add_argument("--check", action="store_true")
    args = p.parse_args()
    d = digest()
    print(d)
    if args.save:
        RECORD.write_text(d + "\n")
    if args.check:
        want = RECORD.read_text().strip()
        if d != want:
            print(f"DIFFERENT from the saved {want}", file=sys.stderr)
            return 1
        print("identical to the saved digest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
