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

from sim.agents.listeners import State, Tier

RUNS_AFTER = "listening"  # it adds to the hours listening wrote, before the ad market reads them (sim.mechanics)


@dataclass(frozen=True)
class Podcasts:
    """One step of podcasts: ``hours_per_free_user`` (S,) podcast hours per free user of each service,
    hours/month (NaN for a service without free users)."""

    hours_per_free_user: np.ndarray


def step(cfg, ctx) -> Podcasts:
    """Free users add ``cfg.share`` of their music hours in podcasts, into ``pop.hours`` in place (after
    ``listening``, before the ad market reads the hours). ``ctx`` the step: the users (``results.sharing``)."""
    pop, users, s = ctx.pop, ctx.results.sharing.users, ctx.table.n
    free = users[(pop.state[users] == State.USER) & (pop.tier[users] == Tier.FREE)]
    podcast = pop.hours[free] * np.float32(cfg.share)
    if cfg.share > 0:
        pop.hours[free] += podcast
    total = np.bincount(pop.service[free], weights=podcast, minlength=s)[:s]
    count = np.bincount(pop.service[free], minlength=s)[:s]
    return Podcasts(np.divide(total, count, out=np.full(s, np.nan), where=count > 0))
