"""Where listeners are stored changes no listener's story: the known-first slots against ids."""

from __future__ import annotations

import numpy as np
import pytest

from sim.agents.listeners import State
from sim.model import MarketModel
from sim.scenario import apply_overrides, load_scenario
from tests.helpers import ROOT

MECHANISMS = ("ads", "personalization", "service_quality", "campaigns", "competition")
MONTHS = 40  # four Decembers (Wrapped), the launches in new regions of the baseline


def _scenario():
    overrides = {"market.agents": 4000, "time.months": MONTHS}
    overrides.update({f"mechanisms.{m}.enabled": True for m in MECHANISMS})
    return apply_overrides(load_scenario(ROOT / "scenarios" / "baseline.yaml"), overrides)


class InPlace(MarketModel):
    """The same model, but no listener ever changes slot: slots stay ids."""

    def gather_known(self, history: bool = False) -> np.ndarray:
        known = self.population.known
        joined = np.setdiff1d(known, getattr(self, "_known_before", known[:0]))
        self._known_before = known.copy()
        return joined


def _by_id(model: MarketModel) -> dict[str, np.ndarray]:
    pop = model.population
    names = ("state", "service", "tier", "plan", "tenure", "hours", "satisfaction", "goodwill", "data_depth",
             "trial_used", "spell_start", "shared_until")
    out = {name: getattr(pop, name)[pop.slot_of] for name in names}
    out["stage"] = model.memory.stage[pop.slot_of]
    return out


@pytest.fixture(scope="module")
def runs():
    moved, kept = MarketModel(_scenario(), seed=11), InPlace(_scenario(), seed=11)
    steps = []
    for _ in range(MONTHS):
        moved.step()
        kept.step()
        steps.append((_by_id(moved), _by_id(kept), moved.population.n_known))
        pop = moved.population
        # between steps the known fill the first slots, and ids and slots are inverse
        np.testing.assert_array_equal(pop.known, np.arange(pop.n_known))
        np.testing.assert_array_equal(pop.slot_of[pop.ident], np.arange(pop.n))
    return moved, kept, steps


def test_every_listener_lives_the_same_story_in_any_slot(runs):
    moved, kept, steps = runs
    assert (moved.population.ident != np.arange(moved.population.n)).mean() > 0.3  # many listeners moved
    for t, (a, b, _) in enumerate(steps):
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=f"{name} at step {t}")
    # the KPIs are the same sums, added in another order
    x, y = moved.timeseries(), kept.timeseries()
    num = x.select_dtypes("number").columns
    np.testing.assert_allclose(x[num].to_numpy(float), y[num].to_numpy(float), rtol=1e-9, atol=1e-6)


def test_listeners_who_do_not_know_the_market_have_no_history(runs):
    """What lets a newcomer move only their attributes (ListenerPopulation.HISTORY)."""
    moved, _, _ = runs
    pop = moved.population
    unknown = np.arange(pop.n_known, pop.n)
    assert np.isin(pop.state[unknown], [State.UNAWARE, State.OUTSIDE]).all()
    for name, (_, initial) in pop.HISTORY.items():
        assert (getattr(pop, name)[unknown] == initial).all(), name
    for name in ("stage", "sharing_now", "sharing", "reconsider"):
        assert not getattr(moved.memory, name)[unknown].any(), name
    assert not moved.memory.word_of_mouth.influence[unknown].any()


def test_the_views_find_a_listener_by_id(runs):
    moved, kept, _ = runs
    pop = moved.population
    i = int(pop.ident[0])  # a listener who knows the market, stored elsewhere than their id
    assert pop.slot_of[i] == 0 and i != 0
    assert moved.population[i] == kept.population[i]
    assert moved.population[i].friends == kept.population[i].friends
    for state in State:
        np.testing.assert_array_equal(pop.select(state=state), kept.population.select(state=state))
