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
from enum import IntEnum

import numpy as np
from scipy.special import expit


class Stage(IntEnum):
    PROSPECT = 0
    CUSTOMER = 1
    CLIENT = 2
    SUPPORTER = 3
    ADVOCATE = 4


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


@dataclass(frozen=True)
class Loyalty:
    """Listener state after a step's experience, shape (n,) each.

    Attributes
    ----------
    satisfaction : float32, 0..1
    goodwill : float32, EUR/month, after fading
    tenure : float32, months with the current service
    stage : int8, ladder stage (:class:`Stage`)
    """

    satisfaction: np.ndarray
    goodwill: np.ndarray
    tenure: np.ndarray
    stage: np.ndarray


def step(user: np.ndarray, satisfaction: np.ndarray, goodwill: np.ndarray, tenure: np.ndarray, surplus: np.ndarray,
         shared_recently: np.ndarray, cfg, goodwill_decay: float, noise_scale: float, dt: float) -> Loyalty:
    """Satisfaction follows the month's experience, goodwill fades, tenure grows, the ladder stage.

    ``user`` (n,) bool; ``surplus`` (users,) EUR/month: each user's current option over
    the outside option plus goodwill, in ``user`` order; ``shared_recently`` (n,) bool;
    ``cfg`` the loyalty section; ``goodwill_decay`` 1/month; ``dt`` months.
    """
    satisfaction = satisfaction.copy()
    if surplus.size:
        satisfaction[user] = update_satisfaction(satisfaction[user], surplus, noise_scale,
                                                 1.0 - (1.0 - cfg.satisfaction_smoothing) ** dt)
    tenure = tenure.copy()
    tenure[user] += dt
    return Loyalty(satisfaction, decay_goodwill(goodwill, goodwill_decay, dt), tenure,
                   stages(user, tenure, satisfaction, shared_recently, cfg))
