"""The up-front memory estimate (``sim.resources``) against the measured peak of one run.

    .venv/bin/python benchmarks/memory_estimate.py [--sizes 100000 1000000 4000000] [--months 120]

For each size, a fresh process runs the baseline scenario (1 replicate, in process) at that
many listeners and prints its resident set before the model is built and its peak
(``VmHWM`` of ``/proc/self/status``, Linux); the peak less the resident set before is what the run needed beyond the
process that checks it, which ``sim.resources.run_bytes(scenario, workers=1, replicates=1)``
estimates. Prints estimate, measured need, their ratio and the peak; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys
import numpy as np, psutil
from sim.resources import run_bytes
from sim.runner import compile_kernels, simulate
from sim.scenario import apply_overrides, load_scenario
n, months, overrides, loaded = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4] == "loaded"
scenario = apply_overrides(load_scenario("scenarios/baseline.yaml"),
                           {"market.agents": n, "time.months": months, "replicates": 1, **overrides})
if loaded:
    compile_kernels()
before = psutil.Process().memory_info().rss
simulate(scenario, np.random.SeedSequence(1))
# VmHWM, this process's own peak: ru_maxrss keeps the parent's at the fork (a big pytest) across exec
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"before": before, "peak": peak, "estimate": run_bytes(scenario, 1, 1, loaded)}))
"""


def measure(n: int, months: int, overrides: dict | None = None, loaded: bool = False) -> dict:
    """Resident set before the run, peak and estimate (bytes) of one run of ``n`` listeners of the baseline
    (with ``overrides``) in a fresh process.

    The kernels are compiled into numba's cache first, in a process of their own: a cold cache costs
    hundreds of MB once per install, and the peak would be that compile's, not the run's. ``loaded``: the
    process runs a tiny model (``compile_kernels``) before the resident set is read, so numba's runtime
    and the kernels are in it and the need is only what grows with the scenario (``run_bytes(..., loaded=True)``)."""
    subprocess.run([sys.executable, "-c", "from sim.runner import compile_kernels; compile_kernels()"], cwd=ROOT,
                   capture_output=True, check=True)
    args = [str(n), str(months), json.dumps(overrides or {}), "loaded" if loaded else "fresh"]
    out = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000, 2_000_000, 4_000_000])
    parser.add_argument("--months", type=int, default=120)
    args = parser.parse_args()
    print(f"baseline, 1 replicate, 1 worker, {args.months} months")
    print(f"{'listeners':>11} {'estimate GB':>12} {'needed GB':>10} {'est/needed':>10} {'peak RSS GB':>12}")
    for n in args.sizes:
        m = measure(n, args.months)
        need = m["peak"] - m["before"]
        print(f"{n:>11,} {m['estimate'] / 1e9:>12.3f} {need / 1e9:>10.3f} {m['estimate'] / need:>10.2f} {m['peak'] / 1e9:>12.3f}",
              flush=True)


if __name__ == "__main__":
    main()
