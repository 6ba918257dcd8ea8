"""Memory of a worker process that runs many replicates: resident set after 1 and after 40 runs.

Does what a sweep worker, a calibration or the dashboard's Reset does: run small models
one after another in one process. With Mesa 3.3's agent-id registry every model stayed
alive (about +20 MB per 100k-listener model); with the workaround in
``sim/agents/mesa_ids.py`` the RSS stays flat after the first runs warm the caches.

    .venv/bin/python benchmarks/memory.py [--listeners 20000] [--months 12] [--runs 40]

Prints the RSS (MiB) after the first run and after the last, and the live MarketModel
objects; asserts nothing.
"""

from __future__ import annotations

import argparse
import gc

import numpy as np
import psutil

from sim.model import MarketModel
from sim.runner import simulate
from sim.scenario import apply_overrides, load_scenario


def rss_mib() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    scenario = apply_overrides(load_scenario("scenarios/baseline.yaml"),
                               {"market.agents": args.listeners, "time.months": args.months})
    seeds = np.random.SeedSequence(1).spawn(args.runs)
    print(f"{args.listeners:,} listeners x {args.months} months per run")
    print(f"RSS before any run: {rss_mib():8.1f} MiB")
    simulate(scenario, seeds[0])
    first = rss_mib()
    print(f"RSS after 1 run:    {first:8.1f} MiB")
    for s in seeds[1:]:
        simulate(scenario, s)
    last = rss_mib()
    live = sum(isinstance(o, MarketModel) for o in gc.get_objects())
    print(f"RSS after {args.runs} runs: {last:8.1f} MiB  ({(last - first) / max(args.runs - 1, 1):+.2f} MiB per run)")
    print(f"MarketModel objects alive: {live}")


if __name__ == "__main__":
    main()
