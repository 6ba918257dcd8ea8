"""Listening hours: engagement rises with recommendation match and satisfaction, falls with ads.

hours = base_hours * match^elasticity * [premium] premium_multiplier
        * [free] exp(-ad_elasticity * ad_load) * (1 + satisfaction_elasticity * (satisfaction - 0.5))
        * (1 - outage downtime share)
"""

from __future__ import annotations

import numpy as np


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
