"""Awareness: Bass (1969) innovation plus word of mouth from friends who use a service.

An unaware listener becomes aware with hazard ``p + q * e_i`` per month, where
``e_i`` is the word-of-mouth exposure: the share of the listener's friends who use a
service (advocates and December Wrapped sharers count more), or the population share
in a fully mixed market. ``p`` rises with marketing spend (see ``campaigns``).

In a fully mixed market the hazard is integrated exactly over the step along the Bass
path, so the adoption curve follows the closed form
``F(t) = (1 - e^{-(p+q)t}) / (1 + (q/p) e^{-(p+q)t})`` whatever the step length; on a
network the exposure is held constant over the step.
"""

from __future__ import annotations

import numpy as np

from sim.agents.listeners import State


def bass_cdf(t: np.ndarray | float, p: float, q: float) -> np.ndarray | float:
    """Bass closed form: share adopted after ``t`` months from nobody, in [0, 1]."""
    e = np.exp(-(p + q) * np.asarray(t, dtype=float))
    return (1.0 - e) / (1.0 + (q / p) * e)


def bass_advance(share: float, p: float, q: float, dt: float) -> float:
    """Adopted share ``dt`` months after ``share`` along the Bass path, in [share, 1].

    The closed form started from ``share``, written so that it stays finite for any
    p >= 0 (p = 0 is the logistic of pure imitation).
    """
    hazard = p + q * share
    if hazard <= 0:
        return share
    u = (1.0 - share) / hazard
    x = np.exp(-(p + q) * dt)
    return float((1.0 - p * u * x) / (1.0 + q * u * x))


def awareness_probability(p: float, q: float, exposure: np.ndarray, dt: float, fully_mixed: bool) -> np.ndarray:
    """Probability that each unaware listener becomes aware this step.

    Parameters
    ----------
    p, q : float
        Innovation and imitation hazards, 1/month.
    exposure : ndarray of shape (n,) or scalar
        Word-of-mouth exposure in [0, ~2] (share of friends who use a service, weighted).
    dt : float
        Step length, months.
    fully_mixed : bool
        If true, ``exposure`` is the population share and the hazard is integrated along
        the Bass path; otherwise the hazard is held constant over the step.
    """
    if fully_mixed and np.size(exposure):
        share = float(np.clip(np.mean(exposure), 0.0, 1.0 - 1e-12))
        after = bass_advance(share, p, q, dt)
        return np.full(np.shape(exposure), (after - share) / (1.0 - share))
    return 1.0 - np.exp(-(p + q * np.asarray(exposure)) * dt)


def exposure(influence: np.ndarray, friends, degree: np.ndarray, fully_mixed: bool, present: np.ndarray) -> np.ndarray:
    """Word-of-mouth exposure of every listener, shape (n,).

    ``influence`` is each listener's word-of-mouth weight (0 for non-users, 1 for a user,
    more for advocates and sharers). Fully mixed: the mean over the people in reach
    (``present``, (n,) bool) for everyone.
    """
    if fully_mixed:
        return np.full(influence.shape, influence[present].mean() if present.any() else 0.0, dtype=np.float32)
    total = friends @ influence.astype(np.float32)
    return np.divide(total, degree, out=np.zeros_like(total), where=degree > 0)


def step(state: np.ndarray, advocate: np.ndarray, sharing: np.ndarray, friends, degree: np.ndarray, fully_mixed: bool,
         p: float, cfg, wom_boost: float, draw: np.ndarray, dt: float) -> np.ndarray:
    """Listeners who become aware this step (bool, shape (n,)).

    ``state`` (n,) listener states (``State``); ``advocate`` and ``sharing`` (n,) bool: on
    the top rung of the loyalty ladder, and sharing their Wrapped now; ``friends`` (n, n)
    sparse adjacency and ``degree`` (n,); ``p`` the innovation hazard after marketing,
    1/month; ``cfg`` the diffusion section (``q``, ``advocate_weight``); ``draw`` uniform (n,);
    ``dt`` months.
    """
    newly = np.zeros(state.size, bool)
    if not cfg.enabled:
        return newly
    influence = (state == State.USER).astype(np.float32) + advocate * (cfg.advocate_weight - 1.0)
    influence = influence + sharing * wom_boost
    unaware = np.flatnonzero(state == State.UNAWARE)
    present = state != State.OUTSIDE
    prob = awareness_probability(p, cfg.q, exposure(influence, friends, degree, fully_mixed, present)[unaware], dt, fully_mixed)
    newly[unaware[draw[unaware] < prob]] = True
    return newly
