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
from tests.helpers import ROOT, small_scenario

SEEDS = (0, 1, 2)


def _run(scenario, seed, until=None):
    model = MarketModel(scenario, seed)
    while model.running and (until is None or model.t < until):
        model.step()
    return model


def _with_events(scenario, *events):
    return apply_overrides(scenario, {"timeline": [*scenario.model_dump()["timeline"], *events]})


# ---------------------------------------------------------------- ads: Pandora


def _free_hours_after(scenario, seed, start=12):
    """Free-tier hours of the focal free users of month ``start`` at the horizon (intent to treat)."""
    model = _run(scenario, seed, until=start)
    pop = model.population
    cohort = (pop.state == State.USER) & (pop.service == 0) & (pop.tier == Tier.FREE)
    while model.running:
        model.step()
    on_free = (pop.state == State.USER) & (pop.service == 0) & (pop.tier == Tier.FREE)
    return float(pop.hours[cohort & on_free].sum())


@pytest.mark.slow
def test_one_more_ad_per_hour_costs_about_two_percent_of_listening():
    """Huang, Reiley & Riabov (Pandora, ~35M listeners, 21 months): about -2% hours per extra ad per hour,
    long run. The model's lever is ad-minutes per hour; one ad-minute is ``impressions_per_ad_minute`` ads."""
    base = small_scenario({"market.agents": 20000, "time.months": 33, "initial.aware": 0.6, "initial.focal_free": 0.4,
                           "initial.focal_premium": 0.05})
    more = _with_events(base, {"at": "2016-01", "set": {"services.focal.ad_load": base.services.focal.ad_load + 1}})
    per_ad = np.array([(_free_hours_after(more, s) / _free_hours_after(base, s) - 1)
                       / base.mechanisms.ads.impressions_per_ad_minute for s in SEEDS])
    sem = per_ad.std(ddof=1) / np.sqrt(len(SEEDS))
    # the paper's long-run estimate is about -2%; its range across outcome measures is roughly -1% .. -3%
    assert -0.03 - 3 * sem <= per_ad.mean() <= -0.01 + 3 * sem, per_ad


# ---------------------------------------------------------------- price rises


@pytest.fixture(scope="module")
def baseline_small():
    return apply_overrides(load_scenario(ROOT / "scenarios" / "baseline.yaml"), {"market.agents": 40000})


def _price_response(base, rise: dict, at: str, months: int = 24):
    """Per seed: relative premium subscribers after ``months``, relative subscription revenue over them,
    and the rise month's churn over the prior six months' mean (with the rise)."""
    up = _with_events(base, {"at": at, "set": rise})
    start = int(np.flatnonzero(MarketModel(base, 0).dates == np.datetime64(f"{at}-01"))[0])
    out = []
    for s in SEEDS:
        a, b = _run(base, s).records, _run(up, s).records
        span = slice(start, start + months)
        prem = b["premium_subscribers"][start + months - 1, 0] / a["premium_subscribers"][start + months - 1, 0] - 1
        rev = b["revenue_subscription_eur"][span, 0].sum() / a["revenue_subscription_eur"][span, 0].sum() - 1
        churn = b["churn_premium_monthly"][:, 0]
        out.append((prem, rev, churn[start], churn[start - 6:start].mean()))
    return np.array(out)


@pytest.mark.slow
def test_a_ten_percent_rise_of_the_individual_plan(baseline_small):
    """Subscribers < 12% lower after 24 months, subscription revenue up over them, churn that month <= 1.5x
    the prior six months' mean (Netflix 2011 and 2016: docs/validation.md)."""
    base = apply_overrides(baseline_small, {"time.months": 72})
    r = _price_response(base, {"services.focal.plans.individual.price": 10.99}, "2019-01")
    assert np.all(r[:, 0] > -0.12), r[:, 0]
    assert r[:, 1].mean() > 0, r[:, 1]
    assert r[:, 2].mean() <= 1.5 * r[:, 3].mean(), r[:, 2:]


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


@pytest.mark.slow
def test_cutting_support_staff_to_a_fifth_raises_premium_churn(baseline_small):
    base = apply_overrides(baseline_small, {"time.months": 72})
    fifth = base.model_dump()
    fifth["services"]["focal"]["support_staff"] //= 5
    for ev in fifth["timeline"]:
        if ev.get("set") and "services.focal.support_staff" in ev["set"]:
            ev["set"]["services.focal.support_staff"] //= 5
    cut = apply_overrides(base, {"services.focal.support_staff": fifth["services"]["focal"]["support_staff"],
                                 "timeline": fifth["timeline"]})
    span = slice(12, 72)
    diff = np.array([_run(cut, s).records["churn_premium_monthly"][span, 0].mean()
                     - _run(base, s).records["churn_premium_monthly"][span, 0].mean() for s in SEEDS])
    sem = diff.std(ddof=1) / np.sqrt(len(diff))
    assert diff.mean() > 3 * sem and diff.mean() > 0.001, diff  # measurable: > 0.1 points a month, beyond noise
