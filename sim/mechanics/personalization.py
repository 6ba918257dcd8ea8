"""Personalisation: the data flywheel, recommendation match, privacy.

A listener who shares data with their current service gives it one hour of data per
hour listened (``data_depth``, hours). Match rises with depth and the service's
investment: ``match = 1 + personalization * lift * (1 - exp(-depth / tau))``; a better
match raises the content value and listening hours, which deepen the data further.
Privacy-sensitive listeners (about 30% in the case material) refuse data under an
opt-in policy; under opt-out a share of them opt out and the rest share but dislike
heavier personalisation (``privacy_cost * personalization``, EUR/month).
"""

from __future__ import annotations

import numpy as np


def shares_data(privacy_sensitive: np.ndarray, opt_out_draw: np.ndarray, opt_in: np.ndarray | bool,
                opt_out_share: float) -> np.ndarray:
    """Whether each listener shares listening data under a service's data policy (bool, broadcast shape).

    Under opt-in only listeners who are not privacy-sensitive agree; under opt-out every
    listener shares except the privacy-sensitive ones who actively opt out.
    """
    refuses = privacy_sensitive & (opt_in | (opt_out_draw < opt_out_share))
    return ~refuses


def match(depth_fraction: np.ndarray, personalization: np.ndarray | float, lift: float) -> np.ndarray:
    """Recommendation match (>= 1) from the data depth fraction ``1 - exp(-depth/tau)`` in [0, 1]."""
    return 1.0 + personalization * lift * depth_fraction


def depth_fraction(data_depth: np.ndarray, tau_hours: float) -> np.ndarray:
    """How much of the attainable match the data supports, in [0, 1)."""
    return 1.0 - np.exp(-data_depth / tau_hours)


def grow_depth(data_depth: np.ndarray, hours: np.ndarray, sharing: np.ndarray, dt: float) -> np.ndarray:
    """Data depth after a step of listening: sharers add the hours they listened (hours/month x dt)."""
    return data_depth + np.where(sharing, hours * dt, 0.0).astype(np.float32)


def targeting_quality(depth_frac_free: np.ndarray, personalization: float) -> float:
    """Ad-targeting quality of a service in [0, 1]: mean data depth of its free users x investment."""
    if depth_frac_free.size == 0:
        return 0.0
    return float(personalization * depth_frac_free.mean())
