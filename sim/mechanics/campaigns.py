"""Campaigns: marketing pushes, the December Wrapped campaign, trials.

Marketing raises the Bass innovation hazard with diminishing returns,
``p * (1 + lift * ln(1 + spend / reference))`` with spend per person in reach, and
gives the spending service a pull (salience, EUR/month) on listeners not yet with it.
In December a Wrapped service's users share their year in music with probability
``share_rate``: a sharer's word of mouth counts ``1 + wom_boost`` and every user who
sees their Wrapped gains goodwill. Trials (``trial_months`` free premium months for a
first-time subscriber) are started in the choice and end in a new choice with premium
as the current option; their royalties are a cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.agents.listeners import State


def marketing_multiplier(total_spend: float, population: float, lift: float, reference: float) -> float:
    """Factor on the Bass innovation hazard from all services' marketing (>= 1)."""
    return 1.0 + lift * np.log1p(total_spend / population / reference)


def salience(spend: np.ndarray, population: float, acquisition: float, reference: float) -> np.ndarray:
    """Marketing pull of each service on newcomers, EUR/month, shape (S,)."""
    return acquisition * np.log1p(spend / population / reference) / np.log(2.0)


@dataclass(frozen=True)
class Wrapped:
    """One step of the Wrapped campaign, per listener (n,).

    Attributes
    ----------
    sharers : bool, the listeners who share their Wrapped this step (none outside December)
    goodwill : float32, goodwill after the campaign, EUR/month: the array passed in, changed in place (as support does)
    december : bool, whether the campaign ran this step
    """

    sharers: np.ndarray
    goodwill: np.ndarray
    december: bool = False


def wrapped_step(cfg, ctx) -> Wrapped:
    """December: users of a Wrapped service share (probability ``share_rate`` a month) and gain goodwill.

    ``cfg`` the campaigns section; ``ctx`` the step (:class:`sim.mechanics.context.StepContext`): the
    listeners who know the market (every user is among them), ``table.wrapped`` (S,) bool: the service
    runs Wrapped; the ``wrapped`` stream, drawn for those users only. In place: the goodwill (n,), spread
    over December's steps; the sharers count as recent sharers for a year (``shared_until``) and are
    ``memory.sharing_now`` (none outside December).
    """
    pop, clock = ctx.pop, ctx.clock
    if not cfg.enabled or ctx.date.month != 12:
        wrapped = Wrapped(np.zeros(pop.n, bool), pop.goodwill)
    else:
        known = pop.known
        users = known[(pop.state[known] == State.USER) & ctx.table.wrapped[np.maximum(pop.service[known], 0)]]
        sharers = np.zeros(pop.n, bool)
        sharers[ctx.draws.below("wrapped", users, clock.probability(cfg.wrapped.share_rate))] = True
        pop.goodwill[users] += cfg.wrapped.goodwill * clock.months_per_step
        pop.shared_until[sharers] = ctx.shared_until()
        wrapped = Wrapped(sharers, pop.goodwill, True)
    ctx.memory.sharing_now = wrapped.sharers
    return wrapped
