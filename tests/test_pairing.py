"""Common random numbers before a dated change: A and B are identical in every column, for every
service, in every month before the first dated difference, whatever kind of event makes it
(a policy set, a campaign, an outage, an entrant, an exit, and ``compare --from``).

An entrant is in B's list of services from the start; it must take nothing from anyone (users,
draws, the advertisers' budgets) before its date, and has no users and no revenue then.
"""

from __future__ import annotations

import pandas as pd
import pytest

from sim.cli import main
from sim.model import MarketModel
from sim.scenario import scenario_to_yaml, validate_scenario
from tests.helpers import small_scenario

RIVAL = {"name": "Rival", "free_tier": True, "plans": {"individual": {"price": 9.99}}}
DATE = "2016-01"
EVENTS = {
    "set": {"set": {"services.focal.plans.individual.price": 12.99}},
    "campaign": {"set": {"services.focal.marketing_budget": 5.0e7}},
    "outage": {"outage": {"days": 3, "severity": 0.5}},
    "enter": {"enter": {"name": "Newco", "free_tier": True, "ad_load": 3.0, "plans": {"individual": {"price": 7.99}}}},
    "exit": {"exit": "Rival"},
}


def _scenario(timeline: list[dict]):
    """18 months of a 3,000-listener market with a competitor that sells ads too."""
    data = small_scenario({"time.months": 18}, services={"focal": {"name": "Spotify"}, "competitors": [RIVAL]}
                          ).model_dump(mode="json")
    data["timeline"] = timeline
    return validate_scenario(data, "test")


def _timeseries(scenario) -> pd.DataFrame:
    model = MarketModel(scenario, 5)
    for _ in range(model.n_steps):
        model.step()
    return model.timeseries()


@pytest.fixture(scope="module")
def baseline():
    return _timeseries(_scenario([]))


def _before(series: pd.DataFrame, services) -> pd.DataFrame:
    rows = series[(series["date"] < pd.Timestamp(DATE)) & series["service"].isin(services)]
    return rows.sort_values(["date", "service"]).reset_index(drop=True)


@pytest.mark.parametrize("kind", EVENTS)
def test_every_column_of_every_service_is_paired_before_the_event(baseline, kind):
    variant = _timeseries(_scenario([{"at": DATE, **EVENTS[kind]}]))
    services = baseline["service"].unique()
    a, b = _before(baseline, services), _before(variant, services)
    assert len(a) == len(b) > 0
    differs = [c for c in a.columns if not a[c].equals(b[c])]
    assert differs == [], f"{kind}: A and B differ before {DATE} in {differs}"
    after = variant[variant["date"] >= pd.Timestamp(DATE)]
    assert not _before(after, services).equals(a), f"{kind}: the event changed nothing"  # the test can see a change


def test_an_entrant_has_no_users_and_no_revenue_before_its_date_and_some_after():
    series = _timeseries(_scenario([{"at": DATE, **EVENTS["enter"]}]))
    entrant = series[series["service"] == "Newco"]
    early = entrant[entrant["date"] < pd.Timestamp(DATE)]
    late = entrant[entrant["date"] >= pd.Timestamp(DATE)]
    for kpi in ("mau", "premium_subscribers", "revenue_total_eur", "revenue_ads_eur", "royalties_eur"):
        assert (early[kpi].fillna(0) == 0).all(), kpi
    assert late["mau"].iloc[-1] > 0 and late["revenue_ads_eur"].sum() > 0


def test_compare_from_is_paired_before_its_month_in_every_column(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(scenario_to_yaml(_scenario([])))
    out = tmp_path / "cmp"
    assert main(["compare", str(path), "--set", "services.focal.free_tier=false", "--from", DATE, "--replicates", "2",
                 "--quiet", "--workers", "1", "--out", str(out)]) == 0
    series = pd.read_parquet(out / "paired_timeseries.parquet")
    early = series[series["date"] < pd.Timestamp(DATE)]
    a, b = (early[early["scenario"] == x].drop(columns="scenario").reset_index(drop=True) for x in ("A", "B"))
    assert len(a) == len(b) > 0
    assert [c for c in a.columns if not a[c].equals(b[c])] == []
    late = series[series["date"] >= pd.Timestamp(DATE)]
    assert late[late["scenario"] == "B"]["mau"].sum() != late[late["scenario"] == "A"]["mau"].sum()
