"""Seconds per monthly step and bytes per listener, for 1e4, 1e5 and 1e6 listeners.

Two configurations: the foundation's mechanisms only (diffusion, choice, listening) and
every mechanism on (ads, personalisation, service quality, campaigns, competition).
Prints figures; asserts nothing (timings depend on the machine).

    .venv/bin/python benchmarks/step.py [--sizes 10000 100000 1000000] [--steps 6]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

import psutil

from sim.model import MarketModel
from sim.scenario import apply_overrides, load_scenario

MECHANISMS = ("ads", "personalization", "service_quality", "campaigns", "competition")


def scenario_for(agents: int, all_mechanisms: bool):
    scenario = load_scenario("scenarios/baseline.yaml")
    overrides = {"market.agents": agents}
    for name in MECHANISMS:
        overrides[f"mechanisms.{name}.enabled"] = all_mechanisms
    return apply_overrides(scenario, overrides)


def measure(agents: int, all_mechanisms: bool, steps: int) -> dict:
    gc.collect()
    rss0 = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    model = MarketModel(scenario_for(agents, all_mechanisms), seed=1)
    build = time.perf_counter() - t0
    model.step()  # warm-up
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        model.step()
        times.append(time.perf_counter() - t)
    rss = psutil.Process().memory_info().rss - rss0
    return {"agents": agents, "mechanisms": "all" if all_mechanisms else "diffusion+choice",
            "build_s": build, "step_s": statistics.median(times),
            "array_bytes_per_listener": model.population.nbytes() / agents,
            "rss_bytes_per_listener": rss / agents}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    print(f"{'listeners':>10} {'mechanisms':>17} {'build s':>8} {'s/step':>8} {'array B/listener':>17} {'RSS B/listener':>15}")
    for agents in args.sizes:
        for all_mechanisms in (False, True):
            r = measure(agents, all_mechanisms, args.steps)
            print(f"{r['agents']:>10,} {r['mechanisms']:>17} {r['build_s']:>8.2f} {r['step_s']:>8.3f} "
                  f"{r['array_bytes_per_listener']:>17.0f} {r['rss_bytes_per_listener']:>15.0f}", flush=True)


if __name__ == "__main__":
    main()
