"""Awareness: Bass (1969) innovation plus word of mouth from friends who use a service.

An unaware listener becomes aware with hazard ``p + q * e_i`` per month, where
``e_i`` is the word-of-mouth exposure: the share of the listener's friends who use a
service (advocates and December Wrapped sharers count more), or the population share
in a fully mixed market. ``p`` rises with marketing spend (see ``campaigns``).

In a fully mixed market the hazard is integrated exactly over the step along the Bass
path, so the adoption curve follows the closed form
``F(t) = (1 - e^{-(p+q)t}) / (1 + (q/p) e^{-(p+q)t})`` whatever the step length; on a
network the exposure is held constant over the step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sim.agents.listeners import Stage, State
from sim.kernels import AHEAD, prefetch, prefetch_ties
from sim.mechanics.campaigns import marketing_multiplier
from sim.random import uniform_at

UNAWARE, USER, OUTSIDE = np.int8(State.UNAWARE), np.int8(State.USER), np.int8(State.OUTSIDE)
ADVOCATE = np.int8(Stage.ADVOCATE)


def bass_cdf(t: np.ndarray | float, p: float, q: float) -> np.ndarray | float:
    """Bass closed form: share adopted after ``t`` months from nobody, in [0, 1]."""
    e = np.exp(-(p + q) * np.asarray(t, dtype=float))
    return (1.0 - e) / (1.0 + (q / p) * e)


def bass_advance(share: float, p: float, q: float, dt: float) -> float:
    """Adopted share ``dt`` months after ``share`` along the Bass path, in [share, 1].

    The closed form started from ``share``, written so that it stays finite for any
    p >= 0 (p = 0 is the logistic of pure imitation).
    """
    hazard = p + q * share
    if hazard <= 0:
        return share
    u = (1.0 - share) / hazard
    x = np.exp(-(p + q) * dt)
    return float((1.0 - p * u * x) / (1.0 + q * u * x))


def awareness_probability(p: float, q: float, exposure: np.ndarray, dt: float, fully_mixed: bool) -> np.ndarray:
    """Probability that each unaware listener becomes aware this step.

    Parameters
    ----------
    p, q : float
        Innovation and imitation hazards, 1/month.
    exposure : ndarray of shape (n,) or scalar
        Word-of-mouth exposure in [0, ~2] (share of friends who use a service, weighted).
    dt : float
        Step length, months.
    fully_mixed : bool
        If true, ``exposure`` is the population share and the hazard is integrated along
        the Bass path; otherwise the hazard is held constant over the step.
    """
    if fully_mixed and np.size(exposure):
        share = float(np.clip(np.mean(exposure), 0.0, 1.0 - 1e-12))
        after = bass_advance(share, p, q, dt)
        return np.full(np.shape(exposure), (after - share) / (1.0 - share))
    return 1.0 - np.exp(-(p + q * np.asarray(exposure)) * dt)


def exposure(influence: np.ndarray, friends, degree: np.ndarray, fully_mixed: bool, present: np.ndarray) -> np.ndarray:
    """Word-of-mouth exposure of every listener, shape (n,) (the straightforward form, for tests).

    ``influence`` is each listener's word-of-mouth weight (0 for non-users, 1 for a user,
    more for advocates and sharers). Fully mixed: the mean over the people in reach
    (``present``, (n,) bool) for everyone.
    """
    if fully_mixed:
        return np.full(influence.shape, influence[present].mean() if present.any() else 0.0, dtype=np.float32)
    total = friends @ influence.astype(np.float32)
    return np.divide(total, degree, out=np.zeros_like(total), where=degree > 0)


@njit(cache=True)
def _weight(state, advocate, sharing, advocate_extra: float, wom_boost: float) -> float:
    """One listener's word-of-mouth weight: 1 for a user, + (advocate_weight - 1) for an advocate, + wom_boost for a sharer.

    Takes the listener's values, not the arrays: numba passes arrays to a function with
    reference counting, which would cost more than the sum itself.
    """
    w = 1.0 if state == USER else 0.0
    if advocate:
        w += advocate_extra
    if sharing:
        w += wom_boost
    return w


@njit(cache=True)
def _mean_influence(state, stage, sharing, advocate_extra, wom_boost) -> float:
    """The mean word-of-mouth weight over the people in reach (listeners not ``State.OUTSIDE``); 0 if none."""
    total = 0.0
    present = 0
    for j in range(state.size):
        if state[j] != OUTSIDE:
            total += _weight(state[j], stage[j] == ADVOCATE, sharing[j], advocate_extra, wom_boost)
            present += 1
    return total / present if present else 0.0


@dataclass(frozen=True)
class WordOfMouth:
    """Word of mouth kept up to date between steps, per listener (n,) float32 (updated in place).

    Attributes
    ----------
    influence : each listener's word-of-mouth weight as of the last update, per slot
    total : the sum of the friends' weights (exposure times the number of friends), per id: a change passes
        to the friends' ids (the network's) without looking up their slots, and nothing moves when slots do
    """

    influence: np.ndarray
    total: np.ndarray

    @classmethod
    def empty(cls, n: int) -> "WordOfMouth":
        """Nobody has spoken yet: the first update counts every user."""
        return cls(np.zeros(n, np.float32), np.zeros(n, np.float32))


@njit(cache=True)
def update_word_of_mouth(known, state, stage, sharing, indptr, indices, ident, advocate_extra, wom_boost, influence, total):
    """Bring ``total`` (n,) (per id) up to date: only a listener whose weight changed since the last
    update (a new or lost user, an advocate, a sharer) passes the change to its friends,
    so the work is proportional to what changed (ties are symmetric). Only the listeners
    who know the market (``known``, ascending slots) are visited: the others weigh 0.

    The arrays but ``total`` are per slot; the network (CSR ``indptr``, ``indices``) is over ids: the
    listener in slot j has id ``ident[j]``.

    First the changes are listed, in order; then each is passed on. The changed listeners are
    scattered, so their rows of the network would each wait for memory three times (row
    offsets, ties, the friends' totals): each of these is asked for a few changes ahead
    (:func:`sim.kernels.prefetch_ties`).
    """
    row = np.empty(known.size, np.int32)
    change = np.empty(known.size, np.float32)
    m = 0
    for k in range(known.size):  # a compaction that always writes: most weights do not change
        j = np.uint64(known[k])  # unsigned: an index numba need not wrap around (no sign test per read)
        weight = np.float32(_weight(state[j], stage[j] == ADVOCATE, sharing[j], advocate_extra, wom_boost))  # as stored: no spurious change
        row[m] = ident[j]
        change[m] = weight - influence[j]
        m += weight != influence[j]
        influence[j] = weight
    for c in range(m):
        prefetch_ties(row, c, m, indptr, indices, total)
        j = np.uint64(row[c])  # unsigned indices: no sign test per read
        for e in range(indptr[j], indptr[j + np.uint64(1)]):
            total[np.uint64(indices[e])] += change[c]


@njit(cache=True)
def _rate(total, degree, p: float, q: float, dt: float) -> float:
    """The awareness hazard over the step, (p + q e) dt, of a listener whose friends weigh ``total`` (e = total / degree)."""
    return (p + q * (total / max(degree, 1))) * dt  # no friend: total is 0


@njit(cache=True)
def aware_on_network(state: np.ndarray, total: np.ndarray, degree: np.ndarray, ident: np.ndarray, first: int, p: float,
                     q: float, dt: float, key: np.uint64) -> np.ndarray:
    """Slots of the listeners who become aware this step on a network, ascending, int64 (k,).

    Only unaware listeners can become aware, in slots ``first`` and later: exposure ``e_i`` is
    ``total[ident[i]]`` (the sum of the friends' word-of-mouth weights, per id) over the number of friends
    ``degree[i]`` (the others (n,), per slot), the probability ``1 - exp(-(p + q e_i) dt)`` (p, q
    1/month, dt months) and the draw of the listener in slot i is ``uniform_at(key, ident[i])``
    (the diffusion stream at this step, under their id).
    """
    # views from ``first``: an offset index (i - first) kept the compiler from vectorising
    st, deg, ids = state[first:], degree[first:], ident[first:]
    tot = np.empty(st.size, np.float32)
    for k in range(st.size):  # the totals are per id, scattered: gathered apart, so that the draws below vectorise
        if k + 4 * AHEAD < st.size:
            prefetch(ids[k + 4 * AHEAD], total)
        tot[k] = total[np.uint64(ids[k])]  # unsigned: no sign test per read
    below = np.empty(st.size, np.bool_)
    for k in range(st.size):  # no branch: the compiler vectorises the draws
        # 1 - exp(-x) <= x: a draw at or above the rate is not aware; the few below are checked exactly
        below[k] = (st[k] == UNAWARE) & (uniform_at(key, ids[k]) < _rate(tot[k], deg[k], p, q, dt))
    newly = np.flatnonzero(below) + first
    m = 0
    for i in newly:  # a compaction in place: the exact probability keeps most of them
        newly[m] = i
        m += uniform_at(key, ident[i]) < 1.0 - np.exp(-_rate(total[ident[i]], degree[i], p, q, dt))
    return newly[:m]


@njit(cache=True)
def aware_with_probability(state: np.ndarray, ident: np.ndarray, first: int, prob: float, key: np.uint64) -> np.ndarray:
    """Slots of the unaware listeners (in slots ``first`` and later) who become aware with one probability for
    all (fully mixed), ascending, int64 (k,); the listener in slot i draws under their id ``ident[i]``."""
    newly = np.empty(state.size - first, np.int64)
    m = 0
    for i in range(first, state.size):
        if state[i] == UNAWARE and uniform_at(key, ident[i]) < prob:
            newly[m] = i
            m += 1
    return newly[:m]


def aware(known: np.ndarray, state: np.ndarray, stage: np.ndarray, sharing: np.ndarray, friends, ident: np.ndarray,
         degree: np.ndarray, fully_mixed: bool, p: float, cfg, wom_boost: float, key: np.uint64,
         dt: float, word_of_mouth: WordOfMouth) -> np.ndarray:
    """Slots of the listeners who become aware this step, ascending, int64 (k,) (the arrays of :func:`step`).

    ``known`` the listeners who know the market, ascending slots (``ListenerPopulation.known``);
    ``state`` (n,) listener states (``State``); ``stage`` (n,) int8 the loyalty ladder stage
    (``Stage.ADVOCATE`` on the top rung); ``sharing`` (n,) bool: sharing their Wrapped now, all per slot;
    ``friends`` the network over ids (CSR ``indptr``, ``indices``), ``ident`` (n,) the id in each slot,
    ``degree`` (n,) the number of friends per slot; ``p`` the
    innovation hazard after marketing, 1/month; ``cfg`` the diffusion section (``q``, ``advocate_weight``);
    ``key`` the diffusion stream's key at this step (``sim.random``); ``dt`` months;
    ``word_of_mouth`` the friends' weights kept between steps (brought up to date here).
    """
    if not cfg.enabled:
        return np.zeros(0, np.int64)
    extra = cfg.advocate_weight - 1.0
    # the unaware are at slot ``first`` and later: after the known, when these fill the first slots
    first = known.size if known.size == 0 or known[-1] == known.size - 1 else 0
    if fully_mixed:
        share = _mean_influence(state, stage, sharing, extra, wom_boost)
        prob = float(awareness_probability(p, cfg.q, np.full(1, share), dt, True)[0])
        return aware_with_probability(state, ident, first, prob, key)
    wom = word_of_mouth
    update_word_of_mouth(known, state, stage, sharing, friends.indptr, friends.indices, ident, extra, wom_boost,
                         wom.influence, wom.total)
    return aware_on_network(state, wom.total, degree, ident, first, p, cfg.q, dt, key)


@dataclass(frozen=True)
class Awareness:
    """One step of awareness: ``newly_aware`` the slots of the listeners who learnt of the market, ascending, int64 (k,)."""

    newly_aware: np.ndarray


def step(cfg, ctx) -> Awareness:
    """Unaware listeners become aware (:func:`aware`); they join ``pop.known`` as AWARE, in place.

    ``cfg`` the diffusion section (``p``, ``q``, ``advocate_weight``); ``ctx`` the step: the listeners,
    the ladder stage and the word of mouth kept between steps (``ctx.memory``, brought up to date here),
    this step's Wrapped sharers, the ``diffusion`` stream. Every service's marketing raises the innovation
    hazard ``p`` (``campaigns.marketing_multiplier``).
    """
    pop, camp = ctx.pop, ctx.scenario.mechanisms.campaigns
    p = cfg.p * (marketing_multiplier(float(np.sum(ctx.marketing_budget)), ctx.people, camp.marketing_lift,
                                      camp.marketing_reference) if camp.enabled else 1.0)
    newly = aware(pop.known, pop.state, ctx.memory.stage, ctx.memory.sharing_now, pop.friends, pop.ident,
                  pop.degree, pop.fully_mixed, p, cfg, camp.wrapped.wom_boost, ctx.draws.key("diffusion"), ctx.dt,
                  ctx.memory.word_of_mouth)
    pop.become_aware(newly)
    return Awareness(newly)
