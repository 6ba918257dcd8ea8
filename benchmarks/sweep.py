"""Sweep throughput: runs per minute of one small sweep on each executor, and of many small runs.

    .venv/bin/python benchmarks/sweep.py [SWEEP.yaml]     # default: scenarios/sweeps/smoke.yaml

Runs the whole sweep from scratch (into a temporary folder) with the local process
pool at 1 and 2 workers and with a 2-worker Dask LocalCluster, and prints wall time,
runs per minute and the share of worker time spent simulating (the rest is start-up,
pickling, the store's fsync'd writes and idle tails). Wall time includes starting the
workers, as a user experiences it.

Then the throughput of many small runs, the load of a calibration or a sensitivity study:
the same sweep's parameters over 120 runs (60 points x 2 replicates) of 20,000 listeners for
72 months, on 2 local workers (``runs/min`` as above), with the machine's load average over the
last minute before and after it (a shared machine's neighbours slow it). Prints figures only;
asserts nothing.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

from sim.sweep.run import run_sweep

CONFIGS = (("local", 1), ("local", 2), ("dask", 2))
SMALL_RUNS = {"market.agents": 20_000, "time.months": 72}  # the throughput sweep's runs
SMALL_POINTS, SMALL_WORKERS = 60, 2  # x 2 replicates: 120 runs


def measure(sweep: Path, executor: str, workers: int) -> tuple[float, int, float]:
    """(wall seconds, runs, seconds spent inside runs summed over runs) of one fresh sweep."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        runs = run_sweep(sweep, executor=executor, workers=workers, out=out)
        wall = time.perf_counter() - start
    return wall, len(runs), float(runs["seconds"].sum())


def small_runs_sweep(sweep: Path, folder: Path) -> Path:
    """A copy of ``sweep`` in ``folder`` with :data:`SMALL_RUNS` and :data:`SMALL_POINTS` points of 2 replicates."""
    spec = yaml.safe_load(sweep.read_text())
    spec["base"] = str((sweep.parent / spec["base"]).resolve())
    spec["overrides"] = {**spec.get("overrides", {}), **SMALL_RUNS}
    spec["replicates"] = 2
    spec["design"] = {"kind": "lhs", "n": SMALL_POINTS}
    path = folder / "throughput.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def main(argv: list[str]) -> None:
    sweep = Path(argv[0] if argv else "scenarios/sweeps/smoke.yaml")
    print(f"sweep throughput of {sweep}")
    print(f"{'executor':<10}{'workers':>8}{'runs':>6}{'wall s':>9}{'runs/min':>10}{'busy':>7}")
    for executor, workers in CONFIGS:
        wall, n, busy = measure(sweep, executor, workers)
        print(f"{executor:<10}{workers:>8}{n:>6}{wall:>9.1f}{60 * n / wall:>10.1f}{busy / (wall * workers):>7.0%}")
    with tempfile.TemporaryDirectory() as folder:
        load = os.getloadavg()[0]
        wall, n, busy = measure(small_runs_sweep(sweep, Path(folder)), "local", SMALL_WORKERS)
    print(f"throughput: {n} runs of {SMALL_RUNS['market.agents']:,} listeners x {SMALL_RUNS['time.months']} months on "
          f"{SMALL_WORKERS} local workers: {wall:.1f} s, {60 * n / wall:.0f} runs/min ({busy / (wall * SMALL_WORKERS):.0%} busy; "
          f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main(sys.argv[1:])
