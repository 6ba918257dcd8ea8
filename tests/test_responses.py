"""Responses grounded in evidence (issue 12 item 4; docs/validation.md gives each source and the model's figure).

Each compares a scenario with a changed lever against the same scenario unchanged, on common random
numbers (same seeds), and allows for sampling error: the seeds' spread, not a hand-picked margin. The set-ups
and measures are those of ``sim.analysis.responses``, which ``make validate`` reports.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis.responses import (BASELINE, INDIVIDUAL_PLUS_10, LEVER_MONTHS, SEEDS, lever_start, one_more_ad_minute,
                                    price_response, run, sem, staff_cut, yearly_median_response)
from sim.mechanics.service_quality import wait_effect
from sim.scenario import ServiceQualityConfig, apply_overrides, load_scenario

# ---------------------------------------------------------------- ads: Pandora and the ad market


@pytest.fixture(scope="module")
def baseline_2020():
    """The shipped baseline to 2020-12 at 40,000 listeners (a 72-month run takes about a second)."""
    return apply_overrides(load_scenario(BASELINE), {"market.agents": 40000, "time.months": 72})


def test_one_more_ad_minute_costs_about_two_percent_of_listening_per_ad_and_sells(baseline_2020):
    """+1 ad-minute per hour from 2019-01 at the baseline.

    Huang, Reiley & Riabov (Pandora, ~35M listeners, 21 months): about -2% hours per extra ad per hour, long run,
    -1% to -3% across outcome measures (docs/evidence.md section 2); one ad-minute is ``impressions_per_ad_minute``
    ads. The focal ad revenue over the 24 months rises at least 10% (issue 23) and at most by the 40% more
    inventory an hour (2.5 -> 3.5 ad-minutes): more would mean the CPM rose with the supply."""
    r = one_more_ad_minute(baseline_2020)
    per_ad, revenue = r[:, 0], r[:, 1]
    assert -0.03 - 3 * sem(per_ad) <= per_ad.mean() <= -0.01 + 3 * sem(per_ad), per_ad
    assert 0.10 - 3 * sem(revenue) <= revenue.mean() <= 0.40 + 3 * sem(revenue), revenue


def test_without_elastic_demand_or_audience_budgets_more_ads_hardly_sell(baseline_2020):
    """Mutation check of the ad market (ads.clear, AdvertiserBook.budgets): a fixed spend (price_elasticity 1) and a
    fixed total budget (audience_elasticity 0) sell the extra inventory for little more: the +10% above vanishes."""
    off = apply_overrides(baseline_2020, {"mechanisms.ads.price_elasticity": 1.0, "mechanisms.ads.audience_elasticity": 0.0})
    revenue = one_more_ad_minute(off)[:, 1]
    assert revenue.mean() + 3 * sem(revenue) < 0.10, revenue


# ---------------------------------------------------------------- price rises


def test_a_ten_percent_rise_of_the_individual_plan(baseline_2020):
    """+10% on the individual plan from 2019-01 at the baseline (issue 23): premium subscribers after 24 months
    -4% to -0.5%, subscription revenue over them +1% to +8%, that month's premium churn at most 1.5x the prior six
    months' mean. The Netflix analogues (data/regional/price_response.csv): +25% on long-time members in 2016 cost
    about 4% of the base, +60% in 2011 3.3%; a +10% rise costs less."""
    r = price_response(baseline_2020, INDIVIDUAL_PLUS_10)
    premium, revenue, spike = r[:, 0], r[:, 1], r[:, 2]
    assert -0.04 - 3 * sem(premium) <= premium.mean() <= -0.005 + 3 * sem(premium), premium
    assert 0.01 - 3 * sem(revenue) <= revenue.mean() <= 0.08 + 3 * sem(revenue), revenue
    assert spike.mean() <= 1.5 + 3 * sem(spike), spike


def test_with_a_euro_weighing_a_euro_everywhere_a_rise_loses_money(baseline_2020):
    """Mutation check of price relative to income (choice.income_elasticity, regions[].income): without it a EUR of
    price weighs a EUR of valuation in every region, and the rise costs more than 4% of the subscribers and loses
    revenue. (The flat logit, choice.plan_nest 1, still passes the test above at this baseline: the nest is not
    what carries the response.)"""
    flat = apply_overrides(baseline_2020, {"choice.income_elasticity": 0.0})
    r = price_response(flat, INDIVIDUAL_PLUS_10)
    assert r[:, 0].mean() < -0.04, r[:, 0]
    assert r[:, 1].mean() + 3 * sem(r[:, 1]) < 0.01, r[:, 1]


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


def test_the_baselines_support_answers_within_twelve_hours_every_year():
    """The staffing rule (advisors per thousand subscribers) keeps the baseline's median response time at or under
    12 hours in every year of its horizon (issue 23; the case's goal is under 5 hours, typically 2-3)."""
    base = apply_overrides(load_scenario(BASELINE), {"market.agents": 40000})
    medians = np.array([yearly_median_response(run(base, s).records) for s in SEEDS])
    assert medians.max() <= 12.0, medians.round(1)


def test_a_staff_cut_of_forty_percent_breaks_the_promise_and_raises_premium_churn(baseline_2020):
    """Staff -40% for the two years 2019-2020: the median response passes the 5-hour goal in both years, and premium
    churn rises by at least 0.1 point a month (issue 23) and at most 1 point (our bound: a sixth of the baseline's
    monthly premium churn; no pre-2021 evidence ties response times to churn, docs/evidence.md section 3)."""
    cut = staff_cut(baseline_2020, 0.6)
    start = lever_start(baseline_2020)
    span = slice(start, start + LEVER_MONTHS)
    diffs = []
    for s in SEEDS:
        a, b = run(baseline_2020, s).records, run(cut, s).records
        assert np.all(yearly_median_response(b)[start // 12:] > 5.0), yearly_median_response(b)
        diffs.append(b["churn_premium_monthly"][span, 0].mean() - a["churn_premium_monthly"][span, 0].mean())
    diff = np.array(diffs)
    assert diff.mean() > 3 * sem(diff), diff  # beyond noise
    assert 0.001 - 3 * sem(diff) <= diff.mean() <= 0.01 + 3 * sem(diff), diff
