"""The ad market of the free tiers: inventory, advertiser demand, clearing CPM, fill rate.

Inventory of service j (impressions/month) = sum over its free listeners of hours x
ad load (ad-min/hour, of j in the listener's region) x impressions per ad-minute x weight. Advertiser m brings
``budget_m * allocation_mj`` EUR/month to service j at its value and values an impression at
``value_cpm * (1 + targeting_lift * quality_j * affinity_mj)`` per thousand, where
quality rises with the service's personalisation data and affinity is how strongly the
service's free audience listens to the advertiser's genre. Budgets follow the audience:
they grow with the free tiers' listeners (``audience_elasticity``) and with the ad market
(``budget_growth``), not a fixed total.

Clearing (uniform price per service): each advertiser's demand for impressions is
isoelastic in the CPM (``price_elasticity``): it spends its money at a CPM equal to its value,
more below it, less above. The CPM is the price at which that demand buys the whole
inventory, or the reserve price, at which part of the inventory stays unsold. With an
elasticity above 1 more inventory sells for more money at a lower CPM (diminishing); at 1
the spend is fixed and more inventory only lowers the price. Unsold inventory earns nothing.
Budgets then move toward the channel with the better return (value per EUR) with inertia.

Advertisers are a struct-of-arrays :class:`AdvertiserBook`, not Mesa agents: they have no
behaviour of their own beyond this market's clearing and reallocation, which are matrix
operations over all advertisers at once (M x S), so per-agent objects would only be
stacked into arrays and unstacked again every step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numba import njit

from sim.agents.listeners import State, Tier
from sim.kernels import AHEAD, prefetch
from sim.mechanics.personalization import targeting_quality

USER, FREE = np.int8(State.USER), np.int8(Tier.FREE)


@dataclass(frozen=True)
class AdvertiserBook:
    """The advertisers, M of them, as arrays.

    Attributes
    ----------
    budget : ndarray (M,)
        Base budget, EUR/month (before growth and seasonality).
    genre : ndarray (M,) int
        Target genre.
    allocation : ndarray (M, S+1)
        Share of each budget per service; the last column is the outside medium. Rows sum to 1.
    audience : float
        Free listeners (real) of every service when the market first had any: the audience the
        base budgets were set for (NaN until then).
    """

    budget: np.ndarray
    genre: np.ndarray
    allocation: np.ndarray
    audience: float = float("nan")

    @classmethod
    def draw(cls, cfg, sells_ads: np.ndarray, n_genres: int, rng: np.random.Generator) -> "AdvertiserBook":
        """Lognormal budgets summing to ``cfg.total_budget``, a random genre each, and the
        initial streaming share split evenly over the services that sell ads (``sells_ads`` (S,))."""
        raw = rng.lognormal(0.0, 1.0, cfg.advertisers)
        budget = cfg.total_budget * raw / raw.sum()
        sellers = np.append(sells_ads.astype(float), 0.0)
        alloc = sellers / max(sellers.sum(), 1.0) * cfg.initial_streaming_share
        alloc[-1] = 1.0 - alloc.sum()
        # one draw per advertiser, in order: the stream stays that of the former per-agent draws
        genre = np.array([int(rng.integers(n_genres)) for _ in range(cfg.advertisers)], dtype=np.int64)
        return cls(budget, genre, np.tile(alloc, (cfg.advertisers, 1)))

    def budgets(self, audience: float, years: float, month: int, cfg) -> tuple[np.ndarray, float]:
        """This month's budgets, EUR/month (M,), for a free audience of ``audience`` real listeners, and the
        reference audience (the first one seen): base x (audience / reference)^audience_elasticity x
        ad-market growth and the Q4 boost."""
        reference = audience if np.isnan(self.audience) and audience > 0 else self.audience
        reach = (audience / reference) ** cfg.audience_elasticity if reference > 0 else 1.0  # NaN > 0 is False
        return seasonal_budget(self.budget, years, month, cfg.budget_growth, cfg.q4_boost) * reach, reference


@dataclass(frozen=True)
class AdMarket:
    """One step of the ad market, per service (S,) unless said otherwise.

    Attributes
    ----------
    book : AdvertiserBook
        The advertisers after reallocating their budgets (for the next step).
    revenue_eur : ndarray (S,)
        Ad revenue, EUR/month (0 where nothing is sold).
    cpm_eur : ndarray (S,)
        Clearing price, EUR per 1000 impressions (NaN where nothing is on offer).
    fill_rate : ndarray (S,)
        Share of the inventory sold (NaN where nothing is on offer).
    impressions, inventory : ndarray (S,)
        Impressions sold and offered per month (NaN for services without a free tier).
    """

    book: AdvertiserBook
    revenue_eur: np.ndarray
    cpm_eur: np.ndarray
    fill_rate: np.ndarray
    impressions: np.ndarray
    inventory: np.ndarray

    @classmethod
    def closed(cls, book: AdvertiserBook, free_tier: np.ndarray) -> "AdMarket":
        """No ad market this step (disabled, or no service sells ads): nothing sold, book unchanged."""
        s = free_tier.size
        none = np.where(free_tier, 0.0, np.nan)
        return cls(book, np.zeros(s), np.full(s, np.nan), np.full(s, np.nan), none, none.copy())


@dataclass(frozen=True)
class Audience:
    """The free tiers' audience, per service (S,): what the ad market needs of the listeners.

    Attributes
    ----------
    hours : ndarray (S,)
        Listening hours of the service's free listeners, simulated hours/month.
    listeners : ndarray (S,)
        Free listeners, simulated.
    data : ndarray (S,)
        Sum over the free listeners of the share of the personalisation data their service holds (0..1 each).
    genre_hours : ndarray (S, G)
        Hours x taste summed over the free listeners, per genre.
    price_index : ndarray (S,)
        The free listeners' regional consumer-price indices summed (``sim.mechanics.prices``; 1 each without inflation).
    region_hours : ndarray (S, R)
        ``hours`` by the listeners' region.
    """

    hours: np.ndarray
    listeners: np.ndarray
    data: np.ndarray
    genre_hours: np.ndarray
    price_index: np.ndarray
    region_hours: np.ndarray

    def mean_price_index(self) -> float:
        """The free listeners' mean consumer-price index over every service (1 without a free listener)."""
        count = float(self.listeners.sum())
        return float(self.price_index.sum()) / count if count > 0 else 1.0

    @classmethod
    def of(cls, service: np.ndarray, hours: np.ndarray, taste: np.ndarray, data_fraction: np.ndarray, s: int,
           price_index: np.ndarray | None = None, region: np.ndarray | None = None, r: int = 1) -> "Audience":
        """From the free listeners' service (F,), hours (F,), tastes (F, G), data fractions (F,), price indices (F,, default 1)
        and regions (F,) of ``r`` (default all in region 0)."""
        genre = np.stack([(hours[service == j, None] * taste[service == j]).sum(axis=0) for j in range(s)]).astype(float)
        index = np.ones(service.size) if price_index is None else price_index
        where = np.zeros(service.size, np.int64) if region is None else region
        by_region = np.bincount(service * r + where, weights=hours, minlength=s * r)[:s * r].reshape(s, r).astype(float)
        return cls(np.bincount(service, weights=hours, minlength=s)[:s].astype(float),
                   np.bincount(service, minlength=s)[:s].astype(float),
                   np.bincount(service, weights=data_fraction, minlength=s)[:s].astype(float), genre,
                   np.bincount(service, weights=index, minlength=s)[:s].astype(float), by_region)

    @classmethod
    def gather(cls, users: np.ndarray, state: np.ndarray, service: np.ndarray, tier: np.ndarray, hours: np.ndarray, taste: np.ndarray,
               fraction: np.ndarray, sharing: np.ndarray, personalize: bool, s: int,
               region: np.ndarray, price_index: np.ndarray) -> "Audience":
        """From the users (``users``, ascending; a superset does too) in one pass: the users on a free tier count, their data fraction is
        ``fraction`` (m,), the data depth fraction of each of ``users`` (``personalization.sharers``), where they share data (and personalisation is on), else 0;
        ``price_index`` (R,) the consumer prices of each ``region``."""
        return cls(*_gather(users, state, service, tier, hours, taste, fraction, sharing, personalize, s, region, price_index))


@njit(cache=True)
def _gather(users, state, service, tier, hours, taste, fraction, sharing, personalize, s, region, price_index):
    total = np.zeros(s)
    by_region = np.zeros((s, price_index.size))
    count = np.zeros(s)
    data = np.zeros(s)
    index = np.zeros(s)
    genre = np.zeros((s, taste.shape[1]))
    # the free users first, without a branch (free or paying is a coin flip the processor would mispredict)
    free = np.empty(users.size, np.int32)  # positions in ``users``
    m = 0
    for k in range(users.size):
        i = np.uint64(users[k])  # unsigned: an index numba need not wrap around (no sign test per read)
        free[m] = k
        m += (state[i] == USER) & (tier[i] == FREE)
    for f in range(m):
        if f + AHEAD < m:  # the free users are scattered: ask for a later one's fields while summing this one
            prefetch(users[free[f + AHEAD]], service, hours, region, sharing, taste)
        k = free[f]
        i = np.uint64(users[k])  # unsigned: an index numba need not wrap around (no sign test per read)
        j = service[i]
        h = np.float64(hours[i])
        total[j] += h
        by_region[j, region[i]] += h
        count[j] += 1
        index[j] += price_index[region[i]]
        if personalize and sharing[i]:
            data[j] += fraction[k]
        for g in range(taste.shape[1]):
            genre[j, g] += h * taste[i, g]
    return total, count, data, genre, index, by_region


def clear_market(book: AdvertiserBook, audience: Audience, free_tier: np.ndarray, ad_load: np.ndarray, personalization: np.ndarray,
         cfg, weight: float, years: float, month: int, dt: float) -> AdMarket:
    """Clear this step's ad market and move the advertisers' budgets.

    Parameters
    ----------
    book : AdvertiserBook
    audience : Audience
        The free listeners' hours, numbers, data and genre hours per service.
    free_tier, personalization : ndarray (S,)
        Whether each service has a free tier (in some region) and its personalisation (0..1).
    ad_load : ndarray (S, R)
        Ad-min/hour of each service's free tier in each region (0 where not offered).
    cfg : AdsConfig
    weight : float
        Real people per simulated listener.
    years, month : float, int
        Years since the start (budget growth) and the calendar month (Q4 boost).
    dt : float
        Step length, months.
    """
    if not cfg.enabled or not free_tier.any():
        return AdMarket.closed(book, free_tier)
    s = free_tier.size
    sim_hours = audience.hours  # simulated listeners' hours
    supply = inventory(audience.region_hours * weight, ad_load, cfg.impressions_per_ad_minute).sum(axis=1) * free_tier
    quality = targeting_quality(audience.data, audience.listeners, personalization)
    genre_hours = audience.genre_hours
    # affinity: the audience's share of hours in each genre relative to an even split (1 = average)
    affinity_sg = genre_hours.shape[1] * np.divide(genre_hours, sim_hours[:, None], out=np.ones_like(genre_hours),
                                                   where=sim_hours[:, None] > 0)
    values = impression_values(cfg.value_cpm, cfg.targeting_lift, quality, affinity_sg[:, book.genre].T)
    budgets, reference = book.budgets(float(audience.listeners.sum()) * weight, years, month, cfg)
    alloc = book.allocation
    demand = budgets[:, None] * alloc[:, :s]
    cpm, sold, spend = clear(demand, values, supply, cfg.reserve_cpm, cfg.price_elasticity)
    returns = np.concatenate([np.divide(values, cpm[None, :], out=np.zeros_like(values),
                                        where=np.isfinite(cpm)[None, :] & (cpm[None, :] > 0)),
                              np.full((alloc.shape[0], 1), cfg.outside_cpm_value)], axis=1)
    offer = supply >= 1.0  # less than one impression is nothing on offer
    available = np.concatenate([offer, [True]])
    moved = AdvertiserBook(book.budget, book.genre, reallocate(alloc, returns, available, cfg.inertia ** dt, cfg.responsiveness),
                           reference)
    return AdMarket(
        book=moved, revenue_eur=spend.sum(axis=0), cpm_eur=cpm,
        fill_rate=np.divide(sold, supply, out=np.full(s, np.nan), where=offer),
        impressions=np.where(free_tier, sold, np.nan), inventory=np.where(free_tier, supply, np.nan),
    )


def step(cfg, ctx) -> AdMarket:
    """This step's ad market (:func:`clear_market`) over the free tiers' audience; the advertisers'
    book moves (``memory.advertisers``).

    ``cfg`` the ads section; ``ctx`` the step: the users and their data sharing (``results.sharing``),
    their hours (``pop.hours``, after listening), the offers, the date. With inflation the
    advertisers' values follow the consumer prices of the listeners they reach.
    """
    pop, shared, table = ctx.pop, ctx.results.sharing, ctx.table
    audience = Audience.gather(shared.users, pop.state, pop.service, pop.tier, pop.hours, pop.taste, shared.fraction,
                               shared.sharing, ctx.scenario.mechanisms.personalization.enabled, table.n, pop.region,
                               pop.region_price_index)
    market = clear_market(ctx.memory.advertisers, audience, table.free_tier, table.ad_load, table.personalization, cfg,
                          ctx.weight, ctx.years, ctx.date.month, ctx.dt)
    if ctx.scenario.inflation and audience.listeners.sum() > 0:
        nominal = audience.mean_price_index()
        market = replace(market, revenue_eur=market.revenue_eur * nominal, cpm_eur=market.cpm_eur * nominal)
    ctx.memory.advertisers = market.book
    return market


def inventory(free_hours: np.ndarray, ad_load: np.ndarray, impressions_per_ad_minute: float) -> np.ndarray:
    """Impressions on offer per month, shape as ``free_hours``.

    ``free_hours``: listening hours of each service's free tier, real hours/month, (S,) or by region (S, R),
    with ``ad_load`` (ad-min/hour) of the same shape.
    """
    return free_hours * ad_load * impressions_per_ad_minute


def impression_values(value_cpm: float, targeting_lift: float, quality: np.ndarray, affinity: np.ndarray) -> np.ndarray:
    """Value of 1000 impressions to each advertiser on each service, EUR, shape (M, S).

    ``quality`` (S,) in [0, 1]; ``affinity`` (M, S): the audience's relative taste for the
    advertiser's genre (1 = average).
    """
    return value_cpm * (1.0 + targeting_lift * quality[None, :] * affinity)


def clear(demand: np.ndarray, values: np.ndarray, supply: np.ndarray, reserve_cpm: float,
          elasticity: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clear each service's ad market at one price per service.

    Advertiser m's demand for service j's impressions is isoelastic: at a CPM ``c`` it buys
    ``1000 demand_mj / value_mj * (value_mj / c) ** elasticity`` impressions, so it spends
    ``demand_mj`` at its value, ``demand_mj * (value_mj / c) ** (elasticity - 1)`` at ``c``. The
    price is the one at which the impressions demanded equal the inventory,
    ``(1000 sum_m demand_mj value_mj ** (elasticity - 1) / supply_j) ** (1 / elasticity)``,
    or the reserve if that is lower (part of the inventory then stays unsold).

    Parameters
    ----------
    demand : ndarray (M, S)
        EUR/month each advertiser spends on each service at a CPM equal to its value.
    values : ndarray (M, S)
        Each advertiser's value of 1000 impressions, EUR (> 0 where it has demand).
    supply : ndarray (S,)
        Impressions on offer per month.
    reserve_cpm : float
        Floor price, EUR per 1000 impressions.
    elasticity : float
        Price elasticity of the impressions demanded (1: a fixed spend).

    Returns
    -------
    cpm : ndarray (S,), EUR per 1000 impressions (NaN where nothing is on offer: under one impression)
    sold : ndarray (S,), impressions sold per month, 0 <= sold <= supply
    spend : ndarray (M, S), EUR/month each advertiser pays
    """
    offer = supply >= 1.0  # less than one impression is nothing on offer (and would price at infinity)
    buying = (demand > 0) & (values > 0)
    # the impressions advertiser m demands at a CPM c are 1000 * weight_mj / c ** elasticity; pull sums them
    weight = np.where(buying, demand * np.where(buying, values, 1.0) ** (elasticity - 1.0), 0.0)
    pull = weight.sum(axis=0)
    clearing = (1000.0 * pull / np.where(offer, supply, 1.0)) ** (1.0 / elasticity)
    cpm = np.where(offer, np.maximum(clearing, reserve_cpm), np.nan)
    below = clearing < reserve_cpm  # the reserve binds (so it is > 0): what the demand buys there
    with np.errstate(divide="ignore", invalid="ignore"):  # no demand (pull 0) sells nothing
        sold = np.where(offer & (pull > 0), np.where(below, np.minimum(1000.0 * pull / reserve_cpm ** elasticity, supply), supply), 0.0)
        # each advertiser pays its share of the demand at the price (no power of value / price: no overflow)
        spend = np.where(pull > 0, weight / pull, 0.0) * np.where(offer, sold * cpm / 1000.0, 0.0)
    return cpm, sold, spend


def reallocate(allocation: np.ndarray, returns: np.ndarray, available: np.ndarray, inertia: float,
               responsiveness: float) -> np.ndarray:
    """Advertisers' new budget split, shape (M, S+1), rows summing to 1.

    ``returns`` (M, S+1): value per EUR on each channel (the last is the outside medium);
    ``available`` (S+1,) bool: channels that sell ads this step. Each advertiser moves
    ``1 - inertia`` of its budget toward softmax(responsiveness * return).
    """
    z = np.where(available[None, :], responsiveness * returns, -np.inf)
    z = z - z.max(axis=1, keepdims=True)
    target = np.exp(z)
    target /= target.sum(axis=1, keepdims=True)
    new = inertia * np.where(available[None, :], allocation, 0.0) + (1.0 - inertia) * target
    return new / new.sum(axis=1, keepdims=True)


def seasonal_budget(base: np.ndarray, years_elapsed: float, month: int, growth: float, q4_boost: float) -> np.ndarray:
    """Budgets this month, EUR/month: yearly growth and the October-December holiday boost."""
    return base * (1.0 + growth) ** years_elapsed * (1.0 + (q4_boost if month >= 10 else 0.0))
