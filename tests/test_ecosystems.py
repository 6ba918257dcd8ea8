"""Platform ecosystems (``sim.mechanics.ecosystems``): who belongs to which, and what the bonus does to the market.

The response is paired (common random numbers: the same seed with the mechanism on and off) on the baseline's
market to 2020-12 at 20,000 listeners. Its bands hold the sampling error's several standard errors on either side;
with the mechanism off (``enabled: false``) both responses are nil and the test fails.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.agents.listeners import Tier
from sim.mechanics import ecosystems
from sim.scenario import apply_overrides, load_scenario
from tests.helpers import ROOT, run_model

BONUS = 3.0  # EUR/month, every ecosystem: a plausible bundle (Music Unlimited's Prime discount is $2)


def test_each_listener_belongs_to_their_regions_ecosystems_in_its_shares():
    shares = np.array([[0.45, 0.19, 0.36], [0.10, 0.0, 0.5]])
    region = np.repeat([0, 1], 50_000)
    got = ecosystems.draw(region, shares, np.random.default_rng(1))
    assert got.dtype == np.uint8
    for r in range(2):
        counts = np.bincount(got[region == r], minlength=4) / 50_000  # none, apple, amazon, google
        want = np.array([1 - shares[r].sum(), *shares[r]])
        np.testing.assert_allclose(counts, want, atol=4 * np.sqrt(0.25 / 50_000))


def _paying(model) -> tuple[np.ndarray, np.ndarray]:
    """The listeners who know the market (slots) and whether each pays (premium or trial) for which service."""
    pop = model.population
    known = pop.known
    paying = np.isin(pop.tier[known], (Tier.PREMIUM, Tier.TRIAL))
    return known, np.where(paying, pop.service[known], -1)


@pytest.fixture(scope="module")
def paired():
    base = apply_overrides(load_scenario(ROOT / "scenarios" / "baseline.yaml"), {"market.agents": 20000, "time.months": 72})
    on = {"mechanisms.ecosystems.enabled": True, **{f"mechanisms.ecosystems.bonus.{e}": BONUS for e in ecosystems.ECOSYSTEMS}}
    return run_model(apply_overrides(base, {"mechanisms.ecosystems.enabled": False}), 5), run_model(apply_overrides(base, on), 5)


def test_members_pay_for_their_platforms_service_and_more_people_pay(paired):
    """Each platform's members pay for its service 2-12 times as often with the bonus (4-8x here; the log ratio's
    sampling error is 0.1-0.4), the other listeners no more often, and the market counts 3-25% more payers (+11%
    here: the new payers are not all taken from other services)."""
    off, on = paired
    (k_off, pays_off), (k_on, pays_on) = _paying(off), _paying(on)
    pop = on.population
    for j, home in enumerate(on.table.ecosystem):
        if home == ecosystems.NONE:
            continue
        member_off = off.population.ecosystem[k_off] == home
        member_on = pop.ecosystem[k_on] == home
        ratio = np.mean(pays_on[member_on] == j) / np.mean(pays_off[member_off] == j)
        assert 2.0 <= ratio <= 12.0, (on.table.names[j], ratio)
        others = np.mean(pays_on[~member_on] == j) / np.mean(pays_off[~member_off] == j)
        assert others <= 1.1, (on.table.names[j], others)
    more = np.sum(pays_on >= 0) / np.sum(pays_off >= 0) - 1
    assert 0.03 <= more <= 0.25, more


def test_the_ecosystem_is_drawn_from_its_own_stream(paired):
    """The ecosystems are drawn from a stream of their own: switching the mechanism on moves no other attribute."""
    off, on = paired
    for name in ("region", "wtp", "outside_value", "base_hours"):
        np.testing.assert_array_equal(getattr(off.population, name)[off.population.slot_of],
                                      getattr(on.population, name)[on.population.slot_of])
