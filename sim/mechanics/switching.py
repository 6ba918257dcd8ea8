"""Where churners go: a cost of moving to another service, and a review hazard that falls with tenure.

Moving a library, playlists and listening history to another service is work a user does
once, and the deeper their history the more they lose; reverting to the same service's free
tier, or stopping, keeps it (Burnham, Frels and Mahajan 2003: procedural and relational
switching costs; CIRP 2018: US Premium cancellers revert to ad-supported or stop using
Spotify). A user of service s who considers an option of another service pays, on top of
the logit utility of ``sim.mechanics.choice``,

    moving_i = base + per_tenure_month * min(tenure_i, max_tenure_months) + data_depth * depth_fraction_i

(EUR/month, the same units as the utilities); "nothing" and s's own options carry no
moving cost, so a canceller mostly downgrades or stops.

A subscriber's hazard of reviewing their subscription falls with the months they have paid
(survival curves of subscriptions fall with age: the early bills sort out the poor matches),
so churn falls as the paying base ages, that is as its growth slows:

    review_i = premium_review_rate * (long_tenure_ratio + (1 - long_tenure_ratio) * exp(-paid_i / tenure_months))
"""

from __future__ import annotations

import numpy as np
from numba import njit


def moving_cost(service: np.ndarray, tenure: np.ndarray, data_depth: np.ndarray, tau_hours: float, cfg) -> np.ndarray:
    """Cost of moving to another service, EUR/month, float64 (m,), 0 for a non-user or when switched off.

    ``service`` (m,) int the listener's service (-1 for none), ``tenure`` (m,) months with it,
    ``data_depth`` (m,) hours of listening data, ``tau_hours`` the personalisation depth scale
    (``depth_fraction = 1 - exp(-data_depth / tau_hours)``); ``cfg`` the ``mechanisms.switching`` section.
    """
    if not cfg.enabled:
        return np.zeros(service.shape)
    depth_fraction = 1.0 - np.exp(-np.asarray(data_depth, np.float64) / tau_hours)
    cost = cfg.moving_base + cfg.moving_per_tenure_month * np.minimum(tenure, cfg.moving_max_tenure_months) \
        + cfg.moving_data_depth * depth_fraction
    return np.where(service >= 0, cost, 0.0)


@njit(cache=True)
def charge_moving(u: np.ndarray, service: np.ndarray, o_service: np.ndarray, moving: np.ndarray) -> None:
    """Subtract each decider's moving cost ``moving`` (m,) EUR/month from the options of services other
    than their own, in place in ``u`` (m, n_options); ``service`` (m,) their service (-1 for none:
    no cost), ``o_service`` (n_options,) each option's service (-1 for nothing: no cost)."""
    for k in range(u.shape[0]):
        s = service[k]
        if s < 0 or moving[k] == 0.0:
            continue
        for o in range(o_service.size):
            j = o_service[o]
            if j >= 0 and j != s:
                u[k, o] -= moving[k]


@njit(cache=True, inline="always")
def paying_months(tenure: float, spell_start: int, t: int, dt: float) -> float:
    """Months a subscriber has paid at step ``t``: since their spell (service and tier) started at step
    ``spell_start``, or their tenure with the service for a subscriber from before the run (``spell_start`` < 0)."""
    return tenure if spell_start < 0 else (t - spell_start) * dt


@njit(cache=True, inline="always")
def tenure_review(rate: float, tenure: float, long_tenure_ratio: float, tenure_months: float, dt: float) -> float:
    """Probability per step (``dt`` months) that a subscriber of ``tenure`` months reviews their
    subscription, from the monthly ``rate`` at tenure 0; the rate falls to ``long_tenure_ratio``
    of it with time constant ``tenure_months`` (0: no fall)."""
    if tenure_months > 0.0:
        rate = rate * (long_tenure_ratio + (1.0 - long_tenure_ratio) * np.exp(-tenure / tenure_months))
    keep = 1.0 - min(max(rate, 0.0), 1.0)
    return 1.0 - (keep if dt == 1.0 else keep ** dt)  # x ** 1 is x: no power (tens of ns) in monthly steps


def review_constants(cfg) -> tuple[float, float]:
    """(long_tenure_ratio, tenure_months) of :func:`tenure_review`; no fall with tenure when switched off."""
    return (cfg.long_tenure_ratio, float(cfg.tenure_months)) if cfg.enabled else (1.0, 0.0)
