"""Direction of effects (MODEL.md "Checks the model must pass"), as paired statistical tests.

Each test runs scenario A and a variant B with the same replicate seeds (common random
numbers: one random stream per mechanism, so A and B draw the same numbers) and asks
whether the mean paired difference B - A is beyond a one-sided 99% t-bound of the replicate
noise. With the mechanism switched off A and B are identical, the difference is zero and
the test fails.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.agents.listeners import State
from sim.model import MarketModel
from sim.runner import replicate_seeds, simulate
from tests.helpers import small_scenario

R = 6
MARKET = {"initial": {"aware": 0.5, "focal_free": 0.15, "focal_premium": 0.05, "competitor": 0.04},
          "services": {"focal": {"name": "Focal", "plans": {"individual": {"price": 9.99}, "family": {"price": 14.99}}},
                       "competitors": [{"name": "Rival", "free_tier": False, "plans": {"individual": {"price": 9.99}}}]}}


def market(overrides: dict | None = None, months: int = 36, agents: int = 4000):
    sections = {k: v for k, v in MARKET.items()}
    sections["time"] = {"start": "2015-01", "months": months}
    sections["market"] = {"population": 1e8, "agents": agents}
    return small_scenario(overrides, **sections)


def focal_series(scenario, seed) -> pd.DataFrame:
    ts = simulate(scenario, seed).timeseries
    return ts[ts["focal"]].reset_index(drop=True)


def paired(a, b, kpi) -> np.ndarray:
    """B - A per replicate of ``kpi(focal timeseries)``."""
    return np.array([kpi(focal_series(b, s)) - kpi(focal_series(a, s)) for s in replicate_seeds(11, R)])


def assert_positive(diffs: np.ndarray, what: str) -> None:
    """Mean paired difference beyond the one-sided 99% bound of its sampling error."""
    se = diffs.std(ddof=1) / np.sqrt(diffs.size)
    bound = stats.t.ppf(0.99, diffs.size - 1) * se
    assert diffs.mean() > bound and diffs.mean() > 0, f"{what}: mean {diffs.mean():.4g}, 99% bound {bound:.4g}, diffs {diffs}"


def test_more_ad_load_fewer_free_users_fewer_hours_more_conversions():
    a, b = market(), market({"services.focal.ad_load": 6.0})
    assert_positive(-paired(a, b, lambda f: f["free_users"].mean()), "free users fall")
    assert_positive(-paired(a, b, lambda f: f["listening_hours_per_free_user"].mean()), "hours per free user fall")
    assert_positive(paired(a, b, lambda f: f["premium_gross_adds"].sum()), "premium conversions rise")


def test_price_rise_fewer_subscribers_more_downgrades():
    rise = {"timeline": [{"at": "2015-07", "set": {"services.focal.plans.individual.price": 12.99,
                                                   "services.focal.plans.family.price": 18.99}}]}
    a, b = market(), market(rise)
    assert_positive(-paired(a, b, lambda f: f["premium_subscribers"].iloc[-1]), "premium subscribers fall")
    assert_positive(paired(a, b, lambda f: f["churn_downgrade_monthly"].iloc[6:].mean()), "downgrades rise")


def test_more_support_staff_shorter_waits_lower_churn():
    strained = {"mechanisms.service_quality.ticket_rate": 0.05, "services.focal.support_staff": 1}
    a, b = market(strained), market({**strained, "services.focal.support_staff": 2000})
    assert_positive(-paired(a, b, lambda f: f["support_response_hours"].mean()), "response time falls")
    assert_positive(-paired(a, b, lambda f: f["churn_users_monthly"].mean()), "churn falls")


def churn_by_privacy(scenario, seed) -> tuple[float, float, float]:
    """Focal users' monthly churn among privacy-sensitive and other listeners, and mean hours per user."""
    model = MarketModel(scenario, seed)
    pop = model.population
    left = np.zeros(2)
    exposed = np.zeros(2)
    hours = []
    while model.running:
        was = (pop.state == State.USER) & (pop.service == 0)
        model.step()
        gone = was & ~((pop.state == State.USER) & (pop.service == 0))
        for k, group in enumerate((pop.privacy_sensitive, ~pop.privacy_sensitive)):
            left[k] += np.count_nonzero(gone & group)
            exposed[k] += np.count_nonzero(was & group)
        now = (pop.state == State.USER) & (pop.service == 0)
        hours.append(pop.hours[now].mean())
    sensitive, others = left / exposed
    return sensitive, others, float(np.mean(hours))


def test_more_personalisation_more_hours_lower_churn_except_privacy_sensitive():
    a, b = market({"services.focal.personalization": 0.2}), market({"services.focal.personalization": 0.95})
    rows = np.array([np.subtract(churn_by_privacy(b, s), churn_by_privacy(a, s)) for s in replicate_seeds(5, R)])
    d_sensitive, d_others, d_hours = rows.T
    assert_positive(d_hours, "hours per user rise")
    assert_positive(-d_others, "churn falls among listeners who share data gladly")
    # privacy-sensitive listeners do not get the same benefit: their churn falls less, if at all
    assert_positive(d_sensitive - d_others, "churn of privacy-sensitive listeners falls less")


def december_adoption(scenario, seed) -> float:
    """People who became aware during December steps."""
    f = focal_series(scenario, seed)
    drop = -f["unaware"].diff().fillna(0.0)
    return float(drop[pd.to_datetime(f["date"]).dt.month == 12].sum())


def test_wrapped_adds_word_of_mouth_in_december():
    # the first December: A and B share their history until then, so the difference is Wrapped's alone
    a = market({"services.focal.wrapped": False}, months=12, agents=8000)
    b = market({"services.focal.wrapped": True}, months=12, agents=8000)
    diffs = np.array([december_adoption(b, s) - december_adoption(a, s) for s in replicate_seeds(3, R)])
    assert_positive(diffs, "December adoption rises with Wrapped")


@pytest.mark.parametrize("lag", [1, 3])
def test_match_price_competitor_follows_a_focal_cut_within_its_lag(lag):
    scenario = market({"services.competitors.Rival.strategy": "match_price", "services.competitors.Rival.reaction_lag": lag,
                       "timeline": [{"at": "2015-06", "set": {"services.focal.plans.individual.price": 7.99}}]},
                      months=12, agents=1500)
    ts = simulate(scenario, np.random.SeedSequence(1)).timeseries
    rival = ts[ts["service"] == "Rival"].set_index("step")["price_individual_eur"]
    cut = 5  # 2015-06 is step 5
    assert rival.loc[:cut + lag - 1].eq(9.99).all(), rival.to_dict()
    assert rival.loc[cut + lag:].eq(7.99).all(), rival.to_dict()


def test_match_price_competitor_with_a_list_price_near_zero_keeps_finite_prices():
    # found by the conservation fuzz: a subnormal list price made the matching multiplier overflow
    scenario = market({"services.competitors.Rival.strategy": "match_price",
                       "services.competitors.Rival.plans.individual.price": 1e-310}, months=3, agents=500)
    ts = simulate(scenario, np.random.SeedSequence(1)).timeseries
    rival = ts.loc[ts["service"] == "Rival", "price_individual_eur"]
    assert np.isfinite(rival).all() and (rival < 0.01).all(), rival.to_dict()


def test_static_competitor_keeps_its_price():
    scenario = market({"timeline": [{"at": "2015-03", "set": {"services.focal.plans.individual.price": 7.99}}]},
                      months=8, agents=1000)
    ts = simulate(scenario, np.random.SeedSequence(1)).timeseries
    assert ts.loc[ts["service"] == "Rival", "price_individual_eur"].eq(9.99).all()


def test_users_of_a_withdrawn_free_tier_choose_again_that_month():
    scenario = market({"timeline": [{"at": "2015-04", "set": {"services.focal.free_tier": False}}]}, months=6, agents=2000)
    ts = simulate(scenario, np.random.SeedSequence(2)).timeseries
    focal = ts[ts["focal"]].set_index("step")
    assert focal.loc[2, "free_users"] > 0
    assert focal.loc[3:, "free_users"].eq(0).all()


def test_opt_in_collects_less_data_than_opt_out():
    from sim.mechanics.personalization import shares_data

    rng = np.random.default_rng(0)
    sensitive, draw = rng.random(100_000) < 0.3, rng.random(100_000)
    opt_out = shares_data(sensitive, draw, False, opt_out_share=0.3, opt_in_share=0.6)
    opt_in = shares_data(sensitive, draw, True, opt_out_share=0.3, opt_in_share=0.6)
    assert not opt_in[sensitive].any()
    assert opt_in.mean() < opt_out.mean()
    assert abs(opt_in[~sensitive].mean() - 0.6) < 0.01 and abs(opt_out[sensitive].mean() - 0.7) < 0.01
