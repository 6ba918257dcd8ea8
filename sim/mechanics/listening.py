"""Listening hours: engagement rises with recommendation match and satisfaction, falls with ads.

hours = base_hours * match^elasticity * [premium] premium_multiplier
        * [free] exp(-ad_elasticity * ad_load) * (1 + satisfaction_elasticity * (satisfaction - 0.5))
        * (1 - outage downtime share)

with ``ad_load`` that of the listener's service in the listener's region (``sim.policy.RegionalOffers``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sim.agents.listeners import State, Tier
from sim.clock import DAYS_PER_MONTH

USER = np.int8(State.USER)
FREE, TRIAL, PREMIUM = np.int8(Tier.FREE), np.int8(Tier.TRIAL), np.int8(Tier.PREMIUM)


def hours(base_hours: np.ndarray, match: np.ndarray, premium: np.ndarray, free: np.ndarray, ad_load: np.ndarray,
          satisfaction: np.ndarray, downtime: np.ndarray, cfg) -> np.ndarray:
    """Listening hours this month per listener, shape (n,) (0 for non-users is the caller's mask).

    ``ad_load`` (ad-min/hour) and ``downtime`` (share of the month lost to outages) are
    those of each listener's service, shape (n,).
    """
    h = base_hours * match ** cfg.match_elasticity
    h = h * np.where(premium, cfg.premium_multiplier, 1.0)
    h = h * np.where(free, np.exp(-cfg.ad_elasticity * ad_load), 1.0)
    h = h * np.maximum(1.0 + cfg.satisfaction_elasticity * (satisfaction - 0.5), 0.0)
    return (h * (1.0 - downtime)).astype(np.float32)


@njit(cache=True)
def _hours_kernel(known, users, state, service, tier, region, base_hours, fraction, sharing, satisfaction, personalization,
                  ad_load, downtime, personalize, lift, match_elasticity, premium_multiplier, ad_elasticity, satisfaction_elasticity, out):
    """:func:`hours` fused over the users in one pass, into ``out`` (n,) float32 in place: 0 for the other
    listeners of ``known`` (visits ``known`` and ``users`` only; a non-user among ``users`` is skipped).

    The match of a sharing user is ``1 + personalization_j * lift * fraction`` (``fraction`` (m,)
    the data depth fraction of ``users[k]``, ``personalization.sharers``); non-sharers and a
    switched-off personalisation have match 1. ``ad_load`` (S, R) by service and region.
    """
    for k in range(known.size):  # who stopped listening; the others never listened
        out[np.uint64(known[k])] = 0.0  # unsigned: no sign test per write
    ads = np.exp(-ad_elasticity * ad_load)  # per service and region (S, R): what does not depend on the listener, once
    up = 1.0 - downtime
    for k in range(users.size):
        i = np.uint64(users[k])  # unsigned: an index numba need not wrap around (no sign test per read)
        if state[i] != USER:
            continue
        j = service[i]
        h = np.float64(base_hours[i])
        if personalize and sharing[i]:
            match = 1.0 + personalization[j] * lift * fraction[k]
            h *= match if match_elasticity == 1.0 else match ** match_elasticity  # x ** 1 is x: no pow call
        if tier[i] == FREE:
            h *= ads[j, region[i]]
        elif tier[i] == PREMIUM or tier[i] == TRIAL:
            h *= premium_multiplier
        h *= max(1.0 + satisfaction_elasticity * (satisfaction[i] - 0.5), 0.0)
        out[i] = h * up[j]


def hours_of(known: np.ndarray, users: np.ndarray, state: np.ndarray, service: np.ndarray, tier: np.ndarray, region: np.ndarray,
             base_hours: np.ndarray, fraction: np.ndarray, sharing: np.ndarray, satisfaction: np.ndarray,
             personalization: np.ndarray, ad_load: np.ndarray,
         downtime: np.ndarray, personalization_cfg, cfg, hours: np.ndarray) -> None:
    """Listening hours of every listener this month, into ``hours`` (n,) float32 in place (0 for non-users;
    written over ``known``, since a listener who never knew the market never listened: a fresh array
    each step would cost its allocation, at 10M listeners 40 MB of new pages).

    ``users`` the listeners using a service, ascending (``ListenerPopulation.users()``; a superset of them among ``known`` does too);
    ``state`` (n,) (``State``), ``service`` (n,) index (-1 for non-users), ``tier`` (n,)
    (``Tier``), ``region`` (n,) index; ``fraction`` (m,) the data depth fraction of each of ``users`` and
    ``sharing`` (n,) bool: the listener shares data with it; ``personalization`` and
    ``downtime`` (share of the month lost to outages) per service (S,), ``ad_load``
    (ad-min/hour) per service and region (S, R). One fused pass (:func:`_hours_kernel`) of :func:`hours`.
    """
    pers = personalization_cfg
    _hours_kernel(known, users, state, service, tier, region, base_hours, fraction, sharing, satisfaction,
                  personalization.astype(np.float64), ad_load.astype(np.float64), np.asarray(downtime, np.float64),
                  pers.enabled, pers.lift, cfg.match_elasticity, cfg.premium_multiplier,
                  cfg.ad_elasticity, cfg.satisfaction_elasticity, hours)


@dataclass(frozen=True)
class Listening:
    """One step of listening: ``hours`` (n,) float32, hours/month of every listener (``pop.hours``, written in place)."""

    hours: np.ndarray


def step(cfg, ctx) -> Listening:
    """Listening hours of every user this month (:func:`hours_of`), into ``pop.hours`` in place.

    ``cfg`` the listening section; ``ctx`` the step: the users and their data sharing
    (``results.sharing``), the services' personalisation and ad load, this step's outages
    (the share of the month a service is down, severity x days over the month's days, at most 1).
    """
    pop, shared = ctx.pop, ctx.results.sharing
    hours_of(pop.known, shared.users, pop.state, pop.service, pop.tier, pop.region, pop.base_hours, shared.fraction, shared.sharing,
             pop.satisfaction, ctx.table.personalization, ctx.table.ad_load, np.minimum(ctx.outage / DAYS_PER_MONTH, 1.0),
             ctx.scenario.mechanisms.personalization, cfg, pop.hours)
    return Listening(pop.hours)
