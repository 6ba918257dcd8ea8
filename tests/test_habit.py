"""The habit of paying for streaming (``sim.mechanics.habit``): its path in time, and its response at the
shipped baseline, checked against the same runs with it switched off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.agents.listeners import Tier
from sim.mechanics.habit import premium_habit
from sim.model import MarketModel
from sim.runner import simulate
from sim.scenario import apply_overrides, load_scenario
from sim.scenario.mechanisms import HabitConfig
from tests.helpers import ROOT


def test_the_value_grows_from_since_and_is_held_from_until():
    cfg = HabitConfig(growth=0.6, since="2016-01", until="2018-01")
    at = lambda ym: premium_habit(cfg, pd.Timestamp(f"{ym}-01"))  # noqa: E731
    assert at("2015-06") == 0.0 and at("2016-01") == 0.0  # nothing before or at its start
    assert at("2016-07") == pytest.approx(0.3)  # half a year: half the yearly growth
    assert at("2018-01") == pytest.approx(1.2) and at("2030-12") == pytest.approx(1.2)  # held from until on
    assert premium_habit(HabitConfig(), pd.Timestamp("2030-12-01")) == 0.0  # off by default


BASELINE = load_scenario(ROOT / "scenarios" / "baseline.yaml")
GROWTH = BASELINE.mechanisms.habit.growth  # EUR/month per year, as shipped (fitted: docs/validation.md section 2)


def _run(growth: float, months: int) -> MarketModel:
    scenario = apply_overrides(BASELINE, {"market.agents": 40000, "time.months": months, "mechanisms.habit.growth": growth})
    model = MarketModel(scenario, seed=0)
    while model.running:
        model.step()
    return model


@pytest.fixture(scope="module")
def to_2020():
    """The shipped baseline 2015-2020 at 40,000 listeners, seed 0, with its habit and with it off (paired: the
    same listeners draw alike): each run's paying listeners (premium or trial) of all services at 2020-12."""
    return {name: int((_run(g, 72).population.tier >= Tier.TRIAL).sum()) for name, g in (("habit", GROWTH), ("off", 0.0))}


def test_the_habit_brings_payers_as_it_grows(to_2020):
    # with the habit over without, seeds 0-2: 1.71, 1.71, 1.70 (8,108 / 4,744 payers at seed 0). The counts' sampling
    # errors (1.1% and 1.5%) give the ratio about 1.8%, so +-5 of them is +-0.16; off, the ratio is exactly 1
    assert 1.55 <= to_2020["habit"] / to_2020["off"] <= 1.87, to_2020


def test_its_first_month_is_the_baselines():
    """The value is 0 at ``since`` (the baseline's first month): that month is the same draw for draw."""
    with_habit, off = _run(GROWTH, 1), _run(0.0, 1)
    np.testing.assert_array_equal(with_habit.population.tier, off.population.tier)
    np.testing.assert_array_equal(with_habit.population.service, off.population.service)


def test_a_dated_start_leaves_every_earlier_month_as_it_was():
    """The habit switched on by a timeline event in 2016-01 (its value counted from ``since``, 2015-01): the months
    before are the run without it to the bit, the months after differ."""
    off = apply_overrides(BASELINE, {"market.agents": 20000, "time.months": 24, "mechanisms.habit.growth": 0.0})
    data = off.model_dump(mode="json", exclude_none=True)
    data["timeline"].append({"at": "2016-01", "set": {"mechanisms.habit.growth": GROWTH}})
    dated = type(off).model_validate(data)
    a, b = (simulate(s, np.random.SeedSequence(3)).timeseries.set_index(["date", "service"]) for s in (off, dated))
    before = a.index.get_level_values("date") < "2016-01-01"
    pd.testing.assert_frame_equal(a[before], b[before])
    assert not a.loc[~before, "premium_subscribers"].equals(b.loc[~before, "premium_subscribers"])
