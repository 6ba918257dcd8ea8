"""Listeners: agents stored as arrays (struct of arrays).

Every listener has its own attributes, state and stochastic decisions, but the
population lives in numpy arrays so one step over a million listeners is a few
vectorised passes. ``population[i]`` returns a read-only view of listener ``i`` and
:meth:`ListenerPopulation.select` picks listeners by state, segment, service or tier,
so "each listener decides" stays inspectable.

Storage. A listener has a permanent id (0..n-1: their draws, their ties in the network,
the views above) and a slot, their row in every array. The listeners who know the market
fill the first slots (:meth:`ListenerPopulation.gather_known`, as soon as they learn of it),
so that the passes over them, most of a step's work, read contiguous memory rather than a
few values of every cache line. ``ident`` gives the id in each slot, ``slot_of`` the slot of
each id. A listener who does not know the market has no history: every array of
:attr:`ListenerPopulation.HISTORY` holds its initial value for them, so moving them only
moves their attributes, their state and what their friends say.
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
from sim.kernels import AHEAD, prefetch
from sim.mechanics import ecosystems
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


class Stage(IntEnum):
    """A user's rung on the loyalty ladder (``sim.mechanics.loyalty``); everyone else is a prospect."""

    PROSPECT = 0
    CUSTOMER = 1
    CLIENT = 2
    SUPPORTER = 3
    ADVOCATE = 4


NO_SERVICE = -1


def trial_mask_dtype(services: int) -> np.dtype:
    """The dtype of ``trial_used``, a bit per service: the fewest of 16, 32 or 64 bits that hold ``services``
    (16 for every market of the scenarios; a classroom game with many teams needs more)."""
    return np.dtype(np.uint16 if services <= 16 else np.uint32 if services <= 32 else np.uint64)
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
def _front(known: np.ndarray, prefix: int) -> tuple[np.ndarray, np.ndarray]:
    """The moves that put the listeners ``known`` (ascending, (m,)) in slots 0..m-1, of which
    0..prefix-1 already hold known listeners: ``holes`` (k,), the other slots below m in
    ascending order, and ``movers`` (k,), the known listeners at slot m or above, ascending;
    each mover trades places with the hole of the same rank."""
    m = known.size
    movers = known[np.searchsorted(known, m):]
    holes = np.empty(movers.size, np.int32)
    h, k = 0, np.searchsorted(known, prefix)
    for s in range(prefix, m):
        if h == holes.size:
            break
        if k < m and known[k] == s:
            k += 1
        else:
            holes[h] = s
            h += 1
    return holes, movers


@njit(cache=True)
def _trade(rows: np.ndarray, holes: np.ndarray, movers: np.ndarray) -> None:
    """Swap rows ``holes[k]`` and ``movers[k]`` of ``rows`` (n, bytes per row) uint8, in place. The
    movers are scattered: each one's row is asked for ahead (the holes are nearly consecutive);
    with nothing to compute meanwhile, further ahead than in the model's kernels (10-18% less)."""
    width, ahead = rows.shape[1], 4 * AHEAD
    for k in range(holes.size):
        if k + ahead < holes.size:
            prefetch(movers[k + ahead], rows)
        h, m = holes[k], movers[k]
        for b in range(width):
            x = rows[h, b]
            rows[h, b] = rows[m, b]
            rows[m, b] = x


@njit(cache=True)
def _users(known: np.ndarray, state: np.ndarray) -> np.ndarray:
    """The listeners of ``known`` (ascending) whose state is USER, in one pass."""
    out = np.empty(known.size, np.int32)
    m = 0
    for k in range(known.size):  # no branch (a user or not is a coin flip): write always, advance on a user (m <= k)
        i = known[k]
        out[m] = i
        m += state[np.uint64(i)] == USER  # unsigned: no sign test per read
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

    Static attributes: ``segment, region, ecosystem`` (platform ecosystem, ``sim.mechanics.ecosystems``),
    ``student, household, wtp`` (EUR/month),
    ``ad_sensitivity`` (EUR/ad-minute), ``outside_value`` (EUR/month), ``base_hours``
    (hours/month), ``privacy_sensitive``, ``consent_draw`` (uniform draw deciding an
    opt-out), ``price_multiplier``, ``taste`` (n, genres), and the friendship network
    (``friends``, CSR over ids; ``degree`` the number of friends per slot). A listener's taste for each
    service is not stored: it is derived from ``taste_key`` and their id (``sim.mechanics.tastes``).

    Storage (module docstring): every array is per slot; ``ident`` (n,) int32 the id in each
    slot, ``slot_of`` (n,) int32 the slot of each id.

    Dynamic state: ``state`` (:class:`State`), ``service`` (index or -1), ``tier``
    (:class:`Tier`), ``plan`` (index into the service's plans or -1), ``tenure``
    (months with the current service), ``hours`` (this month), ``satisfaction`` (0..1),
    ``goodwill`` (EUR/month, decaying shocks), ``data_depth`` (hours of listening data
    the current service holds), ``trial_used`` (bitmask of services), ``trial_end``
    (step), ``spell_start`` (step the current service-tier spell began, -1 before the
    start), ``shared_until`` (step until which the listener counts as a recent sharer).
    """

    STATIC = ("segment", "region", "ecosystem", "student", "household", "wtp", "ad_sensitivity", "outside_value",
              "base_hours", "privacy_sensitive", "consent_draw", "price_multiplier")
    DYNAMIC = ("state", "service", "tier", "plan", "tenure", "hours", "satisfaction", "goodwill",
               "data_depth", "trial_used", "trial_end", "spell_start", "shared_until")
    # the dynamic state but ``state``: (dtype, initial value), the same for every listener who does not know the market
    HISTORY = {"service": (np.int8, NO_SERVICE), "tier": (np.int8, Tier.NONE), "plan": (np.int8, -1),
               "tenure": (np.float32, 0.0), "hours": (np.float32, 0.0), "satisfaction": (np.float32, 0.5),
               "goodwill": (np.float32, 0.0), "data_depth": (np.float32, 0.0), "trial_used": (np.uint16, 0),
               "trial_end": (np.int16, -1), "spell_start": (np.int16, -1), "shared_until": (np.int16, -1)}  # steps fit int16
    # the arrays whose rows move with their listener (``price_multiplier`` is per region; HISTORY need not move)
    SLOTTED = tuple(a for a in STATIC if a != "price_multiplier") + ("state", "taste", "available", "degree", "ident")

    def __init__(self, scenario: Scenario, rng: np.random.Generator, ecosystem_rng: np.random.Generator | None = None,
                 taste_key: np.uint64 = np.uint64(0)):
        """``rng`` draws every attribute but the ecosystem, which ``ecosystem_rng`` draws (a stream of its
        own: no other draw moves with the ecosystems' shares; default ``rng``, after every other attribute);
        ``taste_key`` is the counter-based "taste" stream's key (each listener's taste for each service)."""
        n = scenario.market.agents
        self.taste_key = np.uint64(taste_key)  # the "taste" stream's key: each listener's taste for each service (sim.mechanics.tastes)
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
        # ids and slots (see the module docstring): the network holds ids; the number of friends is kept per slot
        self.ident = np.arange(n, dtype=np.int32)
        self.slot_of = np.arange(n, dtype=np.int32)
        degree = np.diff(self.friends.indptr)
        self.degree = degree.astype(np.uint16 if degree.max(initial=0) < 2 ** 16 else np.int32)

        self.state = np.full(n, State.UNAWARE, np.int8)
        self.available = np.ones((n, len(scenario.all_services())), bool)  # may use service j (sim.mechanics.market)
        self.region_price_index = np.ones(len(self.region_names), np.float32)  # consumer prices per region, 1 at the start
        mask = trial_mask_dtype(len(scenario.all_services()))
        for name, (dtype, initial) in self.HISTORY.items():
            setattr(self, name, np.full(n, initial, mask if name == "trial_used" else dtype))
        # who knows the market, ascending: the first n_known entries (see ``known``), of which slots
        # 0..n_front-1 (see ``gather_known``)
        self._known = np.zeros(n, np.int32)
        self.n_known = 0
        self.n_front = 0
        shares = ecosystems.region_shares(scenario.mechanisms.ecosystems, self.region_names)
        self.ecosystem = ecosystems.draw(self.region, shares, rng if ecosystem_rng is None else ecosystem_rng)

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
        """Slots of the listeners who know the market (AWARE, USER or LAPSED), ascending, int32 (m,).

        No one unlearns the market, so this only grows; the others (UNAWARE or OUTSIDE) take
        part in no choice, listening, ad or KPI, and the mechanisms about them visit these only.
        Between steps they are slots 0..m-1 (:meth:`gather_known`).
        """
        return self._known[:self.n_known]

    def users(self) -> np.ndarray:
        """Slots of the listeners who use a service now, ascending, int32 (m,)."""
        return _users(self.known, self.state)

    def become_aware(self, idx: np.ndarray) -> None:
        """Unaware listeners in slots ``idx`` (ascending, (m,)) become AWARE and join :attr:`known`."""
        self.state[idx] = State.AWARE
        self.n_known = _merge(self._known, self.n_known, np.asarray(idx, np.int32))

    def recount_known(self) -> None:
        """Rebuild :attr:`known` from the states (after the initial market is placed, or listeners are reset)."""
        idx = np.flatnonzero((self.state != State.UNAWARE) & (self.state != State.OUTSIDE))
        self._known[:idx.size] = idx
        self.n_known = idx.size
        self.n_front = 0

    def forget(self, idx: np.ndarray) -> None:
        """Listeners in slots ``idx`` no longer know the market and lose their history (see :attr:`HISTORY`);
        call :meth:`recount_known` after."""
        self.state[idx] = State.UNAWARE
        for name, (_, initial) in self.HISTORY.items():
            getattr(self, name)[idx] = initial

    def gather_known(self, others: list[np.ndarray], history: bool = False) -> np.ndarray:
        """Move the listeners who know the market to the first slots, in place; returns the slots
        of those who joined since the last call, ascending (k,).

        Each of them trades slots with an unaware listener below the new count, in every array of
        :attr:`SLOTTED` and ``others`` (the model's arrays with a row per slot); ``slot_of``
        follows. Listeners who have just learnt of the market have no history yet
        (:attr:`HISTORY`), so those arrays stay, unless ``history`` (the initial market is placed
        with one). The work is proportional to the newcomers, not to the population.
        """
        holes, movers = _front(self.known, self.n_front)
        if holes.size:
            names = self.SLOTTED + (tuple(self.HISTORY) if history else ())
            for array in [getattr(self, name) for name in names] + list(others):
                _trade(array.view(np.uint8).reshape(self.n, -1), holes, movers)  # any dtype: its rows as bytes
            self.slot_of[self.ident[holes]] = holes
            self.slot_of[self.ident[movers]] = movers
        joined = np.arange(self.n_front, self.n_known, dtype=np.int32)
        self._known[self.n_front:self.n_known] = joined
        self.n_front = self.n_known
        return joined

    # ------------------------------------------------------------ agent-style access

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> ListenerView:
        """Listener ``i`` (an id, not a slot)."""
        if not -self.n <= i < self.n:
            raise IndexError(f"listener {i} out of range 0..{self.n - 1}")
        i = int(i) % self.n
        s = self.slot_of[i]
        attrs = {name: getattr(self, name)[s].item() for name in self.STATIC + self.DYNAMIC}
        attrs["segment_name"] = self.segment_names[attrs["segment"]]
        attrs["age_band"] = self.segment_age_bands[attrs["segment"]]
        attrs["region_name"] = self.region_names[attrs["region"]]
        attrs["state"] = State(attrs["state"]).name
        attrs["tier"] = Tier(attrs["tier"]).name
        attrs["taste"] = tuple(float(x) for x in self.taste[s])
        attrs["friends"] = tuple(int(x) for x in self.friends.indices[self.friends.indptr[i]:self.friends.indptr[i + 1]])
        return ListenerView(i, MappingProxyType(attrs))

    def select(self, *, state: State | None = None, segment: str | int | None = None,
               service: int | None = None, tier: Tier | None = None, age_band: str | None = None) -> np.ndarray:
        """Ids of the listeners matching every given criterion, ascending, shape (m,), int64."""
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
        return np.sort(self.ident[mask]).astype(np.int64)
