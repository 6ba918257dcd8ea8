"""Listeners: agents stored as arrays (struct of arrays).

Every listener has its own attributes, state and stochastic decisions, but the
population lives in numpy arrays so one step over a million listeners is a few
vectorised passes. ``population[i]`` returns a read-only view of one listener and
:meth:`ListenerPopulation.select` picks listeners by state, segment, service or tier,
so "each listener decides" stays inspectable.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp
from numba import njit

from sim.agents.network import small_world
from sim.scenario import Constant, Lognormal, Normal, Scenario, Uniform


class State(IntEnum):
    UNAWARE = 0  # does not know the market
    AWARE = 1  # knows the market, uses nothing
    USER = 2  # uses a service
    LAPSED = 3  # used a service, left, may come back
    OUTSIDE = 4  # not yet in the market's reach (sim.mechanics.market): counts in no KPI


class Tier(IntEnum):
    NONE = -1
    FREE = 0
    TRIAL = 1
    PREMIUM = 2


NO_SERVICE = -1
USER = np.int8(State.USER)


@njit(cache=True)
def _merge(known: np.ndarray, m: int, new: np.ndarray) -> int:
    """Merge the ascending ``new`` (k,) into the ascending ``known[:m]`` in place, from the back
    (``known`` has room for them); returns m + k. Linear: no sort of the whole set."""
    a, b, out = m - 1, new.size - 1, m + new.size - 1
    while b >= 0:
        if a >= 0 and known[a] > new[b]:
            known[out] = known[a]
            a -= 1
        else:
            known[out] = new[b]
            b -= 1
        out -= 1
    return m + new.size


@njit(cache=True)
def _users(known: np.ndarray, state: np.ndarray) -> np.ndarray:
    """The listeners of ``known`` (ascending) whose state is USER, in one pass."""
    out = np.empty(known.size, np.int32)
    m = 0
    for i in known:  # no branch (a user or not is a coin flip): write always, advance on a user (m <= k)
        out[m] = i
        m += state[i] == USER
    return out[:m]


def draw(dist: Any, size: int, rng: np.random.Generator) -> np.ndarray:
    """Sample a scenario distribution, shape (size,), float32."""
    if isinstance(dist, Constant):
        out = np.full(size, dist.value)
    elif isinstance(dist, Lognormal):
        out = dist.median * np.exp(dist.sigma * rng.standard_normal(size))
    elif isinstance(dist, Normal):
        out = dist.mean + dist.sd * rng.standard_normal(size)
        out = np.clip(out, dist.low if dist.low is not None else -np.inf, dist.high if dist.high is not None else np.inf)
    elif isinstance(dist, Uniform):
        out = rng.uniform(dist.low, dist.high, size)
    else:  # pragma: no cover - the schema admits no other kind
        raise TypeError(f"unknown distribution {dist!r}")
    return out.astype(np.float32)


def _allocate(shares: list[float], n: int, rng: np.random.Generator | None) -> np.ndarray:
    """Group index for n listeners with exact group sizes (largest remainder), shuffled (or grouped without ``rng``)."""
    quotas = np.asarray(shares) * n
    counts = np.floor(quotas).astype(np.int64)
    counts[np.argsort(counts - quotas)[: n - counts.sum()]] += 1
    groups = np.repeat(np.arange(len(shares), dtype=np.int16), counts)
    return groups if rng is None else rng.permutation(groups)


@dataclass(frozen=True)
class ListenerView:
    """Read-only snapshot of one listener's attributes and state."""

    index: int
    attributes: Mapping[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.attributes[name]
        except KeyError:
            raise AttributeError(name) from None


class ListenerPopulation:
    """All simulated listeners of one market, as arrays of shape (n,).

    Static attributes: ``segment, region, student, household, wtp`` (EUR/month),
    ``ad_sensitivity`` (EUR/ad-minute), ``outside_value`` (EUR/month), ``base_hours``
    (hours/month), ``privacy_sensitive``, ``consent_draw`` (uniform draw deciding an
    opt-out), ``price_multiplier``, ``taste`` (n, genres), and the friendship network.

    Dynamic state: ``state`` (:class:`State`), ``service`` (index or -1), ``tier``
    (:class:`Tier`), ``plan`` (index into the service's plans or -1), ``tenure``
    (months with the current service), ``hours`` (this month), ``satisfaction`` (0..1),
    ``goodwill`` (EUR/month, decaying shocks), ``data_depth`` (hours of listening data
    the current service holds), ``trial_used`` (bitmask of services), ``trial_end``
    (step), ``spell_start`` (step the current service-tier spell began, -1 before the
    start), ``shared_until`` (step until which the listener counts as a recent sharer).
    """

    STATIC = ("segment", "region", "student", "household", "wtp", "ad_sensitivity", "outside_value",
              "base_hours", "privacy_sensitive", "consent_draw", "price_multiplier")
    DYNAMIC = ("state", "service", "tier", "plan", "tenure", "hours", "satisfaction", "goodwill",
               "data_depth", "trial_used", "trial_end", "spell_start", "shared_until")

    def __init__(self, scenario: Scenario, rng: np.random.Generator):
        n = scenario.market.agents
        self.n = n
        self.segment_names = [s.name for s in scenario.segments]
        self.segment_age_bands = [s.age_band for s in scenario.segments]  # the age band is the segment's
        self.region_names = [r.name for r in scenario.regions]
        # listeners sit in segment order: the network's ring follows it, so friends are near in memory
        # (attributes are drawn independently of the order, so within a segment it is random)
        self.segment = _allocate([s.share for s in scenario.segments], n, None)
        capacity = scenario.region_capacity()  # regions with their own schedules: sized at the horizon's largest
        self.region = _allocate([r.share for r in scenario.regions] if scenario.regions[0].share is not None
                                else list(capacity / capacity.sum()), n, rng)

        value_mult = np.array([r.value_multiplier for r in scenario.regions], dtype=np.float32)[self.region]
        # a region's price multiplier, stored once per region (``price_multiplier`` gives each listener's)
        self.region_price_multiplier = np.array([r.price_multiplier for r in scenario.regions], dtype=np.float32)
        self.wtp = np.empty(n, np.float32)
        self.ad_sensitivity = np.empty(n, np.float32)
        self.outside_value = np.empty(n, np.float32)
        self.base_hours = np.empty(n, np.float32)
        self.privacy_sensitive = np.zeros(n, bool)
        self.student = np.zeros(n, bool)
        self.household = np.zeros(n, bool)
        genres = scenario.mechanisms.personalization.genres
        self.taste = np.empty((n, genres), np.float32)
        for k, seg in enumerate(scenario.segments):
            idx = np.flatnonzero(self.segment == k)
            m = idx.size
            self.wtp[idx] = np.maximum(draw(seg.wtp, m, rng), 0.0)
            self.ad_sensitivity[idx] = np.maximum(draw(seg.ad_sensitivity, m, rng), 0.0)
            self.outside_value[idx] = draw(seg.outside_value, m, rng)
            self.base_hours[idx] = np.maximum(draw(seg.base_hours, m, rng), 0.0)
            self.privacy_sensitive[idx] = rng.random(m) < seg.privacy_sensitive
            self.student[idx] = seg.student
            self.household[idx] = rng.random(m) < seg.household_share
            self.taste[idx] = rng.dirichlet(np.full(genres, seg.taste_concentration), m).astype(np.float32)
        self.wtp *= value_mult
        self.ad_sensitivity *= value_mult
        self.outside_value *= value_mult
        self.consent_draw = rng.random(n).astype(np.float32)
        self.mean_base_hours = float(self.base_hours.mean()) or 1.0

        net = scenario.network
        self.fully_mixed = net.kind == "fully_mixed"
        if self.fully_mixed:
            self.friends = sp.csr_matrix((n, n), dtype=bool)
        else:
            self.friends = small_world(self.segment, net.mean_degree, net.rewire, net.homophily, rng)

        self.state = np.full(n, State.UNAWARE, np.int8)
        self.available = np.ones((n, len(scenario.all_services())), bool)  # may use service j (sim.mechanics.market)
        self.region_price_index = np.ones(len(self.region_names), np.float32)  # consumer prices per region, 1 at the start
        self.service = np.full(n, NO_SERVICE, np.int8)
        self.tier = np.full(n, Tier.NONE, np.int8)
        self.plan = np.full(n, -1, np.int8)
        self.tenure = np.zeros(n, np.float32)
        self.hours = np.zeros(n, np.float32)
        self.satisfaction = np.full(n, 0.5, np.float32)
        self.goodwill = np.zeros(n, np.float32)
        self.data_depth = np.zeros(n, np.float32)
        self.trial_used = np.zeros(n, np.uint16)
        # steps fit int16: at most 600 months, 2,609 weeks
        self.trial_end = np.full(n, -1, np.int16)
        self.spell_start = np.full(n, -1, np.int16)
        self.shared_until = np.full(n, -1, np.int16)
        # who knows the market, ascending: the first n_known entries (see ``known``)
        self._known = np.zeros(n, np.int32)
        self.n_known = 0

    # ------------------------------------------------------------ who knows the market

    @property
    def price_multiplier(self) -> np.ndarray:
        """Each listener's local net price as a multiple of the list price (their region's), float32 (n,)."""
        return self.region_price_multiplier[self.region]

    @property
    def price_index(self) -> np.ndarray:
        """Consumer prices of each listener's region this month, 1 at the start, float32 (n,)."""
        return self.region_price_index[self.region]

    @property
    def known(self) -> np.ndarray:
        """Listeners who know the market (AWARE, USER or LAPSED), ascending, int32 (m,).

        No one unlearns the market, so this only grows; the others (UNAWARE or OUTSIDE) take
        part in no choice, listening, ad or KPI, and the mechanisms about them visit these only.
        """
        return self._known[:self.n_known]

    def users(self) -> np.ndarray:
        """Listeners who use a service now, ascending, int32 (m,)."""
        return _users(self.known, self.state)

    def become_aware(self, idx: np.ndarray) -> None:
        """Unaware listeners ``idx`` (ascending, (m,)) become AWARE and join :attr:`known`."""
        self.state[idx] = State.AWARE
        self.n_known = _merge(self._known, self.n_known, np.asarray(idx, np.int32))

    def recount_known(self) -> None:
        """Rebuild :attr:`known` from the states (after the initial market is placed)."""
        idx = np.flatnonzero((self.state != State.UNAWARE) & (self.state != State.OUTSIDE))
        self._known[:idx.size] = idx
        self.n_known = idx.size

    # ------------------------------------------------------------ agent-style access

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> ListenerView:
        if not -self.n <= i < self.n:
            raise IndexError(f"listener {i} out of range 0..{self.n - 1}")
        i = int(i) % self.n
        attrs = {name: getattr(self, name)[i].item() for name in self.STATIC + self.DYNAMIC}
        attrs["segment_name"] = self.segment_names[attrs["segment"]]
        attrs["age_band"] = self.segment_age_bands[attrs["segment"]]
        attrs["region_name"] = self.region_names[attrs["region"]]
        attrs["state"] = State(attrs["state"]).name
        attrs["tier"] = Tier(attrs["tier"]).name
        attrs["taste"] = tuple(float(x) for x in self.taste[i])
        attrs["friends"] = tuple(int(x) for x in self.friends.indices[self.friends.indptr[i]:self.friends.indptr[i + 1]])
        return ListenerView(i, MappingProxyType(attrs))

    def select(self, *, state: State | None = None, segment: str | int | None = None,
               service: int | None = None, tier: Tier | None = None, age_band: str | None = None) -> np.ndarray:
        """Indices of the listeners matching every given criterion, shape (m,), int64."""
        mask = np.ones(self.n, bool)
        if age_band is not None:
            mask &= np.isin(self.segment, [k for k, band in enumerate(self.segment_age_bands) if band == age_band])
        if state is not None:
            mask &= self.state == state
        if segment is not None:
            code = self.segment_names.index(segment) if isinstance(segment, str) else segment
            mask &= self.segment == code
        if service is not None:
            mask &= self.service == service
        if tier is not None:
            mask &= self.tier == tier
        return np.flatnonzero(mask)

    @property
    def degree(self) -> np.ndarray:
        """Number of friends of each listener, shape (n,)."""
        return np.diff(self.friends.indptr)

    def nbytes(self) -> int:
        """Memory held by the population's arrays, bytes."""
        arrays = [getattr(self, a) for a in self.STATIC + self.DYNAMIC] + [self.taste]
        net = self.friends.data.nbytes + self.friends.indices.nbytes + self.friends.indptr.nbytes
        return int(sum(a.nbytes for a in arrays) + net)
