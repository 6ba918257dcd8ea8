"""Satisfaction and the loyalty ladder (Christopher, Payne & Ballantyne).

Satisfaction (0..1) moves toward the month's experience: the logistic of the surplus of
the current option over the outside option plus goodwill, in units of the choice noise.
Goodwill (EUR/month) collects shocks (long waits, outages, RAK, Wrapped) and fades.

Ladder stages, derived each step: prospect (aware, not a user), customer (tenure below
``customer_months``), client (a repeat user), supporter (satisfied client), advocate (a
very satisfied supporter who shared: Wrapped or after a RAK, within the last year).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.special import expit

from sim.agents.listeners import Stage, State
from sim.mechanics.choice import held_utility, kernel_inputs
from sim.mechanics.subscriptions import current_option


USER = np.int8(State.USER)
CUSTOMER, CLIENT, SUPPORTER, ADVOCATE = (np.int8(s) for s in (Stage.CUSTOMER, Stage.CLIENT, Stage.SUPPORTER, Stage.ADVOCATE))

def update_satisfaction(satisfaction: np.ndarray, surplus: np.ndarray, noise_scale: float, weight: float) -> np.ndarray:
    """Smoothed satisfaction after this month's surplus (EUR/month), shape (n,)."""
    experience = expit(surplus / noise_scale)  # the logistic, without overflow for extreme surpluses
    return ((1.0 - weight) * satisfaction + weight * experience).astype(np.float32)


def decay_goodwill(goodwill: np.ndarray, decay: float, dt: float) -> np.ndarray:
    """Goodwill after a step of fading at ``decay`` per month."""
    return (goodwill * (1.0 - decay) ** dt).astype(np.float32)


def stages(user: np.ndarray, tenure: np.ndarray, satisfaction: np.ndarray, shared_recently: np.ndarray, cfg) -> np.ndarray:
    """Ladder stage of each listener, shape (n,), int8; non-users are prospects."""
    stage = np.where(tenure < cfg.customer_months, Stage.CUSTOMER, Stage.CLIENT)
    stage = np.where((stage == Stage.CLIENT) & (satisfaction >= cfg.supporter_satisfaction), Stage.SUPPORTER, stage)
    stage = np.where((stage == Stage.SUPPORTER) & (satisfaction >= cfg.advocate_satisfaction) & shared_recently,
                     Stage.ADVOCATE, stage)
    return np.where(user, stage, Stage.PROSPECT).astype(np.int8)


@njit(cache=True)
def _loyalty_kernel(known, state, satisfaction, goodwill, tenure, stage, utility, outside_value, shared_until, t, noise_scale,
                    weight, fade, dt, customer_months, supporter_satisfaction, advocate_satisfaction):
    """:func:`update_satisfaction`, :func:`decay_goodwill`, tenure and :func:`stages` in one pass over
    ``known``, in place (see :func:`step`)."""
    u = np.uint64(0)  # the next user's utility
    for k in range(known.size):
        i = np.uint64(known[k])  # unsigned: an index numba need not wrap around (no sign test per read)
        g = goodwill[i]  # this month's goodwill counts in the surplus before it fades
        goodwill[i] = g * fade
        if state[i] != USER:  # a prospect: no experience, no tenure (a branch: the exp it skips costs more than a misprediction)
            stage[i] = 0
            continue
        x = (utility[u] + np.float64(g) - np.float64(outside_value[i])) / noise_scale
        u += np.uint64(1)
        e = np.exp(-abs(x))  # the logistic without overflow: 1 / (1 + e^-x), or e^x / (1 + e^x) below 0
        experience = (1.0 if x >= 0 else e) / (1.0 + e)
        sat32 = np.float32((1.0 - weight) * satisfaction[i] + weight * experience)
        satisfaction[i] = sat32
        ten = np.float32(tenure[i] + dt)
        tenure[i] = ten
        client = ten >= customer_months
        supporter = client & (sat32 >= supporter_satisfaction)
        advocate = supporter & (sat32 >= advocate_satisfaction) & (shared_until[i] >= t)
        stage[i] = CUSTOMER + client + supporter + advocate  # the ladder's rungs in order


def update(known: np.ndarray, state: np.ndarray, satisfaction: np.ndarray, goodwill: np.ndarray, tenure: np.ndarray,
         stage: np.ndarray, utility: np.ndarray, outside_value: np.ndarray, shared_until: np.ndarray, t: int, cfg,
         goodwill_decay: float, noise_scale: float, dt: float) -> None:
    """Satisfaction follows the month's experience, goodwill fades, tenure grows, the ladder stage.

    Updates ``satisfaction`` (float32, 0..1), ``goodwill`` (float32, EUR/month), ``tenure``
    (float32, months with the current service) and ``stage`` (int8, :class:`Stage`), all (n,),
    in place, for the listeners who know the market (``known``, ascending: the others are
    prospects with no goodwill). ``state`` (n,) (``State``); ``utility`` (users,) EUR/month: each
    user's utility of their current option, in index order; the surplus is that plus their
    goodwill (before it fades) over their ``outside_value`` (n,) EUR/month;
    ``shared_until`` (n,) the step until which a listener counts as a recent sharer, ``t`` this
    step; ``cfg`` the loyalty section; ``goodwill_decay`` 1/month; ``dt`` months.
    """
    weight = 1.0 - (1.0 - cfg.satisfaction_smoothing) ** dt
    utility = np.asarray(utility, np.float64) if len(utility) else np.zeros(1)  # the kernel reads one value ahead of a non-user
    _loyalty_kernel(known, state, satisfaction, goodwill, tenure, stage, utility, outside_value,
                    shared_until, t, noise_scale, weight, (1.0 - goodwill_decay) ** dt, dt, cfg.customer_months,
                    cfg.supporter_satisfaction, cfg.advocate_satisfaction)


@dataclass(frozen=True)
class Loyalty:
    """One step of loyalty: ``utility`` (m,) EUR/month, each user's utility of the option they hold
    (``results.sharing.users`` order); ``stage`` (n,) int8 the ladder (``memory.stage``, updated in place)."""

    utility: np.ndarray
    stage: np.ndarray


def step(cfg, ctx) -> Loyalty:
    """Satisfaction follows the month's experience, goodwill fades, tenure grows, the ladder stage (:func:`update`,
    in place on the listeners and ``memory.stage``).

    ``cfg`` the loyalty section; ``ctx`` the step: each user's experience is the utility of the option they
    hold (``choice.held_utility``, with their data sharing of ``results.sharing``); goodwill fades at
    ``service_quality.goodwill_decay``; the choice's noise scales the surplus.
    """
    pop, scen, shared = ctx.pop, ctx.scenario, ctx.results.sharing
    held = current_option(pop, ctx.options, shared.users)
    experienced = held_utility(*kernel_inputs(pop, ctx.options, ctx.table, scen), shared.users, held, shared.fraction,
                               shared.sharing)
    update(pop.known, pop.state, pop.satisfaction, pop.goodwill, pop.tenure, ctx.memory.stage, experienced, pop.outside_value,
           pop.shared_until, ctx.t, cfg, scen.mechanisms.service_quality.goodwill_decay, scen.choice.noise_scale, ctx.dt)
    return Loyalty(experienced, ctx.memory.stage)
