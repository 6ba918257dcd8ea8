"""Sweep throughput: runs per minute of one small sweep on each executor.

    .venv/bin/python benchmarks/sweep.py [SWEEP.yaml]     # default: scenarios/sweeps/smoke.yaml

Runs the whole sweep from scratch (into a temporary folder) with the local process
pool at 1 and 2 workers and with a 2-worker Dask LocalCluster, and prints wall time,
runs per minute and the share of worker time spent simulating (the rest is start-up,
pickling, the store's fsync'd writes and idle tails). Wall time includes starting the
workers, as a user experiences it. Prints figures only; asserts nothing.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from sim.sweep.run import run_sweep

CONFIGS = (("local", 1), ("local", 2), ("dask", 2))


def measure(sweep: Path, executor: str, workers: int) -> tuple[float, int, float]:
    """(wall seconds, runs, seconds spent inside runs summed over runs) of one fresh sweep."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        runs = run_sweep(sweep, executor=executor, workers=workers, out=out)
        wall = time.perf_counter() - start
    return wall, len(runs), float(runs["seconds"].sum())


def main(argv: list[str]) -> None:
    sweep = Path(argv[0] if argv else "scenarios/sweeps/smoke.yaml")
    print(f"sweep throughput of {sweep}")
    print(f"{'executor':<10}{'workers':>8}{'runs':>6}{'wall s':>9}{'runs/min':>10}{'busy':>7}")
    for executor, workers in CONFIGS:
        wall, n, busy = measure(sweep, executor, workers)
        print(f"{executor:<10}{workers:>8}{n:>6}{wall:>9.1f}{60 * n / wall:>10.1f}{busy / (wall * workers):>7.0%}")


if __name__ == "__main__":
    main(sys.argv[1:])
