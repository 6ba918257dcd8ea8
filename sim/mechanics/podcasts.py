"""Podcasts: a part of the free tier's listening hours.

A free user listens to podcasts on top of music: ``podcast hours = share x music hours`` (hours/month),
so the free tier's hours, and with them its ad inventory and the data personalisation learns from, are
``(1 + share)`` times the music hours (``listening``). Spotify moved into podcasts from 2019 (Gimlet,
Anchor, Parcast; 2019 annual report). ``share`` is 0 by default: the baseline's hours were calibrated
as they are (``segments.*.base_hours``), podcasts included, so the default adds nothing and a scenario
that pushes podcasts raises it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sim.agents.listeners import State, Tier

RUNS_AFTER = "listening"  # it adds to the hours listening wrote, before the ad market reads them (sim.mechanics)
USER, FREE = np.int8(State.USER), np.int8(Tier.FREE)


@dataclass(frozen=True)
class Podcasts:
    """One step of podcasts: ``hours_per_free_user`` (S,) podcast hours per free user of each service,
    hours/month (NaN for a service without free users)."""

    hours_per_free_user: np.ndarray


def step(cfg, ctx) -> Podcasts:
    """Free users add ``cfg.share`` of their music hours in podcasts, into ``pop.hours`` in place (after
    ``listening``, before the ad market reads the hours). ``ctx`` the step: the users (``results.sharing``)."""
    pop = ctx.pop
    total, count = free_hours(ctx.results.sharing.users, pop.state, pop.tier, pop.service, pop.hours, np.float32(cfg.share),
                              cfg.share > 0, ctx.table.n)
    return Podcasts(np.divide(total, count, out=np.full(ctx.table.n, np.nan), where=count > 0))


@njit(cache=True)
def free_hours(users, state, tier, service, hours, share, add, s):
    """Podcast hours (``share`` float32 x music hours) summed by service over the free users among ``users``
    (m,) (float64 (S,)), and the free users per service (int64 (S,)), in one pass; with ``add`` the podcast
    hours join each free user's ``hours`` (n,) float32 in place. ``state``, ``tier``, ``service`` per listener (n,)."""
    total = np.zeros(s)
    count = np.zeros(s, np.int64)
    for k in range(users.size):  # free or paying is a coin flip: no branch, a non-free user adds 0
        i = np.uint64(users[k])  # unsigned: an index numba need not wrap around (no sign test per read)
        free = (state[i] == USER) & (tier[i] == FREE)
        h = hours[i]
        podcast = h * share
        j = service[i]
        total[j] += np.float64(podcast) if free else 0.0
        count[j] += free
        hours[i] = h + podcast if free and add else h
    return total, count
