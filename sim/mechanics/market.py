"""The market over time: people coming into reach, services launching in regions, entering and leaving.

The listener arrays have a fixed size: the horizon's largest population (``market.agents``
listeners, each standing for ``weight`` people). A listener not yet in reach is
``State.OUTSIDE`` and counts in no KPI. Each region admits its listeners in a fixed random
order (``entry_order``), so that at every step the listeners in reach of region r are the
first ``people_r(t) / weight`` of its order; they enter as UNAWARE. People in reach never fall
(the schema refuses a falling schedule): leaving a market is a service's exit, not a person's.
A step visits only the listeners coming into reach, and every listener only when the
availability changes (a launch, an entry, an exit).

Where a service may be used: a service's ``availability`` gives, per region, the share of
the region's people it serves from each date (0 before its launch, 0 again after an exit
from the region). A listener in region r may use service j at step t when
``place < share_jr(t)`` and j is in the market (entered, not exited); ``place`` is one
uniform draw per listener shared by all services (the markets a listener lives in open in
the same order for everyone: large markets first for every service), and, for an entrant,
the listener has heard of it (``sim.mechanics.entry``). A listener who loses their service
this way chooses again that step (the choice sees the option as ineligible).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.agents.listeners import State
from sim.kernels import AHEAD, prefetch, prefetch_ties
from sim.mechanics import entry
from sim.scenario.fields import step_schedule

UNAWARE, USER, OUTSIDE = np.int8(State.UNAWARE), np.int8(State.USER), np.int8(State.OUTSIDE)


def entry_order(region: np.ndarray, n_regions: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The order in which listeners come into reach within their region.

    Returns ``order`` (n,) int32 and ``start`` (R+1,) int64: region r's listeners are
    ``order[start[r]:start[r + 1]]``, first to come into reach first (a random permutation of them).
    At set-up slots are ids; ``order`` holds ids.
    """
    order = np.empty(region.size, np.int32)  # int32: 4 bytes a listener, enough for 2e9 listeners
    start = np.zeros(n_regions + 1, np.int64)
    for r in range(n_regions):
        idx = np.flatnonzero(region == r)
        start[r + 1] = start[r] + idx.size
        order[start[r]:start[r + 1]] = idx[rng.permutation(idx.size)]
    return order, start


def in_reach_counts(people: np.ndarray, capacity: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Listeners in reach per region, shape (R,): the region's ``group`` listeners (R,) scaled by its people now
    over its people at the horizon's largest (``people`` and ``capacity`` (R,)), rounded; all of them at the largest."""
    share = np.divide(people, capacity, out=np.ones_like(people, dtype=float), where=capacity > 0)
    return np.minimum(np.round(group * share), group).astype(np.int64)


def availability_table(services, region_names: list[str], months: np.ndarray) -> np.ndarray:
    """Share of each region's people each service serves at calendar month indices ``months`` (T,), shape (T, S, R)."""
    out = np.ones((len(months), len(services), len(region_names)))
    for j, svc in enumerate(services):
        for r, name in enumerate(region_names):
            sched = (svc.availability or {}).get(name)
            if sched is not None:
                out[:, j, r] = step_schedule(sched, months)
    return out


@njit(cache=True)
def admit(state, order, start, lo, hi, counts, slot_of) -> None:
    """Bring listeners into reach, in place: region r's listeners at positions ``lo[r]..hi[r]`` of
    its entry order (:func:`entry_order`, ids; ``slot_of`` (n,) the slot of each id, for ``state``)
    are in reach when the position is below ``counts[r]`` (:func:`in_reach_counts`) and enter as
    UNAWARE; the others are OUTSIDE.

    At the start every position is visited; later only the new entrants (``lo`` the last
    counts, ``hi`` the new): the counts never fall, so no one in reach leaves it.
    """
    for r in range(counts.size):
        for k in range(start[r] + lo[r], start[r] + hi[r]):
            i = slot_of[order[k]]
            if k - start[r] < counts[r]:
                if state[i] == OUTSIDE:
                    state[i] = UNAWARE
            else:
                state[i] = OUTSIDE


@njit(cache=True)
def count_friends_in_reach(order, start, lo, hi, indptr, indices, slot_of, degree) -> None:
    """Add the listeners coming into reach to their friends' counts of friends in reach, in place: region r's
    listeners at positions ``lo[r]..hi[r]`` of its entry order (ids) each add 1 to ``degree`` (n,) per slot of every
    friend (the network over ids, CSR ``indptr``, ``indices``; ties are symmetric).

    The newcomers are scattered over the network: each of their ties waits for memory four times (row offsets,
    ties, the friend's slot, the friend's count), so each level is asked for a few newcomers ahead, the
    first level furthest (as word of mouth does, ``sim.mechanics.diffusion``)."""
    for r in range(lo.size):
        first, last = start[r] + lo[r], start[r] + hi[r]
        for k in range(first, last):
            prefetch_ties(order, k, last, indptr, indices, slot_of)
            if k + AHEAD // 4 < last:  # the last level: the friends' counts, by slot
                b = order[k + AHEAD // 4]
                for e in range(indptr[b], indptr[b + 1]):
                    prefetch(slot_of[indices[e]], degree)
            a = order[k]
            for e in range(indptr[a], indptr[a + 1]):
                degree[slot_of[indices[e]]] += 1


@njit(cache=True)
def update_availability(known, state, service, region, place, shares, active, changed, available, triggered) -> None:
    """Who may use which service, in place: ``available`` (n, S) bool, listener i may use service j
    when ``place[i] < shares[j, region[i]]`` (``place`` (n,) uniform, ``shares`` (S, R)
    :func:`availability_table`) and ``active[j]`` (S,) (in the market). Only the (service, region)
    pairs ``changed`` (S, R) are recomputed, one service at a time. ``triggered`` (n,): set for a
    user (among ``known``, ascending) whose service they may no longer use (an exit, a withdrawal
    from their region).
    """
    keep, threshold = np.empty(changed.shape[1], np.bool_), np.empty(changed.shape[1])
    for j in range(changed.shape[0]):
        if not changed[j].any():
            continue
        for r in range(keep.size):  # per region: keep the value, or recompute it (no one when out of the market)
            keep[r] = not changed[j, r]
            threshold[r] = shares[j, r] if active[j] else -1.0  # place >= 0
        column = available[:, j]
        for i in range(region.size):  # no branch on the listener (whose region changed is a coin flip): 0/1 logic
            r = region[i]
            column[i] = (keep[r] & column[i]) | ((not keep[r]) & (place[i] < threshold[r]))
    for k in range(known.size):
        i = known[k]
        if state[i] == USER and not available[i, max(service[i], 0)]:
            triggered[i] = True


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


class Reach:
    """The market's reach during a run: who is in it, the order the rest come in (drawn once, from
    the ``market`` stream), and which services are in the market this step.

    ``people`` (people in reach, as the listeners in reach stand for them) and ``active`` (bool,
    shape (S,)) are this step's; :meth:`update` moves them on and lets listeners in or out.
    """

    def __init__(self, scenario, pop, clock, rng: np.random.Generator, n_services: int, brand_key: np.uint64 = np.uint64(0)):
        self.order, self.start = entry_order(pop.region, len(scenario.regions), rng)
        self.place = rng.random(pop.n, dtype=np.float32)  # per slot (moves with its listener); float32: 4 bytes a listener
        self.months = scenario.horizon_months()
        self.capacity = scenario.region_capacity()  # people per region at the horizon's largest
        self.group = np.bincount(pop.region, minlength=len(scenario.regions))  # listeners per region
        self.enter_step, self.leave_step = entry_steps(scenario, clock)
        self.entrant = entry.entrants(scenario)
        self.brand_key = brand_key  # who learns of an entrant first (sim.mechanics.entry)
        # word of mouth over the friends in reach: ``pop.degree`` counts those, kept here as people come into reach
        self.friends_in_reach = scenario.diffusion.friends_in_reach and not pop.fully_mixed
        self.heard = np.full(pop.n, -1, np.int8)  # per slot: the entrant a listener heard of this step (known: slots stay)
        self._news = False  # someone may have heard of an entrant at the last update
        self.active = np.ones(n_services, bool)
        self.people = 0.0
        self.counts: np.ndarray | None = None  # listeners in reach per region, (R,), as of the last update
        self._schedules: tuple | None = None  # (scenario, people (R, T), shares (T, S, R)) over the horizon's months
        self._availability: tuple | None = None  # (shares, active, brand) the availability was last computed for

    def update(self, scenario, pop, t: int, dt: float, weight: float, triggered: np.ndarray) -> None:
        """Step ``t``: people in reach, services in the market, who may use which service; users who
        lost their service are marked in ``triggered`` (they choose again this step)."""
        if self._schedules is None or self._schedules[0] is not scenario:  # read once per running scenario
            self._schedules = (scenario, scenario.region_population(self.months),
                               availability_table(scenario.all_services(), pop.region_names, self.months))
        m = min(int(t * dt), len(self.months) - 1)
        people = self._schedules[1][:, m]
        counts = in_reach_counts(people, self.capacity, self.group)
        self.people = float(counts.sum() * weight)
        self.active = (self.enter_step <= t) & (t < self.leave_step)
        first = self.counts is None
        before = np.zeros_like(counts) if first else self.counts
        admit(pop.state, self.order, self.start, before, self.group if first else counts, counts, pop.slot_of)
        if self.friends_in_reach:
            if first:
                pop.degree[:] = 0
            count_friends_in_reach(self.order, self.start, before, counts, pop.friends.indptr, pop.friends.indices,
                                   pop.slot_of, pop.degree)
        self.counts = counts
        shares = self._schedules[2][m]
        brand = entry.brand_awareness(entry.age_months(self.enter_step, t, dt), self.entrant, scenario.mechanisms.entry)
        if self._availability is None:
            changed = np.ones(shares.shape, bool)
        else:  # only a launch, an entry, an exit or an entrant becoming known changes it: then the pairs concerned
            changed = ((shares != self._availability[0]) | (self.active != self._availability[1])[:, None]
                       | (brand != self._availability[2])[:, None])
        if self._news:  # last step's news is old
            self.heard[:] = -1
            self._news = False
        if changed.any():
            update_availability(pop.known, pop.state, pop.service, pop.region, self.place, shares, self.active, changed,
                                pop.available, triggered)
            before = np.zeros_like(brand) if self._availability is None else self._availability[2]
            entry.forget_unknown(pop.available, pop.ident, brand, before, changed.any(axis=1), self.brand_key,
                                 scenario.mechanisms.entry.consider_share, pop.known, pop.state, pop.service, triggered,
                                 self.heard)
            self._news = bool((brand > before).any())
            self._availability = (shares, self.active.copy(), brand)
