"""Platform ecosystems and bundles: a listener's persistent, personal match with one service.

Each listener belongs to at most one platform ecosystem, drawn once at birth from their region's
shares (``mechanisms.ecosystems.shares``): Apple (owns an iPhone), Amazon (a Prime member) or
Google (an Android phone with YouTube). A service that belongs to an ecosystem (``ecosystem`` in
its policy: Apple Music, Amazon Music Unlimited, YouTube Music) is worth a bonus on its premium
plans to that ecosystem's members only (``mechanisms.ecosystems.bonus``, EUR/month): the bundle's
discount (Music Unlimited at $7.99 for Prime members against $9.99), the device's integration
(Siri, Alexa, a preinstalled app) and later bundles (Apple One from 2020-10).

Without it a service's utility is the same for every listener but the month's logit noise, so
services are near-perfect substitutes: a stronger rival takes payers from the others rather than
adding any. A persistent listener-by-service match is the random-coefficient (mixed) logit's answer
(Berry, Levinsohn and Pakes 1995; Train 2009, ch. 6), here with the coefficient's support given by
who owns which device or membership. The term enters ``sim.mechanics.choice``'s utility as
:func:`ecosystem_value`; one byte per listener (``ListenerPopulation.ecosystem``).
"""

from __future__ import annotations

import numpy as np

#: The ecosystems, coded 1.. in the listener array; 0 is none. A service's ``ecosystem`` is one of
#: these or "none".
ECOSYSTEMS = ("apple", "amazon", "google")
NONE = 0


def code(name: str) -> int:
    """The code of an ecosystem name (``ECOSYSTEMS``), 0 for "none"."""
    return ECOSYSTEMS.index(name) + 1 if name in ECOSYSTEMS else NONE


def draw(region: np.ndarray, shares: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each listener's ecosystem, uint8 (n,) (0 none, k for ``ECOSYSTEMS[k - 1]``), drawn once from their
    region's shares: ``region`` (n,) int, ``shares`` (R, len(ECOSYSTEMS)) fractions of a region's people
    (each row sums to at most 1; the rest belong to none)."""
    cdf = np.cumsum(shares, axis=1)[region]  # (n, E)
    below = (rng.random(region.size)[:, None] >= cdf).sum(axis=1)  # 0..E: the ecosystems the draw passes
    return np.where(below < cdf.shape[1], below + 1, NONE).astype(np.uint8)


def region_shares(cfg, region_names: list[str]) -> np.ndarray:
    """The ecosystems' shares of each region's people, float64 (R, len(ECOSYSTEMS)); a region not
    listed in ``cfg.shares`` has no ecosystem members."""
    return np.array([[getattr(cfg.shares[r], e) if r in cfg.shares else 0.0 for e in ECOSYSTEMS] for r in region_names])


def service_bonus(ecosystems: list[str], cfg) -> tuple[np.ndarray, np.ndarray]:
    """Each service's ecosystem code, uint8 (S,), and the bonus its premium plans give that ecosystem's
    members, float32 (S,) EUR/month (0 for a service of no ecosystem, or with the mechanism off)."""
    codes = np.array([code(e) for e in ecosystems], np.uint8)
    bonus = np.array([getattr(cfg.bonus, e) if e in ECOSYSTEMS and cfg.enabled else 0.0 for e in ecosystems], np.float32)
    return codes, bonus


def ecosystem_value(bonus: float, member: bool) -> float:
    """What a service's premium plan is worth more to a member of its ecosystem, EUR/month: the bonus
    for a member, 0 for anyone else."""
    return bonus * member
