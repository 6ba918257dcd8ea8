"""Money that means something: a consumer-price index by region, and reference prices.

Price index. ``inflation`` gives annual consumer-price inflation by area (percent per
year); each region follows one area (``regions[].inflation_area``). The monthly index is
the geometric interpolation of the annual rates, 1 at ``time.start``: month m of year y
multiplies the index by (1 + pi_y / 100) ** (1 / 12); years after the last one given keep
its rate. Listeners judge prices in real terms, ``P / I_r(t)`` (the same as every EUR
valuation of theirs -- wtp, outside value, content value, ad annoyance -- growing with
the index), so a list price held constant is a real price cut. Advertisers' values grow
with the index too: the ad market clears in real terms and its revenue and CPM are
nominal, times the index of the listeners who see the ads.

Reference prices (adaptation-level theory: Helson 1964; Kalyanaram & Winer 1995). For
every service x plan x region the market holds a reference price R, the real price it
is used to: ``R <- R + a (P / I - R)`` each month (``choice.reference_price.adapt``). A
real price above R is felt as a loss on top of the price itself,
``loss_aversion * max(P / I - R, 0)`` EUR/month (Tversky & Kahneman 1991), which fades
as R adapts; a rise prompts a share ``min(1, review_per_rise * (P / I - R) / R)`` of the
plan's payers to reconsider that step (instead of the flat ``choice.price_change_review``).

Price relative to income. A EUR of price weighs more where incomes are lower: in region r the
price term of the utility is multiplied by ``(choice.reference_income / regions[r].income) **
choice.income_elasticity`` (the marginal utility of money falls with income; an elasticity of 1 is
log utility of income). A region without an ``income`` feels prices at face value.
"""

from __future__ import annotations

import numpy as np


def monthly_index(rates: dict[int, float], months: np.ndarray, start: int) -> np.ndarray:
    """Price index at calendar month indices ``months`` (year*12 + month-1), 1 at month ``start``, shape like months.

    ``rates`` annual inflation in percent by year; years before the first keep the first rate,
    years after the last keep the last.
    """
    if not rates:
        return np.ones(np.shape(months))
    years = np.array(sorted(rates))
    pct = np.array([rates[y] for y in years], dtype=float)
    span = np.arange(min(int(np.min(months)), start), max(int(np.max(months)), start) + 1)
    rate = pct[np.clip(np.searchsorted(years, span // 12, side="right") - 1, 0, len(years) - 1)]
    log_step = np.log1p(rate / 100.0) / 12.0  # the change from month m-1 to m uses month m's year
    cum = np.concatenate([[0.0], np.cumsum(log_step[1:])])
    at = cum[np.asarray(months) - span[0]] - cum[start - span[0]]
    return np.exp(at)


def region_index(inflation: dict, areas: list[str | None], months: np.ndarray, start: int) -> np.ndarray:
    """Price index of each region at ``months``, shape (R, len(months)); 1 for a region following no area."""
    return np.array([monthly_index(inflation.get(a, {}) if a else {}, months, start) for a in areas])


def real_prices(plan_price: np.ndarray, users_per_account: np.ndarray, price_multiplier: np.ndarray,
                index: np.ndarray) -> np.ndarray:
    """Real price per user of every (service, plan, region), shape (S, P, R), EUR/month at start prices (NaN: not offered);
    ``price_multiplier`` (S, R) the local net price as a multiple of the list price, ``index`` (R,) the consumer prices."""
    return (plan_price / users_per_account)[:, :, None] * (price_multiplier / index[None, :])[:, None, :]


def adapt(reference: np.ndarray, real: np.ndarray, rate: float, dt: float) -> np.ndarray:
    """The reference prices after a step of ``dt`` months, shape (S, P, R); a new plan starts at its price."""
    a = 1.0 - (1.0 - rate) ** dt
    out = np.where(np.isnan(reference), real, reference + a * (real - reference))
    return out


def loss(real: np.ndarray, reference: np.ndarray, aversion: float) -> np.ndarray:
    """Felt loss of a price above its reference, EUR/month per user, shape (S, P, R) (0 where none)."""
    return np.nan_to_num(aversion * np.maximum(real - reference, 0.0))


def rise_review(real: np.ndarray, reference: np.ndarray, per_rise: float) -> np.ndarray:
    """Share of a plan's payers who reconsider at a price rise, shape (S, P, R): proportional to the real rise."""
    rel = np.divide(real - reference, reference, out=np.zeros_like(real), where=reference > 0)
    return np.clip(per_rise * np.nan_to_num(rel), 0.0, 1.0)


def option_loss(loss_spr: np.ndarray, option_service: np.ndarray, option_plan: np.ndarray) -> np.ndarray:
    """The loss of each option in each region, shape (O, R): premium options take their plan's, others 0."""
    premium = (option_service >= 0) & (option_plan >= 0)
    out = loss_spr[np.maximum(option_service, 0), np.maximum(option_plan, 0)]
    return np.where(premium[:, None], out, 0.0).astype(np.float32)


def income_burden(incomes: list[float | None], reference_income: float, elasticity: float) -> np.ndarray:
    """Weight of a EUR of price in each region's utility, float64 (R,): ``(reference_income / income) **
    elasticity`` (USD per person a year both), 1 for a region without an income."""
    return np.array([1.0 if inc is None else (reference_income / inc) ** elasticity for inc in incomes])
