"""The running policy: one place for the services' policies, validated per touched policy."""

from __future__ import annotations

import pytest

from sim.model import MarketModel
from sim.policy import RunningPolicy
from sim.scenario import ScenarioError, apply_overrides, validate_scenario

SPEC = {"name": "policy", "market": {"agents": 300},
        "services": {"competitors": [{"name": "Rival", "plans": {"individual": {"price": 9.99}}}]}}


@pytest.fixture(scope="module")
def scenario():
    return validate_scenario(SPEC, "policy")


@pytest.mark.parametrize("changes", [
    {"services.focal.ad_load": 4.0},
    {"services.focal.plans.individual.price": 11.49, "services.competitors.Rival.strategy": "match_price"},
    {"services.competitors.0.plans.individual.price": 8.0},
    {"services.focal.plans.duo": {"price": 12.99}},  # a new plan: the whole scenario is validated
    {"mechanisms.ads.total_budget": 1e6},  # not a policy: the whole scenario is validated
])
def test_a_change_gives_the_same_scenario_as_apply_overrides(scenario, changes):
    running = RunningPolicy(scenario)
    running.set(changes, "test")
    assert running.scenario == apply_overrides(scenario, changes, source="test", check_timeline=False)


def test_the_services_read_the_running_policy(scenario):
    model = MarketModel(scenario, seed=1)
    model.set_policy({"services.competitors.Rival.plans.individual.price": 7.5}, source="test")
    assert model.services[1].policy.plans["individual"].price == 7.5
    assert model.scenario.services.competitors[0] is model.services[1].policy
    model.step()
    assert model.table.plan_price[1, 0] == 7.5


def test_a_refused_value_is_explained_with_its_path(scenario):
    running = RunningPolicy(scenario)
    with pytest.raises(ScenarioError, match="services.focal.ad_load"):
        running.set({"services.focal.ad_load": 99.0}, "test")
    with pytest.raises(ScenarioError, match="services cannot be added, removed or renamed"):
        running.set({"services.focal.name": "Other"}, "test")
    assert running.scenario == scenario  # nothing half-applied


def test_the_offers_are_rebuilt_only_when_a_policy_changes(scenario):
    model = MarketModel(scenario, seed=1)
    model.step()
    table = model.table
    model.step()
    assert model.table is table
    model.set_policy({"services.focal.ad_load": 3.0})
    model.step()
    assert model.table is not table and (model.table.ad_load[0] == 3.0).all()  # in every region


def test_the_marketing_pull_follows_the_people_in_reach_without_rebuilding_the_offers():
    """People come into reach every step: the pull per person moves, the options stay the same objects."""
    from sim.mechanics import campaigns

    spec = {**SPEC, "time": {"start": "2015-01", "months": 3},
            "regions": [{"name": "World", "population": {"2015-01": 1e6, "2015-03": 3e6}}],
            "services": {"focal": {"name": "Focal", "marketing_budget": 1e7}, "competitors": SPEC["services"]["competitors"]}}
    model = MarketModel(validate_scenario(spec, "reach"), seed=1)
    model.step()
    options, pulls = model.options.service, []
    for _ in range(2):
        model.step()
        camp = model.scenario.mechanisms.campaigns
        expected = campaigns.salience(model._policy("marketing_budget") * model.reach.active, model.reach.people,
                                      camp.marketing_acquisition, camp.marketing_reference)
        assert model.table.salience == pytest.approx(expected, rel=1e-6)
        pulls.append(float(model.table.salience[0]))
    assert model.options.service is options  # not rebuilt
    assert pulls[1] < pulls[0]  # more people in reach: less pull per person


def test_a_policy_value_validates_only_its_policy(scenario, monkeypatch):
    """Moving a policy float does not re-validate the whole scenario."""
    import sim.policy

    def whole(*args, **kwargs):
        raise AssertionError("the whole scenario was validated")

    monkeypatch.setattr(sim.policy, "apply_overrides", whole)
    running = RunningPolicy(scenario)
    running.set({"services.focal.support_staff": 900, "services.competitors.Rival.ad_load": 1.0}, "test")
    assert running.scenario.services.focal.support_staff == 900
    assert running.scenario.services.competitors[0].ad_load == 1.0


def test_a_change_outside_the_services_reaches_the_offers_and_the_step(scenario):
    """A timeline event may set any value: the offers' salience follows the campaign settings."""
    model = MarketModel(validate_scenario({**SPEC, "services": {"focal": {"name": "Focal", "marketing_budget": 1e7},
                                                                "competitors": SPEC["services"]["competitors"]}}, "p"), seed=1)
    model.step()
    pull = float(model.table.salience[0])
    model.set_policy({"mechanisms.campaigns.marketing_acquisition": 2 * model.scenario.mechanisms.campaigns.marketing_acquisition})
    model.step()
    assert float(model.table.salience[0]) == pytest.approx(2 * pull, rel=1e-6) and pull > 0


def test_a_timeline_event_takes_effect_in_its_own_step():
    spec = {**SPEC, "time": {"start": "2015-01", "months": 4},
            "timeline": [{"at": "2015-03", "set": {"mechanisms.ads.enabled": False}}]}
    model = MarketModel(validate_scenario(spec, "timeline"), seed=1)
    while model.running:
        model.step()
    ads = model.records["revenue_ads_eur"][:, 0]
    assert ads[1] > 0 and ads[2] == 0 and ads[3] == 0
