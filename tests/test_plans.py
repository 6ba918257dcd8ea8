"""The focal plan mix at the baseline (issue 23): duo at most 10% of the premium subscribers at 2020-12, family
at least 15% (CIRP 2018, US: 55% individual, 45% family; data/regional/plan_mix.csv).

The mix comes from the plan choice within the service (sim.mechanics.choice): each plan's price per user against
its hassle (organising a shared account), which the baseline sets for duo and family."""

from __future__ import annotations

import pytest

from sim.analysis.responses import BASELINE, plan_shares, sem
from sim.scenario import apply_overrides, load_scenario


@pytest.fixture(scope="module")
def baseline_2020():
    return apply_overrides(load_scenario(BASELINE), {"market.agents": 20000, "time.months": 72})


def test_duo_at_most_ten_and_family_at_least_fifteen_percent_of_premium(baseline_2020):
    shares = plan_shares(baseline_2020)
    duo, family = shares[:, 0], shares[:, 1]
    assert duo.mean() - 3 * sem(duo) <= 0.10, duo
    assert family.mean() + 3 * sem(family) >= 0.15, family


def test_with_the_default_hassles_duo_crowds_out_family(baseline_2020):
    """Mutation check: with the schema's default hassles (duo 1.0, family 2.5 EUR/month per user) duo is about a
    fifth of premium and family about 13%, the mix issue 23 found."""
    timeline = baseline_2020.model_dump()["timeline"]
    for ev in timeline:
        for plan in ("duo", "family"):
            (ev.get("set") or {}).get(f"services.focal.plans.{plan}", {}).pop("hassle", None)
    shares = plan_shares(apply_overrides(baseline_2020, {"timeline": timeline}))
    assert shares[:, 0].mean() - 3 * sem(shares[:, 0]) > 0.10, shares
    assert shares[:, 1].mean() < 0.15, shares
