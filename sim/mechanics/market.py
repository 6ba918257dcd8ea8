"""The market over time: people coming into reach, services launching in regions, entering and leaving.

The listener arrays have a fixed size: the horizon's largest population (``market.agents``
listeners, each standing for ``weight`` people). A listener not yet in reach is
``State.OUTSIDE`` and counts in no KPI. Each region admits its listeners in a fixed random
order (``rank``), so that at every step the listeners in reach of region r are those with
``rank < people_r(t) / weight``; they enter as UNAWARE. People in reach never fall (the
schema refuses a falling schedule): leaving a market is a service's exit, not a person's.

Where a service may be used: a service's ``availability`` gives, per region, the share of
the region's people it serves from each date (0 before its launch, 0 again after an exit
from the region). A listener in region r may use service j at step t when
``place < share_jr(t)`` and j is in the market (entered, not exited); ``place`` is one
uniform draw per listener shared by all services (the markets a listener lives in open in
the same order for everyone: large markets first for every service). A listener who loses
their service this way chooses again that step (the choice sees the option as ineligible).
"""

from __future__ import annotations

import numpy as np

from sim.scenario.fields import _month_index, step_schedule


def entry_rank(region: np.ndarray, n_regions: int, rng: np.random.Generator) -> np.ndarray:
    """Order in which each listener comes into reach within their region, shape (n,) int64, 0 = first."""
    rank = np.empty(region.size, np.int64)
    for r in range(n_regions):
        idx = np.flatnonzero(region == r)
        rank[idx[rng.permutation(idx.size)]] = np.arange(idx.size)
    return rank


def in_reach_counts(people: np.ndarray, capacity: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Listeners in reach per region, shape (R,): the region's ``group`` listeners (R,) scaled by its people now
    over its people at the horizon's largest (``people`` and ``capacity`` (R,)), rounded; all of them at the largest."""
    share = np.divide(people, capacity, out=np.ones_like(people, dtype=float), where=capacity > 0)
    return np.minimum(np.round(group * share), group).astype(np.int64)


def in_reach(region: np.ndarray, rank: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Whether each listener is in reach, shape (n,) bool, given the listeners in reach per region ``counts`` (R,)."""
    return rank < counts[region]


def availability_table(services, region_names: list[str], month: int) -> np.ndarray:
    """Share of each region's people each service serves at calendar month index ``month``, shape (S, R)."""
    out = np.ones((len(services), len(region_names)))
    for j, svc in enumerate(services):
        for r, name in enumerate(region_names):
            sched = (svc.availability or {}).get(name)
            if sched is not None:
                out[j, r] = float(step_schedule(sched, np.array([month]))[0])
    return out


def available(region: np.ndarray, place: np.ndarray, shares: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Whether each listener may use each service, shape (n, S) bool.

    ``region`` (n,), ``place`` (n,) uniform draws, ``shares`` (S, R) from
    :func:`availability_table`, ``active`` (S,) whether each service is in the market.
    """
    return (place[:, None] < shares[:, region].T) & active[None, :]


def stranded(state_user: np.ndarray, service: np.ndarray, can_use: np.ndarray) -> np.ndarray:
    """Users whose service they may no longer use (an exit, a withdrawal from their region), shape (n,) bool."""
    svc = np.maximum(service, 0).astype(np.int64)
    return state_user & ~can_use[np.arange(service.size), svc]


def entry_steps(scenario, clock) -> tuple[np.ndarray, np.ndarray]:
    """Step each service enters and leaves the market, shapes (S,): 0 and n_steps for services there throughout."""
    names = [s.name for s in scenario.all_services()]
    enter = np.zeros(len(names), np.int64)
    leave = np.full(len(names), clock.n_steps, np.int64)
    for ev in scenario.timeline:
        if ev.enter:
            enter[names.index(ev.enter.name)] = clock.step_of_month(ev.at)
        if ev.exit is not None:
            leave[names.index(ev.exit)] = clock.step_of_month(ev.at)
    return enter, leave


def month_index(date) -> int:
    """Calendar month index (year*12 + month-1) of a date."""
    return _month_index(f"{date.year:04d}-{date.month:02d}")
