"""A listener's persistent taste for each service (``sim.mechanics.tastes``): its draws, and its response at
the shipped baseline, checked against the same runs with it switched off."""

from __future__ import annotations

import numpy as np
import pytest

from sim.agents.listeners import Tier
from sim.mechanics.tastes import service_keys, tastes
from sim.model import MarketModel
from sim.scenario import apply_overrides, load_scenario
from tests.helpers import ROOT, run_model, small_scenario

N = 200_000  # listeners drawn: the tolerances below are 5 standard errors of a sample this size


def test_tastes_are_normal_with_the_set_spread_and_independent_across_services():
    keys = service_keys(np.uint64(12345), 3)
    z = tastes(keys, np.arange(N)[:, None], np.arange(3)[None, :], 2.0) / 2.0  # (N, 3) standard normal
    assert np.abs(z.mean(axis=0)).max() < 5 / np.sqrt(N)
    assert np.abs(z.std(axis=0) - 1).max() < 5 / np.sqrt(2 * N)
    beyond = (np.abs(z) > 1.959964).mean(axis=0)  # the normal's tails: 5% beyond 1.96 standard deviations
    assert np.abs(beyond - 0.05).max() < 5 * np.sqrt(0.05 * 0.95 / N)
    corr = np.corrcoef(z.T)[np.triu_indices(3, 1)]  # one listener's tastes for two services: unrelated
    assert np.abs(corr).max() < 5 / np.sqrt(N)
    other = tastes(service_keys(np.uint64(54321), 1), np.arange(N), np.zeros(N, np.int64), 1.0)  # another seed
    assert abs(np.corrcoef(other, z[:, 0])[0, 1]) < 5 / np.sqrt(N)
    np.testing.assert_array_equal(tastes(keys, np.arange(N), 1, 0.0), 0.0)  # switched off: exactly nothing


def test_a_listeners_tastes_are_theirs_for_life_and_an_entrant_changes_no_one_elses():
    """The taste follows the listener's id (not the slot that stores them), from the replicate's seed, and a
    scenario with one more service gives every listener the same tastes for the others (common random numbers)."""
    plain = small_scenario({"choice.service_taste": 1.0})
    data = plain.model_dump(mode="json", exclude_none=True)
    data["timeline"].append({"at": "2015-06", "enter": {"name": "Newcomer", "free_tier": True,
                                                       "plans": {"individual": {"price": 9.99}}}})
    entrant = type(plain).model_validate(data)

    def held(model, n_services):  # each listener's tastes (by id) for the services, (n, n_services)
        pop = model.population
        order = np.argsort(pop.ident)
        keys = service_keys(pop.taste_key, n_services)
        return tastes(keys, pop.ident[order][:, None], np.arange(n_services)[None, :], 1.0)

    a, b = MarketModel(plain, seed=7), MarketModel(entrant, seed=7)
    s = len(plain.all_services())
    before = held(a, s)
    for _ in range(6):
        a.step()
        b.step()
    assert not np.array_equal(np.argsort(a.population.ident), np.arange(plain.market.agents))  # slots moved
    np.testing.assert_array_equal(held(a, s), before)  # the same tastes after six months
    np.testing.assert_array_equal(held(b, s + 1)[:, :s], before)  # and with an entrant
    assert MarketModel(plain, seed=8).population.taste_key != a.population.taste_key  # another replicate, other tastes


# ---------------------------------------------------------------- the response, at the shipped baseline

TASTE = 2.5  # EUR/month: about what tools/fit_regions.py finds with the tastes fitted (docs/validation.md section 5)


@pytest.fixture(scope="module")
def to_2020():
    """The shipped baseline 2015-2020 at 40,000 listeners, seed 0, with tastes of ``TASTE`` and without (paired:
    the same listeners draw alike): each run's paying listeners (premium or trial) and their taste for their service
    in standard deviations."""
    out = {}
    for name, taste in (("tastes", TASTE), ("off", 0.0)):
        scenario = apply_overrides(load_scenario(ROOT / "scenarios" / "baseline.yaml"),
                                   {"market.agents": 40000, "time.months": 72, "choice.service_taste": taste})
        model = run_model(scenario, 0)
        pop = model.population
        paid = np.flatnonzero(pop.tier >= Tier.TRIAL)
        out[name] = tastes(service_keys(pop.taste_key, model.table.n), pop.ident[paid], pop.service[paid], 1.0)
    return out


def test_payers_are_those_who_like_their_service(to_2020):
    # ~6,700 payers: the mean's standard error is 0.011, the band +-5 of them around seeds 0-2's 0.71-0.72;
    # off, who pays does not follow the draws: their mean over ~5,900 payers is 0 +- 0.013
    assert 0.66 <= to_2020["tastes"].mean() <= 0.78
    assert abs(to_2020["off"].mean()) < 5 * 0.013


def test_tastes_bring_payers_the_undifferentiated_market_does_not_reach(to_2020):
    # all services' payers at 2020-12 with tastes over without: 1.13-1.15 over seeds 0-2; each count of ~6,000
    # has about 1.3% sampling error, so +-5 standard errors of the ratio (1.8%) is 9 points; off, the ratio is 1
    ratio = to_2020["tastes"].size / to_2020["off"].size
    assert 1.05 <= ratio <= 1.23, ratio
