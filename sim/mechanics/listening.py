"""Listening hours: engagement rises with recommendation match and satisfaction, falls with ads.

hours = base_hours * match^elasticity * [premium] premium_multiplier
        * [free] exp(-ad_elasticity * ad_load) * (1 + satisfaction_elasticity * (satisfaction - 0.5))
        * (1 - outage downtime share)
"""

from __future__ import annotations

import numpy as np

from sim.agents.listeners import Tier
from sim.mechanics.personalization import match


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


def step(user: np.ndarray, service: np.ndarray, tier: np.ndarray, base_hours: np.ndarray, data_fraction: np.ndarray,
         satisfaction: np.ndarray, personalization: np.ndarray, ad_load: np.ndarray, downtime: np.ndarray,
         personalization_cfg, cfg) -> np.ndarray:
    """Listening hours of every listener this month, shape (n,) float32 (0 for non-users).

    ``user`` (n,) bool, ``service`` (n,) index (clipped at 0), ``tier`` (n,) (``Tier``);
    ``data_fraction`` (n,) share of the attainable match the listener's data supports (0
    for non-sharers); ``personalization``, ``ad_load`` (ad-min/hour) and ``downtime`` (share
    of the month lost to outages) per service (S,).
    """
    pers = personalization_cfg
    fit = match(data_fraction, personalization[service], pers.lift) if pers.enabled else np.ones(user.size, np.float32)
    h = hours(base_hours, fit, (tier == Tier.PREMIUM) | (tier == Tier.TRIAL), tier == Tier.FREE, ad_load[service],
              satisfaction, downtime[service], cfg)
    return np.where(user, h, 0.0).astype(np.float32)
