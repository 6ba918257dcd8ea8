"""Responses grounded in evidence (issue 12 item 4; docs/validation.md gives each source and the model's figure).

Each compares a scenario with a changed lever against the same scenario unchanged, on common random
numbers (same seeds), and allows for sampling error: the seeds' spread, not a hand-picked margin.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.agents.listeners import State, Tier
from sim.mechanics.service_quality import wait_effect
from sim.model import MarketModel
from sim.scenario import ServiceQualityConfig, apply_overrides, load_scenario
from tests.helpers import ROOT

SEEDS = (0, 1, 2)


def _run(scenario, seed, until=None):
    model = MarketModel(scenario, seed)
    while model.running and (until is None or model.t < until):
        model.step()
    return model


def _with_events(scenario, *events):
    return apply_overrides(scenario, {"timeline": [*scenario.model_dump()["timeline"], *events]})


# ---------------------------------------------------------------- ads: Pandora and the ad market


@pytest.fixture(scope="module")
def baseline_2020():
    """The shipped baseline to 2020-12 at 40,000 listeners (a 72-month run takes about a second)."""
    return apply_overrides(load_scenario(ROOT / "scenarios" / "baseline.yaml"), {"market.agents": 40000, "time.months": 72})


LEVER_AT, LEVER_MONTHS = "2019-01", 24  # a lever pulled from 2019-01, measured over the 24 months to 2020-12


def _lever_start(scenario) -> int:
    return int(np.flatnonzero(MarketModel(scenario, 0).dates == np.datetime64(f"{LEVER_AT}-01"))[0])


def _focal_free(pop) -> np.ndarray:
    return (pop.state == State.USER) & (pop.service == 0) & (pop.tier == Tier.FREE)


def _cohort_hours_and_ad_revenue(scenario, seed, start):
    """Hours at the horizon of the focal free users of month ``start`` still on the free tier (intent to treat;
    leavers count as 0), and the focal ad revenue from ``start`` on (EUR)."""
    model = _run(scenario, seed, until=start)
    pop = model.population
    cohort = pop.ident[_focal_free(pop)]  # by id: listeners change slots as others become aware
    while model.running:
        model.step()
    hours = float(pop.hours[_focal_free(pop) & np.isin(pop.ident, cohort)].sum())
    return hours, float(model.records["revenue_ads_eur"][start:start + LEVER_MONTHS, 0].sum())


def _one_more_ad_minute(base):
    """Per seed: the cohort's hours per extra ad per hour (relative), and the focal ad revenue over the 24 months
    (relative), +1 ad-minute per hour from 2019-01 against the same scenario unchanged."""
    more = _with_events(base, {"at": LEVER_AT, "set": {"services.focal.ad_load": base.services.focal.ad_load + 1}})
    start = _lever_start(base)
    out = []
    for s in SEEDS:
        (h0, r0), (h1, r1) = _cohort_hours_and_ad_revenue(base, s, start), _cohort_hours_and_ad_revenue(more, s, start)
        out.append(((h1 / h0 - 1) / base.mechanisms.ads.impressions_per_ad_minute, r1 / r0 - 1))
    return np.array(out)


def _sem(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / np.sqrt(len(x)))


def test_one_more_ad_minute_costs_about_two_percent_of_listening_per_ad_and_sells(baseline_2020):
    """+1 ad-minute per hour from 2019-01 at the baseline.

    Huang, Reiley & Riabov (Pandora, ~35M listeners, 21 months): about -2% hours per extra ad per hour, long run,
    -1% to -3% across outcome measures (docs/evidence.md section 2); one ad-minute is ``impressions_per_ad_minute``
    ads. The focal ad revenue over the 24 months rises at least 10% (issue 23) and at most by the 40% more
    inventory an hour (2.5 -> 3.5 ad-minutes): more would mean the CPM rose with the supply."""
    r = _one_more_ad_minute(baseline_2020)
    per_ad, revenue = r[:, 0], r[:, 1]
    assert -0.03 - 3 * _sem(per_ad) <= per_ad.mean() <= -0.01 + 3 * _sem(per_ad), per_ad
    assert 0.10 - 3 * _sem(revenue) <= revenue.mean() <= 0.40 + 3 * _sem(revenue), revenue


def test_without_elastic_demand_or_audience_budgets_more_ads_hardly_sell(baseline_2020):
    """Mutation check of the ad market (ads.clear, AdvertiserBook.budgets): a fixed spend (price_elasticity 1) and a
    fixed total budget (audience_elasticity 0) sell the extra inventory for little more: the +10% above vanishes."""
    off = apply_overrides(baseline_2020, {"mechanisms.ads.price_elasticity": 1.0, "mechanisms.ads.audience_elasticity": 0.0})
    revenue = _one_more_ad_minute(off)[:, 1]
    assert revenue.mean() + 3 * _sem(revenue) < 0.10, revenue


# ---------------------------------------------------------------- price rises


def _price_response(base, rise: dict, at: str = LEVER_AT, months: int = LEVER_MONTHS) -> np.ndarray:
    """Per seed (paired: the same seed with and without the rise): relative premium subscribers after ``months``,
    relative subscription revenue over them, and the rise month's churn over the prior six months' mean (with
    the rise), float (seeds, 3)."""
    up = _with_events(base, {"at": at, "set": rise})
    start = _lever_start(base)
    out = []
    for s in SEEDS:
        a, b = _run(base, s).records, _run(up, s).records
        span = slice(start, start + months)
        prem = b["premium_subscribers"][start + months - 1, 0] / a["premium_subscribers"][start + months - 1, 0] - 1
        rev = b["revenue_subscription_eur"][span, 0].sum() / a["revenue_subscription_eur"][span, 0].sum() - 1
        churn = b["churn_premium_monthly"][:, 0]
        out.append((prem, rev, churn[start] / churn[start - 6:start].mean()))
    return np.array(out)


INDIVIDUAL_PLUS_10 = {"services.focal.plans.individual.price": 10.99}


def test_a_ten_percent_rise_of_the_individual_plan(baseline_2020):
    """+10% on the individual plan from 2019-01 at the baseline (issue 23): premium subscribers after 24 months
    -4% to -0.5%, subscription revenue over them +1% to +8%, that month's premium churn at most 1.5x the prior six
    months' mean. The Netflix analogues (data/regional/price_response.csv): +25% on long-time members in 2016 cost
    about 4% of the base, +60% in 2011 3.3%; a +10% rise costs less."""
    r = _price_response(baseline_2020, INDIVIDUAL_PLUS_10)
    premium, revenue, spike = r[:, 0], r[:, 1], r[:, 2]
    assert -0.04 - 3 * _sem(premium) <= premium.mean() <= -0.005 + 3 * _sem(premium), premium
    assert 0.01 - 3 * _sem(revenue) <= revenue.mean() <= 0.08 + 3 * _sem(revenue), revenue
    assert spike.mean() <= 1.5 + 3 * _sem(spike), spike


def test_with_a_euro_weighing_a_euro_everywhere_a_rise_loses_money(baseline_2020):
    """Mutation check of price relative to income (choice.income_elasticity, regions[].income): without it a EUR of
    price weighs a EUR of valuation in every region, and the rise costs more than 4% of the subscribers and loses
    revenue. (The flat logit, choice.plan_nest 1, still passes the test above at this baseline: the nest is not
    what carries the response.)"""
    flat = apply_overrides(baseline_2020, {"choice.income_elasticity": 0.0})
    r = _price_response(flat, INDIVIDUAL_PLUS_10)
    assert r[:, 0].mean() < -0.04, r[:, 0]
    assert r[:, 1].mean() + 3 * _sem(r[:, 1]) < 0.01, r[:, 1]


# ---------------------------------------------------------------- support


def test_waits_lower_goodwill_continuously():
    cfg = ServiceQualityConfig(wait_shape="continuous", wait_threshold_hours=5.0, wait_penalty=3.0, wait_review=0.5)
    waits = np.array([0.5, 1.0, 2.0, 4.0, 5.0, 6.0, 10.0, 20.0])
    penalty, review = wait_effect(waits, cfg)
    assert np.all(np.diff(penalty) > 0) and np.all(np.diff(review) >= 0) and np.all(np.diff(review[:6]) > 0)
    assert penalty[0] > 0 and review[0] > 0  # even a short wait costs a little
    assert penalty[6] - penalty[5] > penalty[4] - penalty[3]  # steeper past the promise
    old = ServiceQualityConfig(wait_threshold_hours=5.0)
    assert wait_effect(np.array([4.0]), old)[0][0] == 0  # the threshold shape: nothing below it


def _yearly_median_response(records) -> np.ndarray:
    """The focal service's median monthly response time of each calendar year (hours), shape (years,)."""
    hours = records["support_response_hours"][:, 0]
    return np.array([np.median(hours[k:k + 12]) for k in range(0, hours.size, 12)])


def test_the_baselines_support_answers_within_twelve_hours_every_year():
    """The staffing rule (advisors per thousand subscribers) keeps the baseline's median response time at or under
    12 hours in every year of its horizon (issue 23; the case's goal is under 5 hours, typically 2-3)."""
    base = apply_overrides(load_scenario(ROOT / "scenarios" / "baseline.yaml"), {"market.agents": 40000})
    medians = np.array([_yearly_median_response(_run(base, s).records) for s in SEEDS])
    assert medians.max() <= 12.0, medians.round(1)


def _staff_cut(base, share: float):
    """The focal service's support staff (the core and the rule) at ``share`` of the baseline's from 2019-01."""
    focal = base.services.focal
    return _with_events(base, {"at": LEVER_AT, "set": {"services.focal.support_staff": int(focal.support_staff * share),
                                                       "services.focal.support_per_1000": focal.support_per_1000 * share}})


def test_a_staff_cut_of_forty_percent_breaks_the_promise_and_raises_premium_churn(baseline_2020):
    """Staff -40% for the two years 2019-2020: the median response passes the 5-hour goal in both years, and premium
    churn rises by at least 0.1 point a month (issue 23) and at most 1 point (our bound: a sixth of the baseline's
    monthly premium churn; no pre-2021 evidence ties response times to churn, docs/evidence.md section 3)."""
    cut = _staff_cut(baseline_2020, 0.6)
    start = _lever_start(baseline_2020)
    span = slice(start, start + LEVER_MONTHS)
    diffs = []
    for s in SEEDS:
        a, b = _run(baseline_2020, s).records, _run(cut, s).records
        assert np.all(_yearly_median_response(b)[start // 12:] > 5.0), _yearly_median_response(b)
        diffs.append(b["churn_premium_monthly"][span, 0].mean() - a["churn_premium_monthly"][span, 0].mean())
    diff = np.array(diffs)
    assert diff.mean() > 3 * _sem(diff), diff  # beyond noise
    assert 0.001 - 3 * _sem(diff) <= diff.mean() <= 0.01 + 3 * _sem(diff), diff
