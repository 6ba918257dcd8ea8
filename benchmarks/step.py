"""Milliseconds per monthly step against the machine's floor, early and mature, for 1e5, 1e6 and 1e7 listeners.

For each size, ``--repeat`` fresh processes (default 3; each its own peak RSS), each one run of
the baseline scenario with every mechanism on (``market.agents`` set) for ``--months`` months
(default 120, 2015-2024), timing every step with the process's CPU time (``time.process_time``:
time spent waiting for a core shared with other processes is not counted; wall time with ``--wall``):

- ``2016 ms``: the mean of steps 12..23, the early market (about a tenth of the listeners know it);
- ``mature ms``: the mean of the last 24 steps (2023-24 by default), when most listeners know the
  market and a step does most of its work: the months that dominate a long run. It is the issue's
  "120-month run minus 96-month run, over 24" measured inside one run;
- ``ns/L``: those months per listener, so a cache cliff between sizes shows at a glance;
- ``floor ms``: one read+write pass over 200 bytes per listener (``np.multiply(a, 1.0001, out=a)``
  on 25 n float64), median of 9, measured in the same process right after the run; ``x floor``
  the mature month over it;
- ``build s``, ``array B/L`` (bytes of every per-listener array and the network, per listener),
  ``edges/L`` (undirected ties per listener), ``peak RSS`` of the process and ``known`` (the share
  of listeners who know the market at the end).

Each size's row is the run with the median mature month (with that run's floor, build and
memory); ``range`` gives the lowest and highest mature month of the runs. This VM runs the same
month a third slower or more in some minutes than in others (a neighbour's load), more than the
floor probe, so one run's verdict is partly a draw.

Then the compile time of the numba kernels (a fresh process with an empty cache), a per-agent
Mesa model of a reduced step (``benchmarks/mesa_agents.py``) timed on the same core, and the
targets: mature 1M month <= 2x floor; mature 10M month <= 12x mature 1M month; >= 200x faster per
listener-step than Mesa (mature 1M month); arrays <= 200 B per listener. Prints figures; asserts
nothing. Pin it to one core to compare runs:

    taskset -c 0 .venv/bin/python benchmarks/step.py [--sizes 100000 1000000 10000000] [--months 120] [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
MECHANISMS = ("ads", "personalization", "service_quality", "campaigns", "competition")


def scenario_for(agents: int, months: int):
    from sim.scenario import apply_overrides, load_scenario

    overrides = {"market.agents": agents, "time.months": months}
    for name in MECHANISMS:
        overrides[f"mechanisms.{name}.enabled"] = True
    return apply_overrides(load_scenario(ROOT / "scenarios/baseline.yaml"), overrides)


def holders(model) -> list:
    """The objects that hold the model's per-listener arrays: the model, its population, its reach and its dataclasses."""
    return [model, model.population, model.reach] + [v for v in vars(model).values() if dataclasses.is_dataclass(v)]


def array_bytes(model) -> tuple[int, int]:
    """Bytes of every array of the model and its population with one row per listener (and the
    network), and the number of undirected ties."""
    n = model.population.n
    total, ties = 0, 0
    for obj in holders(model):
        for value in vars(obj).values():
            if isinstance(value, np.ndarray) and value.ndim and value.shape[0] == n:
                total += value.nbytes
            elif sp.issparse(value):
                total += sum(getattr(value, a).nbytes for a in ("data", "indices", "indptr") if hasattr(value, a))
                ties = value.nnz // 2
            elif hasattr(value, "indptr") and hasattr(value, "indices"):  # a CSR network of our own
                total += value.indptr.nbytes + value.indices.nbytes
                ties = value.indices.size // 2
    return total, ties


CLOCK = time.process_time


def floor_probe(n: int, repeats: int = 9) -> float:
    """Seconds of one read+write pass over 200 bytes per listener (median of ``repeats``)."""
    a = np.ones(25 * n)
    times = []
    for _ in range(repeats):
        t = CLOCK()
        np.multiply(a, 1.0001, out=a)
        times.append(CLOCK() - t)
    return float(np.median(times))


EARLY = slice(12, 24)  # 2016: about a tenth of the listeners know the market
MATURE = 24  # the last steps of the run: 2023-24 in a 120-month run


def measure(agents: int, months: int) -> dict:
    """One size, in this process: build, ``months`` steps, bytes, peak RSS, then the floor probe.

    ``early_s`` is the mean of the steps of :data:`EARLY`, ``mature_s`` of the last :data:`MATURE`
    steps; ``known`` the share of listeners who know the market at the end.
    """
    from sim.agents.listeners import State
    from sim.model import MarketModel

    scenario = scenario_for(agents, months)
    t0 = CLOCK()
    model = MarketModel(scenario, seed=1)
    build = CLOCK() - t0
    times = []
    for _ in range(months):
        t = CLOCK()
        model.step()
        times.append(CLOCK() - t)
    nbytes, ties = array_bytes(model)
    state = model.population.state
    known = float(np.mean((state != State.UNAWARE) & (state != State.OUTSIDE)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    del model
    return {"agents": agents, "build_s": build, "early_s": float(np.mean(times[EARLY])),
            "mature_s": float(np.mean(times[-MATURE:])), "known": known, "floor_s": floor_probe(agents),
            "bytes_per_listener": nbytes / agents, "ties_per_listener": ties / agents, "peak_rss": peak}


def compile_seconds() -> float | None:
    """Seconds to compile every numba kernel from scratch (fresh process, empty cache); None without kernels."""
    code = ("import time; t=time.perf_counter(); from sim import runner; runner.compile_kernels(); "
            "print(time.perf_counter()-t)")
    if not (ROOT / "sim" / "kernels.py").exists():
        return None
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def in_fresh_process(script: str, agents: int, args: list[str]) -> dict | None:
    """Run ``script --one agents *args`` in a fresh process of this interpreter on this checkout and read the JSON
    of its last line; None (and a line saying why) if it failed."""
    # PYTHONPATH: the script's own folder comes first on sys.path, so without it ``sim`` would
    # be whatever checkout is installed in the environment, not this one
    out = subprocess.run([sys.executable, script, "--one", str(agents), *args],
                         cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if out.returncode:
        print(f"{agents:>11,} failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_one(agents: int, months: int, wall: bool) -> dict | None:
    """Measure one size in a fresh process; None (and a line saying why) if it failed."""
    return in_fresh_process(__file__, agents, ["--months", str(months)] + ["--wall"] * wall)


HEADER = (f"{'listeners':>11} {'2016 ms':>8} {'mature ms':>10} {'range':>13} {'2016 ns/L':>10} {'mature ns/L':>12} "
          f"{'floor ms':>9} {'x floor':>8} {'build s':>8} {'array B/L':>10} {'edges/L':>8} {'peak RSS MB':>12} {'known':>6}")


def run_median(agents: int, months: int, wall: bool, repeat: int) -> dict | None:
    """Measure one size in ``repeat`` fresh processes and print the row of the run with the median
    mature month (with its own early month, floor, build and memory) and the range of the mature
    months; None if all failed."""
    runs = [r for r in (run_one(agents, months, wall) for _ in range(repeat)) if r is not None]
    if not runs:
        return None
    runs.sort(key=lambda r: r["mature_s"])
    r = runs[(len(runs) - 1) // 2]
    spread = f"{1e3 * runs[0]['mature_s']:.1f}-{1e3 * runs[-1]['mature_s']:.1f}" if len(runs) > 1 else "-"
    print(f"{agents:>11,} {1e3 * r['early_s']:>8.1f} {1e3 * r['mature_s']:>10.1f} {spread:>13} "
          f"{1e9 * r['early_s'] / agents:>10.1f} {1e9 * r['mature_s'] / agents:>12.1f} {1e3 * r['floor_s']:>9.1f} "
          f"{r['mature_s'] / r['floor_s']:>8.1f} {r['build_s']:>8.2f} {r['bytes_per_listener']:>10.0f} "
          f"{r['ties_per_listener']:>8.1f} {r['peak_rss'] / 1e6:>12.0f} {r['known']:>6.0%}", flush=True)
    return r


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--months", type=int, default=120,
                        help="months of each run (at least 36): the mature window is the last 24, the early one 2016")
    parser.add_argument("--mesa-agents", type=int, default=20_000)
    parser.add_argument("--wall", action="store_true", help="wall-clock times instead of CPU times")
    parser.add_argument("--repeat", type=int, default=3,
                        help="fresh processes per size (the row is the run with the median mature month)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure one size, print JSON
    args = parser.parse_args()
    if args.months < EARLY.stop + MATURE:
        parser.error(f"--months must be at least {EARLY.stop + MATURE}, the early window and the mature one apart")
    global CLOCK
    CLOCK = time.perf_counter if args.wall else time.process_time
    if args.one:
        import sim

        assert Path(sim.__file__).resolve().parents[1] == ROOT, f"measuring {sim.__file__}, not this checkout"
        print(json.dumps(measure(args.one, args.months)))
        return

    print(f"{'CPU' if not args.wall else 'wall'} time per month; 2016 = steps {EARLY.start}..{EARLY.stop - 1}, "
          f"mature = steps {args.months - MATURE}..{args.months - 1} of a {args.months}-month run; "
          f"median of {max(args.repeat, 1)} fresh processes per size", flush=True)
    print(HEADER, flush=True)
    results = {}
    for agents in args.sizes:
        r = run_median(agents, args.months, args.wall, max(args.repeat, 1))
        if r is not None:
            results[agents] = r

    compiled = compile_seconds()
    print("numba compile (first call, empty cache): " + ("no kernels" if compiled is None else f"{compiled:.1f} s"))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from mesa_agents import seconds_per_agent_step

    mesa_s = seconds_per_agent_step(args.mesa_agents, clock=CLOCK)
    print(f"per-agent Mesa model ({args.mesa_agents:,} agents): {1e6 * mesa_s:.2f} us per agent-step")

    print("targets (mature months):")
    if 1_000_000 in results:
        r = results[1_000_000]
        ratio = r["mature_s"] / r["floor_s"]
        print(f"  1M mature month / floor = {ratio:.1f} (target <= 2): {verdict(ratio <= 2)}")
        speedup = mesa_s / (r["mature_s"] / r["agents"])
        print(f"  Mesa / ours per listener-step = {speedup:.0f}x (target >= 200): {verdict(speedup >= 200)}")
    if 1_000_000 in results and 10_000_000 in results:
        growth = results[10_000_000]["mature_s"] / results[1_000_000]["mature_s"]
        print(f"  10M mature month / 1M mature month = {growth:.1f} (target <= 12): {verdict(growth <= 12)}")
    for agents, r in results.items():
        print(f"  {agents:,}: {r['bytes_per_listener']:.0f} B per listener of arrays (target <= 200): "
              f"{verdict(r['bytes_per_listener'] <= 200)}")


if __name__ == "__main__":
    main()
