"""Where a mature month's time goes: milliseconds per kernel at each size, and what exp and pow cost on this core.

For each size, one fresh process runs the baseline of ``benchmarks/step.py`` (every mechanism on) for
``--months`` months and profiles the last 24 (the mature window of ``step.py``) with cProfile. A numba
kernel shows as its Python wrapper, so each row is one kernel (or one Python function of ``sim``, its own
time only). Printed per kernel: calls and CPU milliseconds per month at each size and nanoseconds per
listener who knows the market, so a kernel whose cost per listener jumps between sizes (a cache cliff)
shows at a glance; then each size's total and the floor of ``step.py`` (one read+write pass over 200 bytes
per listener), and the cost of one ``exp`` and one ``pow`` (float64, as the kernels call them) measured in
a compiled loop on the same core. Last, a census of one more month counts the calls no refactor that keeps
every number can skip (a call whose argument makes its result known, exp(0) or a power of 1, is not
counted): the choice's logit takes an ``exp`` per option a decider may take and a ``pow`` per service among
them (the nest's weight), satisfaction's logistic an ``exp`` per user and the data depth fraction one per
user who shares data; their count times their cost is a floor under the month, and beside it what the
same calls would cost in float32 (a model change: every number would move).

The two sizes run minutes apart, and this VM runs the same month up to a third slower in some minutes than
in others: a drift moves every kernel's ratio alike, a cliff moves one kernel's.

cProfile's overhead falls on Python calls only; a kernel's own time is measured as in a plain run. Prints
figures; asserts nothing. Pin it to one core:

    taskset -c 0 .venv/bin/python benchmarks/kernels.py [--sizes 1000000 10000000] [--months 120] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from step import MATURE, floor_probe, in_fresh_process, scenario_for  # noqa: E402


def profile(agents: int, months: int) -> dict:
    """One size, in this process: ``months - MATURE`` steps, then the last :data:`MATURE` under cProfile.

    Returns the CPU seconds and calls per month of each function of ``sim`` (its own time), the mean number
    of listeners who know the market over the window, the window's CPU seconds per month and the floor."""
    from sim.model import MarketModel

    model = MarketModel(scenario_for(agents, months + 1), seed=1)  # + 1: the census's month
    for _ in range(months - MATURE):
        model.step()
    known, profiler = 0, cProfile.Profile(time.process_time)
    t = time.process_time()
    for _ in range(MATURE):
        profiler.enable()
        model.step()
        profiler.disable()
        known += model.population.n_known
    total = time.process_time() - t
    kernels = {}
    for (path, _, name), (_, calls, own, _, _) in pstats.Stats(profiler).stats.items():
        if Path(path).resolve().is_relative_to(ROOT / "sim"):
            label = f"{Path(path).relative_to(ROOT / 'sim').with_suffix('')}.{name}".replace("/", ".")
            kernels[label] = {"s": own / MATURE, "calls": calls / MATURE}
    return {"kernels": kernels, "known": known / MATURE, "month_s": total / MATURE, "floor_s": floor_probe(agents),
            "census": census(model)}


def census(model) -> dict:
    """One more month of ``model``, counting the transcendental calls whose result no refactor can know without
    them: the logit's (every table of utilities the choice scores, read as ``choice.logit_rows`` gets it: an exp
    per option above ``INELIGIBLE`` and below the row's top, a pow per nest with one but a nest of one top
    option), then the users' and the sharers' with data (an exp each; depth as it stands after the month)."""
    from sim.agents.listeners import State
    from sim.mechanics import choice

    counts = {"deciders": 0, "logit_exp": 0, "nest_pow": 0}
    logit_rows = choice.logit_rows

    def counted(u, noise_scale, ids, key, nest, plan_nest):
        eligible = u > choice.INELIGIBLE / 2
        below_top = eligible & (u < u.max(axis=1, keepdims=True))  # exp(0) is 1: a top option's weight needs no call
        counts["deciders"] += u.shape[0]
        counts["logit_exp"] += int(below_top.sum())
        if plan_nest != 1.0:  # 1 ** x is 1: a nest of one top option needs no pow either
            for n in np.unique(nest):
                members = nest == n
                alone_on_top = (eligible[:, members].sum(axis=1) == 1) & ~below_top[:, members].any(axis=1)
                counts["nest_pow"] += int((eligible[:, members].any(axis=1) & ~alone_on_top).sum())
        return logit_rows(u, noise_scale, ids, key, nest, plan_nest)

    choice.logit_rows = counted
    try:
        model.step()
    finally:
        choice.logit_rows = logit_rows
    counts["users"] = int((model.population.state == State.USER).sum())
    counts["sharers"] = int((model.memory.sharing & (model.population.data_depth > 0)).sum())  # exp(0) needs no call
    return counts


def transcendental_ns(dtype=np.float64, size: int = 1_000_000, repeats: int = 9) -> tuple[float, float]:
    """Nanoseconds of one ``exp`` and one ``pow`` of ``dtype`` in a compiled loop (median of ``repeats``), as the
    kernels call them (float64; float32 for what a model computed in single precision would pay): one result
    per element, arguments in the ranges they see (a logit's ``z <= 0``, a nest's sum to the power ``lambda - 1``)."""
    from numba import njit

    @njit
    def exps(x, out, _):
        for k in range(x.size):
            out[k] = np.exp(x[k])

    @njit
    def pows(x, out, power):
        for k in range(x.size):
            out[k] = x[k] ** power

    x = np.random.default_rng(0).uniform(0.0, 8.0, size).astype(dtype)
    out = np.empty(size, dtype)
    costs = []
    for kernel, arg in ((exps, -x), (pows, x + dtype(1.0))):
        kernel(arg, out, dtype(-0.05))  # compile
        times = []
        for _ in range(repeats):
            t = time.process_time()
            kernel(arg, out, dtype(-0.05))
            times.append(time.process_time() - t)
        costs.append(1e9 * float(np.median(times)) / size)
    return costs[0], costs[1]


def report(results: dict[int, dict], top: int) -> None:
    """The table of kernels by their cost at the first size, then the totals and the floors."""
    sizes = list(results)
    first = results[sizes[0]]["kernels"]
    names = sorted(first, key=lambda k: -first[k]["s"])[:top]
    cells = "".join(f" {f'ms {s:,}':>14} {'ns/L':>6}" for s in sizes)
    print(f"{'kernel (own time)':<46} {'calls':>6}{cells}" + (f" {'ns/L ratio':>10}" if len(sizes) > 1 else ""))
    for name in names:
        row, per = "", []
        for s in sizes:
            k = results[s]["kernels"].get(name, {"s": 0.0})
            per.append(1e9 * k["s"] / results[s]["known"])
            row += f" {1e3 * k['s']:>14.2f} {per[-1]:>6.1f}"
        ratio = f" {per[-1] / per[0]:>10.2f}" if len(sizes) > 1 and per[0] else ""
        print(f"{name:<46} {first[name]['calls']:>6.1f}{row}{ratio}")
    for label, key in (("month (profiled)", "month_s"), ("floor (200 B/L read+write)", "floor_s")):
        print(f"{label:<53}" + "".join(f" {1e3 * results[s][key]:>14.1f} {1e9 * results[s][key] / results[s]['known']:>6.1f}"
                                       for s in sizes))
    print("ns/L: per listener who knows the market (mean over the window): " +
          ", ".join(f"{results[s]['known']:,.0f} of {s:,}" for s in sizes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--months", type=int, default=120, help=f"months of each run (at least {MATURE + 1})")
    parser.add_argument("--top", type=int, default=25, help="kernels shown, the dearest at the first size first")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: profile one size, print JSON
    args = parser.parse_args()
    if args.months <= MATURE:
        parser.error(f"--months must be more than {MATURE}, the mature window")
    if args.one:
        print(json.dumps(profile(args.one, args.months)))
        return
    print(f"CPU time per month, steps {args.months - MATURE}..{args.months - 1} of a {args.months}-month run, "
          "one fresh process per size", flush=True)
    results = {s: r for s in args.sizes if (r := in_fresh_process(__file__, s, ["--months", str(args.months)])) is not None}
    if results:
        report(results, args.top)
    costs = {dtype: transcendental_ns(dtype) for dtype in (np.float64, np.float32)}
    for dtype, (exp_ns, pow_ns) in costs.items():
        print(f"one {dtype.__name__} exp: {exp_ns:.1f} ns, one pow: {pow_ns:.1f} ns (compiled loop, this core)")
    for s, r in results.items():
        c = r["census"]
        exps = c["logit_exp"] + c["users"] + c["sharers"]
        floors = {dtype: 1e-9 * (exps * exp_ns + c["nest_pow"] * pow_ns) for dtype, (exp_ns, pow_ns) in costs.items()}
        print(f"{s:,}, one month: {c['deciders']:,} deciders, {c['logit_exp']:,} options in their logit and "
              f"{c['nest_pow']:,} nests; {c['users']:,} users, {c['sharers']:,} sharing data: {exps:,} exp and "
              f"{c['nest_pow']:,} pow, {1e3 * floors[np.float64]:.1f} ms at these costs = "
              f"{floors[np.float64] / r['floor_s']:.2f}x the floor (in float32, a model change: "
              f"{1e3 * floors[np.float32]:.1f} ms, {floors[np.float32] / r['floor_s']:.2f}x)")

if __name__ == "__main__":
    main()
