"""The model's per-step records and their registry: prices, column order, labelled array."""

from __future__ import annotations

import numpy as np

from sim.metrics import KPI_BY_NAME, KPIS, MARKET_KPIS, SERVICE_KPIS, SUMMARY_KPIS
from sim.model import MarketModel
from sim.scenario import validate_scenario

SPEC = {"name": "prices", "market": {"agents": 300}, "time": {"months": 2},
        "services": {"competitors": [{"name": "Family only", "plans": {"family": {"price": 15.0}}}]}}


def test_individual_and_headline_prices():
    """price_individual_eur is the individual plan's price (NaN where none); price_headline_eur the headline plan's."""
    model = MarketModel(validate_scenario(SPEC, "prices"), seed=1)
    model.step()
    ts = model.timeseries().set_index("service")
    focal = model.services[0]
    assert ts.loc[focal.name, "price_individual_eur"] == focal.policy.plans["individual"].price
    assert ts.loc[focal.name, "price_headline_eur"] == focal.policy.plans["individual"].price
    assert np.isnan(ts.loc["Family only", "price_individual_eur"])
    assert ts.loc["Family only", "price_headline_eur"] == 15.0


def test_timeseries_columns_follow_the_registry():
    model = MarketModel(validate_scenario(SPEC, "prices"), seed=1)
    model.step()
    model.step()
    ts = model.timeseries(replicate=3)
    assert list(ts.columns) == ["replicate", "date", "step", "service", "focal", *(k.name for k in KPIS)]
    assert set(SERVICE_KPIS) | set(MARKET_KPIS) == set(KPI_BY_NAME) and set(SUMMARY_KPIS) <= set(SERVICE_KPIS)
    # the labelled array (step x service x KPI) is what the long table holds
    k = SERVICE_KPIS.index("mau")
    np.testing.assert_array_equal(ts["mau"].to_numpy(), model.records.values[:2, :, k].reshape(-1))
    np.testing.assert_array_equal(model.records["mau"], model.records.values[..., k])
    assert (ts.groupby("step")["unaware"].nunique() == 1).all()  # market counts repeat on every service row
