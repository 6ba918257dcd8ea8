"""A market that changes over time: people coming into reach, regional launches, services entering and leaving."""

from __future__ import annotations

import numpy as np
import pytest

from sim.agents.listeners import State
from sim.model import MarketModel
from sim.scenario import ScenarioError, validate_scenario
from tests.helpers import run_cli, small_scenario

GROWING = {
    "time": {"start": "2015-01", "months": 18},
    "market": {"agents": 4000},
    "regions": [{"name": "north", "population": {"2015-01": 1.0e8, "2016-01": 1.5e8}},
                {"name": "south", "population": {"2015-01": 0.5e8, "2016-06": 2.0e8}}],
    "services": {"focal": {"name": "Spotify"},
                 "competitors": [{"name": "Old", "content_value": 8.0, "plans": {"individual": {"price": 8.99}}},
                                 {"name": "Late", "free_tier": False, "availability": {"south": {"2015-09": 1.0}, "north": {"2015-01": 0.0}}}]},
    "initial": {"aware": 0.3, "focal_free": 0.05, "focal_premium": 0.02, "competitor": 0.02},
    "timeline": [{"at": "2015-06", "enter": {"name": "Newcomer", "free_tier": False, "content_value": 9.5,
                                             "plans": {"individual": {"price": 9.99}}, "trial_months": 3}},
                 {"at": "2015-11", "exit": "Old"}],
}


def run(scenario, seed=1):
    model = MarketModel(scenario, seed)
    states = []
    while model.running:
        model.step()
        states.append(model.population.state[model.population.slot_of])  # by id: the unaware change slots
    return model, model.timeseries(), states


@pytest.fixture(scope="module")
def growing():
    return run(small_scenario(**GROWING))


def test_everyone_in_reach_is_counted_and_reach_follows_the_schedule(growing):
    model, ts, _ = growing
    by_date = ts.groupby("date")
    counted = by_date[["unaware", "aware", "lapsed"]].first().sum(axis=1) + by_date["mau"].sum()
    reach = by_date["people_in_reach"].first()
    np.testing.assert_allclose(counted, reach, rtol=1e-12)  # the identity, at every date
    months = model.scenario.horizon_months()
    schedule = model.scenario.region_population(months).sum(axis=0)
    # rounding to whole listeners: at most half a listener per region off the schedule
    assert np.all(np.abs(reach.to_numpy() - schedule) <= len(model.scenario.regions) * model.weight / 2 + 1e-6)
    assert reach.iloc[-1] == pytest.approx(3.5e8) and reach.iloc[0] == pytest.approx(1.5e8, rel=1e-3)


def test_every_user_holds_an_option_they_may_take_after_each_step():
    """Launches, an entrant, an exit: whoever lost their option chose again the same step, so the
    users' own utility (``choice.held_utility``) never meets an ineligible option."""
    from sim.mechanics.subscriptions import current_option

    model = MarketModel(small_scenario(**{**GROWING, "services": {**GROWING["services"], "focal": {
        "name": "Spotify", "plans": {"individual": {"price": 9.99}, "student": {"price": 4.99}, "family": {"price": 14.99}}}}}), 1)
    seen = set()
    while model.running:
        model.step()
        pop, opts = model.population, model.options
        users = pop.users()
        held = current_option(pop, opts, users)
        assert (held > 0).all()
        assert pop.available[users, pop.service[users]].all()
        assert pop.student[users[opts.student_only[held]]].all() and pop.household[users[opts.household_only[held]]].all()
        seen |= {int(x) for x in opts.plan[held]}
    assert {0, 1, 3} <= seen  # individual, student and family plans were held


def test_people_enter_as_unaware(growing):
    _, _, states = growing
    for before, after in zip(states, states[1:]):
        entered = (before == State.OUTSIDE) & (after != State.OUTSIDE)
        # at most one step of awareness and choice: they were unaware on arrival, nobody leaves reach
        assert not np.any((before != State.OUTSIDE) & (after == State.OUTSIDE))
        assert entered.sum() > 0 or np.all(before != State.OUTSIDE)


def test_entrant_has_no_users_before_its_date_and_the_leaver_none_after(growing):
    _, ts, _ = growing
    mau = ts.pivot_table(index="date", columns="service", values="mau")
    assert (mau.loc[:"2015-05-01", "Newcomer"] == 0).all() and mau.loc["2015-08-01":, "Newcomer"].max() > 0
    assert mau.loc[:"2015-10-01", "Old"].min() > 0 and (mau.loc["2015-11-01":, "Old"] == 0).all()
    assert mau.loc["2015-06-01":, "Old"].iloc[0] > 0  # its users left only when it did


def test_a_regional_launch_serves_nobody_there_before_its_date():
    model = MarketModel(small_scenario(**GROWING), 2)
    late = [s.name for s in model.services].index("Late")
    south = model.population.region_names.index("south")
    while model.running:
        model.step()
        pop = model.population
        users = (pop.state == State.USER) & (pop.service == late)
        assert not np.any(users & (pop.region != south))  # never outside its one region
        if model.date < np.datetime64("2015-09-01"):
            assert not users.any()
    assert model.records["mau"][-1, late] > 0


def test_constant_population_is_the_old_market():
    """A number is a flat schedule: the same run as a schedule with one date."""
    a = run(small_scenario(), 3)[1]
    b = run(small_scenario({"market.population": {"2015-01": 2.0e8}}), 3)[1]
    np.testing.assert_array_equal(a["mau"].to_numpy(), b["mau"].to_numpy())


def test_only_the_addressable_share_of_a_region_comes_into_reach():
    """People in reach are a region's population x its ``addressable_share``; with the share 1 the run is the old one
    (the regions' listeners follow their people in reach, so the south gets fewer)."""
    regions = [{**GROWING["regions"][0]}, {**GROWING["regions"][1], "addressable_share": 0.25}]
    model, ts, _ = run(small_scenario(**{**GROWING, "regions": regions}))
    reach = ts.groupby("date")["people_in_reach"].first()
    assert reach.iloc[-1] == pytest.approx(1.5e8 + 0.25 * 2.0e8) and reach.iloc[0] == pytest.approx(1.0e8 + 0.25 * 0.5e8, rel=1e-3)
    south = float(np.mean(model.population.region == 1))
    assert south == pytest.approx(0.5e8 / 2.0e8, abs=0.01)  # listeners by people in reach at the horizon: 0.5e8 of 2e8
    same = run(small_scenario(**{**GROWING, "regions": [{**GROWING["regions"][0], "addressable_share": 1.0}, GROWING["regions"][1]]}))
    np.testing.assert_array_equal(same[1]["mau"].to_numpy(), run(small_scenario(**GROWING))[1]["mau"].to_numpy())


def test_a_dated_addressable_share_brings_its_people_into_reach_as_it_rises():
    """``addressable_share`` as a dated schedule: people in reach are the population x the share, each linear
    between its dates and flat outside (so the share is 0.25 before its first date and 0.5 after its last)."""
    south = {**GROWING["regions"][1], "addressable_share": {"2015-06": 0.25, "2016-03": 0.5}}
    model, ts, _ = run(small_scenario(**{**GROWING, "regions": [GROWING["regions"][0], south]}))
    reach = ts.groupby("date")["people_in_reach"].first().to_numpy()
    month = np.arange(18.0)  # since 2015-01
    people = (np.interp(month, [0, 12], [1.0e8, 1.5e8])
              + np.interp(month, [0, 17], [0.5e8, 2.0e8]) * np.interp(month, [5, 14], [0.25, 0.5]))
    # rounding to whole listeners: at most half a listener per region off
    assert np.all(np.abs(reach - people) <= model.weight + 1e-6), np.abs(reach - people).max() / model.weight


def test_with_word_of_mouth_over_friends_in_reach_each_counts_only_those():
    """``diffusion.friends_in_reach``: after every step a listener's number of friends (``degree``, the word of
    mouth's denominator) is the number of their friends in reach (not OUTSIDE), as people keep coming into reach."""
    model = MarketModel(small_scenario({"diffusion.friends_in_reach": True}, **GROWING), 1)
    pop, seen = model.population, set()
    while model.running:
        model.step()
        by_id = pop.state[pop.slot_of] != State.OUTSIDE
        in_reach = pop.friends.astype(np.int32) @ by_id.astype(np.int32)
        np.testing.assert_array_equal(pop.degree[pop.slot_of], in_reach)
        seen.add(int(by_id.sum()))
    assert len(seen) > 10  # reach grew over the run


@pytest.mark.parametrize("change, expect", [
    ({"regions": [{"name": "europe", "share": 0.5, "addressable_share": 0.5}, {"name": "rest", "share": 0.5}]},
     ["addressable_share", "own `population`"]),
    ({"timeline": [{"at": "2015-05", "exit": "Apple Muzic"}]}, ["timeline.0.exit", "did you mean 'Apple Music'"]),
    ({"timeline": [{"at": "2015-05", "exit": "Spotify"}]}, ["timeline.0.exit", "focal"]),
    ({"timeline": [{"at": "2015-05", "enter": {"name": "X", "ad_lod": 3}}]}, ["timeline.0.enter", "ad_lod", "ad_load"]),
    ({"timeline": [{"at": "2015-05", "enter": {"name": "Apple Music"}}]}, ["reuses a name"]),
    ({"market": {"population": {"2015-01": 2e8, "2016-01": 1e8}, "agents": 3000}}, ["must not decrease"]),
    ({"market": {"agents": 3000}, "regions": [{"name": "europe", "population": 1e8, "addressable_share": {"2015-01": 0.8,
                                                                                                  "2016-01": 0.6}}]},
     ["regions.0", "addressable_share", "must not decrease"]),
    ({"market": {"agents": 3000}, "regions": [{"name": "europe", "population": 1e8, "addressable_share": {"2015-01": 1.2}}]},
     ["regions.0.addressable_share.2015-01", "less than or equal to 1"]),
    ({"services": {"focal": {"name": "S", "availability": {"europa": {"2015-01": 1}}}}},
     ["availability.europa", "did you mean 'europe'"]),
])
def test_bad_market_definitions_are_refused_at_load(write_yaml, change, expect):
    import yaml
    base = {"name": "bad", "time": {"start": "2015-01", "months": 12}, "market": {"population": 2e8, "agents": 3000},
            "regions": [{"name": "europe", "share": 0.5}, {"name": "rest", "share": 0.5}],
            "services": {"focal": {"name": "Spotify"}, "competitors": [{"name": "Apple Music", "free_tier": False}]}}
    base.update(change)
    with pytest.raises(ScenarioError) as err:
        validate_scenario(base, "bad.yaml")
    for text in expect:
        assert text in str(err.value), (text, str(err.value))
    res = run_cli("validate", str(write_yaml(yaml.safe_dump(base), "bad.yaml")))
    assert res.returncode == 2 and "Traceback" not in res.stderr and expect[0] in res.stderr + res.stdout
