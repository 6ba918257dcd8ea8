"""What would a month cost if the listeners who know the market were stored first?

An experiment on the storage order, not a model: the same scenario as ``benchmarks/step.py``
(baseline, every mechanism on) runs to step 12 twice. One model keeps the population's
order; in the other, before each of steps 13..24, every per-listener array is permuted so
that the known listeners (AWARE, USER, LAPSED) fill the first slots in their order, the
network and the reach's entry order are renumbered, and ``known`` becomes 0..m-1: every pass
over the known listeners then reads contiguous memory. The permutation is outside the timing.
Draws are keyed by slot in the permuted model, so its numbers differ; its cost is the point.

It answers whether a known-first storage (the "dense table") is worth building: if the
early market's month is dominated by scattered reads, it should fall by about half.

    taskset -c 0 .venv/bin/python benchmarks/layout.py [--agents 1000000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from step import floor_probe, holders, scenario_for  # noqa: E402

VALUE_ARRAYS = {"_known", "order"}  # arrays of listener indices: renumbered, not permuted


def per_listener(model) -> list[tuple[object, str]]:
    """(holder, attribute) of every array with one row per listener, in the holders that `step.array_bytes` counts."""
    n = model.population.n
    return [(obj, name) for obj in holders(model) for name, value in vars(obj).items()
            if isinstance(value, np.ndarray) and value.ndim and value.shape[0] == n and name not in VALUE_ARRAYS]


def known_first(model) -> None:
    """Permute the model's listeners in place so that the known ones come first, in their order."""
    pop = model.population
    known = pop.known.copy()
    perm = np.concatenate([known, np.setdiff1d(np.arange(pop.n), known)])
    slot = np.empty(pop.n, np.int64)
    slot[perm] = np.arange(pop.n)
    for obj, name in per_listener(model):
        array = getattr(obj, name)
        array[...] = array[perm]
    pop._known[:known.size] = np.arange(known.size, dtype=np.int32)
    model.reach.order[:] = slot[model.reach.order]
    friends = pop.friends[perm][:, perm].tocsr()
    friends.sort_indices()
    pop.friends = sp.csr_matrix((friends.data, friends.indices.astype(np.int32), friends.indptr.astype(np.int32)),
                                shape=friends.shape)


def month_seconds(agents: int, relayout: bool) -> tuple[float, float]:
    """Mean CPU seconds of steps 13..24 and the share of listeners who know the market at the end."""
    from sim.model import MarketModel

    model = MarketModel(scenario_for(agents, 24), seed=1)
    for _ in range(12):
        model.step()
    times = []
    for _ in range(12):
        if relayout:
            known_first(model)
        t = time.process_time()
        model.step()
        times.append(time.process_time() - t)
    return float(np.mean(times)), model.population.n_known / agents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1_000_000)
    args = parser.parse_args()
    floor = floor_probe(args.agents)
    print(f"{args.agents:,} listeners, steps 13..24 (2016), floor {1e3 * floor:.1f} ms (one read+write pass, 200 B/listener)")
    for label, relayout in (("as stored", False), ("known first", True)):
        seconds, known = month_seconds(args.agents, relayout)
        print(f"  {label:<12} {1e3 * seconds:7.1f} ms/month  {seconds / floor:5.1f}x floor  ({100 * known:.0f}% know the market)",
              flush=True)


if __name__ == "__main__":
    main()
