"""Memory of a worker process that runs many replicates: does its resident set grow run after run?

Does what a sweep worker, a calibration or the dashboard's Reset does: run small models
one after another in one process (``sim.runner.simulate``). The first runs warm caches
(numba's kernels, pandas' and numpy's own), so the growth is measured after a warm-up of
``--warmup`` runs: MiB per run from the end of the warm-up to the last run. The resident set
is read as a worker has it, without a forced garbage collection (a worker does none).

Beside it, glibc's heap (``mallinfo2``), where numpy's arrays, numba's and pandas' live
(Python's small objects have arenas of their own): bytes in use by live allocations and bytes
freed but kept by the allocator. A resident set that grows while the bytes in use stay flat is
the allocator keeping freed pages, not objects that outlive their run.

    .venv/bin/python benchmarks/memory.py [--listeners 5000] [--months 12] [--runs 1000] [--warmup 100]

Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc

import numpy as np
import psutil

from sim.model import MarketModel
from sim.runner import simulate
from sim.scenario import apply_overrides, load_scenario

MIB = 2**20


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (glibc >= 2.33), in bytes."""

    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _mallinfo2():
    """glibc's ``mallinfo2`` function, or None where the C library has none (musl, macOS, old glibc)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    fn = getattr(libc, "mallinfo2", None)
    if fn is not None:
        fn.restype = _MallInfo2
    return fn


MALLINFO2 = _mallinfo2()


def rss_mib() -> float:
    """Resident set of this process, MiB."""
    return psutil.Process().memory_info().rss / MIB


def heap_mib() -> tuple[float, float] | None:
    """(in use by live allocations, freed but kept by the allocator) of glibc's heap, MiB; None without glibc."""
    if MALLINFO2 is None:
        return None
    m = MALLINFO2()
    return (m.uordblks + m.hblkhd) / MIB, m.fordblks / MIB


def checkpoints(runs: int, warmup: int) -> list[int]:
    """Run counts after which to read the memory: the first run, the warm-up's end, then tenths of the rest."""
    return sorted({1, warmup, *np.linspace(warmup, runs, 11).round().astype(int).tolist()} - {0})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=5_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--warmup", type=int, default=100, help="runs before the growth is measured")
    args = parser.parse_args()
    warmup = min(max(args.warmup, 1), args.runs - 1) if args.runs > 1 else 1
    scenario = apply_overrides(load_scenario("scenarios/baseline.yaml"),
                               {"market.agents": args.listeners, "time.months": args.months})
    seeds = np.random.SeedSequence(1).spawn(args.runs)
    marks = checkpoints(args.runs, warmup)
    print(f"{args.listeners:,} listeners x {args.months} months per run, {args.runs:,} runs in this process; "
          f"growth measured after a warm-up of {warmup} runs")
    print(f"{'runs':>6}{'RSS MiB':>10}{'heap in use':>13}{'heap kept free':>16}")
    print(f"{0:>6}{rss_mib():>10.1f}{_heap_columns()}")
    rss: dict[int, float] = {}
    for k, seed in enumerate(seeds, start=1):
        simulate(scenario, seed)
        if k in marks:
            rss[k] = rss_mib()
            print(f"{k:>6}{rss[k]:>10.1f}{_heap_columns()}{'  (end of warm-up)' if k == warmup else ''}", flush=True)
    if args.runs > 1:
        grown = rss[args.runs] - rss[warmup]
        print(f"growth after the warm-up: {grown / (args.runs - warmup):+.4f} MiB per run "
              f"({grown:+.1f} MiB over runs {warmup + 1}-{args.runs})")
    gc.collect()
    print(f"MarketModel objects alive: {sum(issubclass(type(o), MarketModel) for o in gc.get_objects())}")


def _heap_columns() -> str:
    """The heap's two columns of the table (blank without glibc)."""
    heap = heap_mib()
    return "" if heap is None else f"{heap[0]:>13.1f}{heap[1]:>16.1f}"


if __name__ == "__main__":
    main()
