"""Command start-up time: ``validate`` and ``params`` against importing numpy + pydantic + yaml.

    .venv/bin/python benchmarks/startup.py [REPEATS]     # default: 5

Each figure is the median wall time of REPEATS fresh interpreters (``python -c`` or
``python -m sim.cli ...``), so it includes Python's own start-up, as a user experiences
it. The goals: ``validate`` and ``params`` within 3x the reference import (issue 11), the
top-level ``--help`` within 1.5x of ``validate`` (issue 22: it imports no command). Prints the
figures and the ratios; asserts nothing.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "import numpy, pydantic, yaml": ["-c", "import numpy, pydantic, yaml"],
    "freemium-sim validate": ["-m", "sim.cli", "validate", "scenarios/baseline.yaml"],
    "freemium-sim params --markdown": ["-m", "sim.cli", "params", "--markdown"],
    "freemium-sim --help (every command)": ["-m", "sim.cli", "--help"],
}


def median_seconds(args: list[str], repeats: int) -> float:
    """Median wall seconds of ``python ARGS`` over ``repeats`` fresh processes."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    results = {name: median_seconds(args, repeats) for name, args in CASES.items()}
    reference = results["import numpy, pydantic, yaml"]
    print(f"median of {repeats} fresh processes")
    for name, seconds in results.items():
        print(f"{name:40s} {seconds:6.3f} s  {seconds / reference:4.1f}x the reference")
    ratio = results["freemium-sim --help (every command)"] / results["freemium-sim validate"]
    print(f"{'--help / validate':40s} {ratio:6.2f}x")


if __name__ == "__main__":
    main()
