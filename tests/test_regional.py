"""Policies by region (``services.<s>.regions.<region>``): a price multiple, an ad load and a free tier
that differ by region, in the scenario and in a dated timeline event, resolved by the policy layer
(``sim.policy.RegionalOffers``) and read by choice, listening, the ad market and the accounts.

Every comparison runs both scenarios on one seed (common random numbers), so a region the policy
leaves alone moves only through what its listeners share with the other (word of mouth, the ad
market), while the region it changes moves by the policy's direct effect.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.agents.listeners import State, Tier
from sim.model import MarketModel
from sim.policy import RegionalOffers
from sim.scenario import ScenarioError, apply_overrides, validate_scenario
from tests.helpers import small_scenario

REGIONS = [{"name": "europe", "share": 0.5, "price_multiplier": 0.9},
           {"name": "latin_america", "share": 0.5, "price_multiplier": 0.5, "value_multiplier": 0.6}]
EUROPE, LATAM = 0, 1


def _scenario(overrides: dict | None = None, timeline: list | None = None, agents: int = 6000, months: int = 24):
    data = small_scenario({"market.agents": agents, "time.months": months}, regions=REGIONS).model_dump(mode="json")
    data["timeline"] = timeline or []
    scenario = validate_scenario(data, "test")
    return apply_overrides(scenario, overrides) if overrides else scenario


def _run(scenario, steps: int | None = None) -> MarketModel:
    model = MarketModel(scenario, 11)
    for _ in range(model.n_steps if steps is None else steps):
        model.step()
    return model


def _focal(model: MarketModel, tier: Tier, region: int) -> int:
    """The focal service's users of ``tier`` (premium counts trials too) in ``region``, simulated listeners."""
    pop = model.population
    tiers = (Tier.PREMIUM, Tier.TRIAL) if tier == Tier.PREMIUM else (tier,)
    return int(((pop.state == State.USER) & (pop.service == 0) & np.isin(pop.tier, tiers) & (pop.region == region)).sum())


def test_regional_values_replace_the_service_own_and_compose_with_the_region_price_level():
    scenario = _scenario({"services.focal.regions.latin_america.price_multiplier": 1.3,
                          "services.focal.regions.europe.free_tier": False, "services.focal.regions.europe.ad_load": 6.0})
    offers = RegionalOffers.of(scenario)
    np.testing.assert_allclose(offers.price_multiplier[0], [0.9, 0.5 * 1.3])
    np.testing.assert_array_equal(offers.free_tier[0], [False, True])
    np.testing.assert_allclose(offers.ad_load[0], [0.0, scenario.services.focal.ad_load])  # no free tier: no ads there


def test_a_region_key_is_checked_against_the_regions_with_a_hint():
    with pytest.raises(ScenarioError, match="unknown key 'latam'.*did you mean 'latin_america'"):
        _scenario({"services.focal.regions.latam.price_multiplier": 1.3})
    data = _scenario().model_dump(mode="json")
    data["services"]["focal"]["regions"] = {"asia": {"ad_load": 3.0}}
    with pytest.raises(ScenarioError, match="services.Spotify.regions.asia: unknown region 'asia'"):
        validate_scenario(data, "test")


def test_a_neutral_regional_policy_changes_nothing():
    plain = _run(_scenario(months=6)).timeseries()
    neutral = _run(_scenario({"services.focal.regions.latin_america.price_multiplier": 1.0}, months=6)).timeseries()
    assert plain.equals(neutral)


@pytest.fixture(scope="module")
def price_rise():
    """The baseline and a 50% dearer Latin America, on one seed."""
    return _run(_scenario()), _run(_scenario({"services.focal.regions.latin_america.price_multiplier": 1.5}))


def test_a_dearer_latin_america_loses_its_subscribers_there_not_in_europe(price_rise):
    a, b = price_rise
    latam = _focal(b, Tier.PREMIUM, LATAM) - _focal(a, Tier.PREMIUM, LATAM)
    europe = _focal(b, Tier.PREMIUM, EUROPE) - _focal(a, Tier.PREMIUM, EUROPE)
    base = _focal(a, Tier.PREMIUM, LATAM)
    # about 150 subscribers in Latin America: the direct effect is far beyond binomial noise (3 sd ~ 3 sqrt(150) ~ 37),
    # while Europe, paired, moves only through word of mouth (within that noise)
    assert base > 100
    assert latam < -3 * np.sqrt(base)
    assert abs(europe) <= 3 * np.sqrt(_focal(a, Tier.PREMIUM, EUROPE))


def test_the_accounts_charge_the_regional_price(price_rise):
    a, b = price_rise
    for model, multiple in ((a, 1.0), (b, 1.5)):
        pop, table = model.population, model.table
        paying = (pop.state == State.USER) & (pop.service == 0) & (pop.tier == Tier.PREMIUM)
        fee = table.plan_price[0, pop.plan[paying]] / table.users_per_account[0, pop.plan[paying]]
        level = np.array([0.9, 0.5 * multiple], np.float32)[pop.region[paying]]
        want = float((fee * level).sum()) * model.weight
        got = model.timeseries().query("focal")["revenue_subscription_eur"].iloc[-1]
        assert got == pytest.approx(want, rel=1e-6)


def test_no_free_tier_in_europe_from_a_date_leaves_latin_america_its_free_tier():
    timeline = [{"at": "2016-01", "set": {"services.focal.regions.europe.free_tier": False}}]
    a, b = _run(_scenario(months=13), steps=12), _run(_scenario(timeline=timeline, months=13), steps=12)
    assert a.timeseries().equals(b.timeseries())  # paired before the date
    a.step(), b.step()
    assert _focal(b, Tier.FREE, EUROPE) == 0 < _focal(a, Tier.FREE, EUROPE)  # the free users there chose again at once
    assert _focal(b, Tier.FREE, LATAM) > 0.9 * _focal(a, Tier.FREE, LATAM)
    assert _focal(b, Tier.PREMIUM, EUROPE) > _focal(a, Tier.PREMIUM, EUROPE)  # some of them pay now


def test_a_regional_ad_load_shortens_the_listening_of_the_free_users_there_only():
    timeline = [{"at": "2015-02", "set": {"services.focal.regions.europe.ad_load": 8.0}}]
    a, b = _run(_scenario(months=3), steps=1), _run(_scenario(timeline=timeline, months=3), steps=1)
    pa, pb = a.population, b.population
    assert a.timeseries().equals(b.timeseries()) and (pa.ident == pb.ident).all()  # paired up to the event
    was_free = (pa.state == State.USER) & (pa.service == 0) & (pa.tier == Tier.FREE)
    a.step(), b.step()
    at = pb.slot_of[pa.ident]  # each of A's listeners in B (slots follow who learns of the market: they may differ now)
    free = (was_free & (pa.state == State.USER) & (pa.service == 0) & (pa.tier == Tier.FREE)
            & (pb.state[at] == State.USER) & (pb.service[at] == 0) & (pb.tier[at] == Tier.FREE))
    cfg, load = a.scenario.mechanisms.listening, a.scenario.services.focal.ad_load
    ratio = pb.hours[at][free] / pa.hours[free]
    europe = pa.region[free] == EUROPE
    assert europe.sum() > 30 and (~europe).sum() > 30
    np.testing.assert_allclose(ratio[europe], np.exp(-cfg.ad_elasticity * (8.0 - load)), rtol=1e-5)
    np.testing.assert_array_equal(ratio[~europe], 1.0)


def test_sweeps_optimisations_and_the_dashboard_accept_a_regional_policy(tmp_path):
    """A regional value is a parameter of a sweep, a lever of an optimisation (their spec checks find its
    range) and a live change of the dashboard (MarketModel.set_policy) like any other."""
    import yaml

    from sim.analysis.optimize_spec import load_optimization
    from sim.sweep.spec import load_sweep

    (tmp_path / "base.yaml").write_text(yaml.safe_dump(_scenario(months=6).model_dump(mode="json"), sort_keys=False))
    path = "services.focal.regions.latin_america.price_multiplier"
    common = {"base": "base.yaml", "seed": 1, "replicates": 1}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump({**common, "name": "s", "design": {"kind": "grid"},
                                                         "parameters": {path: {"levels": [0.8, 1.2]}},
                                                         "kpis": [{"column": "mau", "agg": "final"}]}))
    assert load_sweep(tmp_path / "sweep.yaml").spec.parameters[path].levels == [0.8, 1.2]
    (tmp_path / "opt.yaml").write_text(yaml.safe_dump({**common, "name": "o", "trials": 2,
                                                       "levers": {path: {"low": 0.8, "high": 1.5}},
                                                       "objectives": [{"column": "mau", "agg": "final", "direction": "maximize"}]}))
    assert path in load_optimization(tmp_path / "opt.yaml").spec.levers
    with pytest.raises(ScenarioError, match=r"levers.services.focal.regions.latin_america.price_multiplier.high: 9 is outside"):
        (tmp_path / "bad.yaml").write_text((tmp_path / "opt.yaml").read_text().replace("high: 1.5", "high: 9"))
        load_optimization(tmp_path / "bad.yaml")
    model = _run(_scenario(months=3), steps=1)
    model.set_policy({"services.focal.regions.europe.free_tier": False}, source="dashboard")
    model.step()
    assert _focal(model, Tier.FREE, EUROPE) == 0 < _focal(model, Tier.FREE, LATAM)
