"""Money that means something: the consumer-price index, reference prices, and a constant list price as a real cut."""

from __future__ import annotations

import numpy as np
import pytest

from sim.mechanics import prices
from sim.model import MarketModel
from sim.scenario import ScenarioError, validate_scenario
from tests.helpers import small_scenario

US = {2015: 0.1, 2016: 1.3, 2017: 2.1, 2018: 2.4, 2019: 1.8, 2020: 1.2, 2021: 4.7, 2022: 8.0, 2023: 4.1, 2024: 2.9}
START = 2015 * 12  # 2015-01


def test_the_index_compounds_the_annual_rates():
    months = START + np.array([0, 12, 24, 108])
    index = prices.monthly_index(US, months, START)
    assert index[0] == 1.0
    # January of year y+1 has taken eleven months of year y and the January step of year y+1
    expected_2016 = (1.001 ** (11 / 12)) * (1.013 ** (1 / 12))
    assert index[1] == pytest.approx(expected_2016, rel=1e-12)
    assert index[3] == pytest.approx(np.prod([1 + US[y] / 100 for y in range(2015, 2024)]) * (1.001 ** (-1 / 12))
                                     * (1.029 ** (1 / 12)), rel=1e-12)
    assert prices.monthly_index({}, months, START).tolist() == [1.0] * 4  # no area: no inflation
    later = prices.monthly_index({2015: 2.0}, START + np.array([0, 120]), START)
    assert later[1] == pytest.approx(1.02 ** 10, rel=1e-12)  # the last rate carries on


def test_reference_prices_adapt_and_a_rise_is_felt_until_they_do():
    real = np.array([[[10.0]]])
    ref = np.array([[[9.0]]])
    assert prices.loss(real, ref, 1.5)[0, 0, 0] == pytest.approx(1.5)
    assert prices.loss(ref, real, 1.5)[0, 0, 0] == 0.0  # a price below the reference is no loss
    assert prices.rise_review(real, ref, 0.5)[0, 0, 0] == pytest.approx(0.5 / 9.0)
    after = prices.adapt(ref, real, 0.1, 1.0)
    assert after[0, 0, 0] == pytest.approx(9.1)
    weekly = prices.adapt(ref, real, 0.1, 7 / 30.4375)
    assert 9.0 < weekly[0, 0, 0] < 9.1
    assert prices.adapt(np.array([np.nan]), np.array([5.0]), 0.1, 1.0)[0] == 5.0  # a new plan starts at its price


def _premium_after(scenario, seed):
    model = MarketModel(scenario, seed)
    while model.running:
        model.step()
    return model.records["premium_subscribers"][-1, 0]


@pytest.mark.slow
def test_a_constant_list_price_is_a_real_price_cut():
    """With 8% inflation a year the same list price buys more subscribers after three years (common seeds)."""
    base = small_scenario({"time.months": 36, "market.agents": 6000, "initial.aware": 0.5, "initial.focal_free": 0.2,
                           "initial.focal_premium": 0.05, "regions": [{"name": "world", "share": 1.0, "inflation_area": "X"}],
                           "inflation": {"X": {2015: 0.0}}})
    inflated = small_scenario({"time.months": 36, "market.agents": 6000, "initial.aware": 0.5, "initial.focal_free": 0.2,
                               "initial.focal_premium": 0.05, "regions": [{"name": "world", "share": 1.0, "inflation_area": "X"}],
                               "inflation": {"X": {2015: 8.0}}})
    gain = np.array([_premium_after(inflated, s) / _premium_after(base, s) - 1 for s in range(3)])
    assert gain.mean() > 3 * gain.std(ddof=1) / np.sqrt(3) and gain.mean() > 0.02, gain


def test_an_unknown_inflation_area_is_refused():
    with pytest.raises(ScenarioError, match=r"inflation_area: 'Euro' is not an area of `inflation`; did you mean 'Euro area'"):
        validate_scenario({"name": "x", "regions": [{"name": "europe", "share": 1.0, "inflation_area": "Euro"}],
                           "inflation": {"Euro area": {2015: 0.2}}}, "x.yaml")
