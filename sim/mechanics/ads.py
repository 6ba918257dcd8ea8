"""The ad market of the free tiers: inventory, advertiser demand, clearing CPM, fill rate.

Inventory of service j (impressions/month) = sum over its free listeners of hours x
ad load (ad-min/hour) x impressions per ad-minute x weight. Advertiser m brings
``budget_m * allocation_mj`` EUR/month to service j and values an impression at
``value_cpm * (1 + targeting_lift * quality_j * affinity_mj)`` per thousand, where
quality rises with the service's personalisation data and affinity is how strongly the
service's free audience listens to the advertiser's genre.

Clearing (uniform price per service): the CPM is the larger of the reserve price and
the price at which the demand of the advertisers still willing to pay it buys the whole
inventory; advertisers whose value is below the price drop out. Impressions sold
never exceed inventory, spend never exceeds budget, unsold inventory earns nothing.
Budgets then move toward the channel with the better return (value per EUR) with inertia.
"""

from __future__ import annotations

import numpy as np


def inventory(free_hours: np.ndarray, ad_load: np.ndarray, impressions_per_ad_minute: float) -> np.ndarray:
    """Impressions on offer per service per month, shape (S,).

    ``free_hours``: listening hours of each service's free tier, real hours/month, (S,).
    """
    return free_hours * ad_load * impressions_per_ad_minute


def impression_values(value_cpm: float, targeting_lift: float, quality: np.ndarray, affinity: np.ndarray) -> np.ndarray:
    """Value of 1000 impressions to each advertiser on each service, EUR, shape (M, S).

    ``quality`` (S,) in [0, 1]; ``affinity`` (M, S): the audience's relative taste for the
    advertiser's genre (1 = average).
    """
    return value_cpm * (1.0 + targeting_lift * quality[None, :] * affinity)


def clear(demand: np.ndarray, values: np.ndarray, supply: np.ndarray, reserve_cpm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clear each service's ad market at one price per service.

    Demand is unit-elastic: an advertiser spends its whole allocation if the price is at
    most its value, nothing otherwise. The price is the lowest one (>= reserve) at which
    the willing advertisers' demand fits the inventory; if even the highest-value buyers
    want more than the inventory at their value, the price is that value and the
    inventory is rationed pro rata.

    Parameters
    ----------
    demand : ndarray (M, S)
        EUR/month each advertiser brings to each service.
    values : ndarray (M, S)
        Each advertiser's value of 1000 impressions, EUR.
    supply : ndarray (S,)
        Impressions on offer per month.
    reserve_cpm : float
        Floor price, EUR per 1000 impressions.

    Returns
    -------
    cpm : ndarray (S,), EUR per 1000 impressions (NaN where nothing is on offer)
    sold : ndarray (S,), impressions sold per month, 0 <= sold <= supply
    spend : ndarray (M, S), EUR/month each advertiser pays, <= demand
    """
    m, s = demand.shape
    cpm = np.full(s, np.nan)
    sold = np.zeros(s)
    spend = np.zeros((m, s))
    for j in np.flatnonzero(supply > 0):
        willing = (demand[:, j] > 0) & (values[:, j] >= reserve_cpm)
        order = np.flatnonzero(willing)[np.argsort(-values[willing, j], kind="stable")]
        if order.size == 0:
            cpm[j] = reserve_cpm
            continue
        v = values[order, j]
        money = np.cumsum(demand[order, j])  # EUR of the k highest-value buyers
        price, buyers = reserve_cpm, order.size
        if 1000.0 * money[-1] > supply[j] * reserve_cpm:  # at the reserve they want more than is on offer
            for k in range(order.size):  # the k+1 highest-value buyers are active
                with np.errstate(over="ignore"):  # a vanishing inventory prices at infinity: rationed below
                    c = 1000.0 * money[k] / supply[j]
                lower = v[k + 1] if k + 1 < order.size else reserve_cpm
                if c >= v[k]:  # they want more than the inventory even at their value: ration
                    price, buyers = v[k], k + 1
                    break
                if c > lower:
                    price, buyers = c, k + 1
                    break
        active = order[:buyers]
        budget = money[buyers - 1]
        cpm[j] = price
        sold[j] = supply[j] if budget * 1000.0 >= supply[j] * price else 1000.0 * budget / price
        spend[active, j] = demand[active, j] * (sold[j] * price / 1000.0) / budget
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
