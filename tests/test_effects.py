"""Direction of effects (MODEL.md "Checks the model must pass"), as paired statistical tests.

Each test runs scenario A and a variant B with the same replicate seeds (common random
numbers: one random stream per mechanism, so A and B draw the same numbers) and asks
whether the mean paired difference B - A is beyond a one-sided 99% t-bound of the replicate
noise.

Each effect test also runs as its own mutation check (``@mutation``): with its mechanism
switched off through the scenario (or its term neutralised), on A and B alike, the effect it
names must vanish (not pass the same bound). A test that still passed with its mechanism off
would protect nothing: hours per free user fell with the ad load's effect on hours gone,
because heavy listeners leave the free tier; more support staff cut churn with waits
harmless, because tickets resolved at once earn goodwill. The table of mechanism -> switch
-> effect is in docs/architecture.md ("Effect tests and their mutation checks").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.agents.listeners import State, Tier
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


def bound(diffs: np.ndarray) -> float:
    """One-sided 99% t-bound of the mean of ``diffs`` (its sampling error across replicates)."""
    return float(stats.t.ppf(0.99, diffs.size - 1) * diffs.std(ddof=1) / np.sqrt(diffs.size))


def assert_positive(diffs: np.ndarray, what: str) -> None:
    """Mean paired difference beyond the one-sided 99% bound of its sampling error."""
    assert diffs.mean() > bound(diffs) and diffs.mean() > 0, f"{what}: mean {diffs.mean():.4g}, 99% bound {bound(diffs):.4g}, diffs {diffs}"


class Switch(dict):
    """Scenario overrides that leave a mechanism on (empty) or switch it off, and the effect that must then vanish.

    ``expect(diffs, what)`` asserts the effect ``what`` with the mechanism on; with it off it asserts
    that the effect ``vanishes`` does not pass the bound, and lets the test's other effects be.
    """

    def __init__(self, overrides: dict | None = None, vanishes: str | None = None):
        super().__init__(overrides or {})
        self.vanishes = vanishes

    def expect(self, diffs: np.ndarray, what: str) -> None:
        if self.vanishes is None:
            assert_positive(diffs, what)
        elif what == self.vanishes:
            assert not (diffs.mean() > bound(diffs) and diffs.mean() > 0), \
                f"{what} with its mechanism off: mean {diffs.mean():.4g}, 99% bound {bound(diffs):.4g}, diffs {diffs}"


def mutation(off: dict, vanishes: str):
    """Run the test with its mechanism on (``mechanism``: an empty :class:`Switch`) and off (``off``), where ``vanishes`` must."""
    return pytest.mark.parametrize("mechanism", [pytest.param(Switch(), id="on"),
                                                 pytest.param(Switch(off, vanishes), id="mechanism-off")])


def test_more_ad_load_fewer_free_users_more_conversions():
    a, b = market(), market({"services.focal.ad_load": 6.0})
    assert_positive(-paired(a, b, lambda f: f["free_users"].mean()), "free users fall")
    assert_positive(paired(a, b, lambda f: f["premium_gross_adds"].sum()), "premium conversions rise")


def focal_free_hours(scenario, seed) -> pd.Series:
    """Listening hours in the last month of each listener on the focal free tier then, by listener id."""
    model = MarketModel(scenario, seed)
    while model.running:
        model.step()
    pop = model.population
    free = (pop.state == State.USER) & (pop.service == 0) & (pop.tier == Tier.FREE)
    return pd.Series(pop.hours[free].astype(float), index=pop.ident[free])


@mutation({"mechanisms.listening.ad_elasticity": 0.0}, "a fixed cohort listens less")
def test_more_ad_load_cuts_the_hours_of_a_fixed_cohort(mechanism):
    """The same free listeners in the month their service doubles its ad load. Hours per free user
    would fall even with ads harmless to hours: heavy listeners leave the free tier first."""
    rise = {"timeline": [{"at": "2015-07", "set": {"services.focal.ad_load": 6.0}}]}
    a, b = market(mechanism, months=7), market({**mechanism, **rise}, months=7)
    diffs = []
    for seed in replicate_seeds(11, R):
        before, after = focal_free_hours(a, seed), focal_free_hours(b, seed)
        cohort = before.index.intersection(after.index)  # free on the focal service with and without the rise
        diffs.append(before[cohort].mean() - after[cohort].mean())
    mechanism.expect(np.array(diffs), "a fixed cohort listens less")


@mutation({"choice.price_weight": 1e-6, "choice.price_change_review": 0.0}, "premium subscribers fall")
def test_price_rise_fewer_subscribers_more_downgrades(mechanism):
    rise = {"timeline": [{"at": "2015-07", "set": {"services.focal.plans.individual.price": 12.99,
                                                   "services.focal.plans.family.price": 18.99}}]}
    a, b = market(mechanism), market({**mechanism, **rise})
    mechanism.expect(-paired(a, b, lambda f: f["premium_subscribers"].iloc[-1]), "premium subscribers fall")
    mechanism.expect(paired(a, b, lambda f: f["churn_downgrade_monthly"].iloc[6:].mean()), "downgrades rise")


@mutation({"mechanisms.service_quality.wait_penalty": 0.0, "mechanisms.service_quality.wait_review": 0.0}, "churn falls")
def test_more_support_staff_shorter_waits_lower_churn(mechanism):
    # no RAK: a ticket resolved at once would earn goodwill, and more staff cut churn with waits harmless
    strained = {"mechanisms.service_quality.ticket_rate": 0.05, "services.focal.support_staff": 1, "services.focal.rak_rate": 0.0,
                **mechanism}
    a, b = market(strained), market({**strained, "services.focal.support_staff": 2000})
    mechanism.expect(-paired(a, b, lambda f: f["support_response_hours"].mean()), "response time falls")
    mechanism.expect(-paired(a, b, lambda f: f["churn_users_monthly"].mean()), "churn falls")


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


@mutation({"mechanisms.personalization.enabled": False}, "hours per user rise")
def test_more_personalisation_more_hours_lower_churn_except_privacy_sensitive(mechanism):
    a = market({**mechanism, "services.focal.personalization": 0.2})
    b = market({**mechanism, "services.focal.personalization": 0.95})
    rows = np.array([np.subtract(churn_by_privacy(b, s), churn_by_privacy(a, s)) for s in replicate_seeds(5, R)])
    d_sensitive, d_others, d_hours = rows.T
    mechanism.expect(d_hours, "hours per user rise")
    mechanism.expect(-d_others, "churn falls among listeners who share data gladly")
    # privacy-sensitive listeners do not get the same benefit: their churn falls less, if at all
    mechanism.expect(d_sensitive - d_others, "churn of privacy-sensitive listeners falls less")


def december_adoption(scenario, seed) -> float:
    """People who became aware during December steps."""
    f = focal_series(scenario, seed)
    drop = -f["unaware"].diff().fillna(0.0)
    return float(drop[pd.to_datetime(f["date"]).dt.month == 12].sum())


@mutation({"mechanisms.campaigns.wrapped.wom_boost": 0.0}, "December adoption rises with Wrapped")
def test_wrapped_adds_word_of_mouth_in_december(mechanism):
    # the first December: A and B share their history until then, so the difference is Wrapped's alone
    a = market({**mechanism, "services.focal.wrapped": False}, months=12, agents=8000)
    b = market({**mechanism, "services.focal.wrapped": True}, months=12, agents=8000)
    diffs = np.array([december_adoption(b, s) - december_adoption(a, s) for s in replicate_seeds(3, R)])
    mechanism.expect(diffs, "December adoption rises with Wrapped")


def exposure_gap(scenario, seed) -> float:
    """Share of friends using a service (before the step) of the listeners who became aware in a step,
    less that of those who stayed unaware, in each step, averaged over the steps of one run
    weighted by those who became aware (within a step: pooled, the later steps' higher usage would
    make the gap positive without any word of mouth).

    Word of mouth through the network makes it positive; a mean field (everyone hears the population
    share) or no word of mouth leaves who becomes aware independent of their friends: zero."""
    model = MarketModel(scenario, seed)
    pop = model.population
    friends = pop.friends.astype(np.float64)  # CSR over listener ids
    degree = np.maximum(np.asarray(friends.sum(axis=1)).ravel(), 1.0)
    gaps, weights = [], []
    while model.running:
        state = pop.state[pop.slot_of]  # by id
        share = friends @ (state == State.USER).astype(np.float64) / degree
        unaware = state == State.UNAWARE
        model.step()
        became = unaware & (pop.state[pop.slot_of] != State.UNAWARE)
        if became.any() and (unaware & ~became).any():
            gaps.append(share[became].mean() - share[unaware & ~became].mean())
            weights.append(np.count_nonzero(became))
    return float(np.average(gaps, weights=weights))


@mutation({"diffusion.q": 0.0}, "the newly aware have more friends who use a service")
def test_word_of_mouth_follows_the_network_not_the_mean_field(mechanism):
    scenario = market(mechanism, months=12)
    gaps = np.array([exposure_gap(scenario, s) for s in replicate_seeds(13, R)])
    mechanism.expect(gaps, "the newly aware have more friends who use a service")


@pytest.mark.parametrize("competition", [True, False], ids=["on", "mechanism-off"])
@pytest.mark.parametrize("lag", [1, 3])
def test_match_price_competitor_follows_a_focal_cut_within_its_lag(lag, competition):
    scenario = market({"services.competitors.Rival.strategy": "match_price", "services.competitors.Rival.reaction_lag": lag,
                       "mechanisms.competition.enabled": competition,
                       "timeline": [{"at": "2015-06", "set": {"services.focal.plans.individual.price": 7.99}}]},
                      months=12, agents=1500)
    ts = simulate(scenario, np.random.SeedSequence(1)).timeseries
    rival = ts[ts["service"] == "Rival"].set_index("step")["price_individual_eur"]
    cut = 5  # 2015-06 is step 5
    assert rival.loc[:cut + lag - 1].eq(9.99).all(), rival.to_dict()
    # with competition off the rival keeps its list price: the check below is what fails
    assert rival.loc[cut + lag:].eq(7.99 if competition else 9.99).all(), rival.to_dict()


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
