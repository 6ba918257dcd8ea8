"""The focal service by region at the baseline against Spotify's reported regional shares (issue 23;
data/regional/spotify_users_by_region.csv, sim.analysis.regions).

- The paying share of MAU falls with income: about 0.51 in Europe and 0.54 in North America, 0.43 in Latin America
  and 0.26 in the rest of the world at Q4 2020. Price relative to income (choice.income_elasticity,
  regions[].income) makes the gap between the richer two and the poorer two: without it the gap halves.
- Regional shares of MAU (2017-12, 2020-12) and of premium subscribers (2020-12): the issue asks for 4 points (met at
  the shipped size, docs/validation.md); here, at 20,000 listeners and two seeds, 4 points plus three standard errors
  of a share (``SHARE_TOLERANCE_POINTS``). Only each region's addressable share of its internet users comes into reach
  (``regions[].addressable_share``, fitted by ``tools/fit_regions.py``): with every internet user in reach the rest of
  the world takes far too many of the users.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.regions import compare, observed_shares
from sim.scenario import apply_overrides, load_scenario
from sim.analysis.validation import REACH_FROM, REACH_TO, reach_after_2020
from tests.helpers import ROOT, run_model

SEEDS = (0, 1)
RICH, POOR = ("europe", "north_america"), ("latin_america", "rest_of_world")
# a region's share of ~3,000 focal users (2017-12, two seeds): about 0.7 points of sampling error
SHARE_TOLERANCE_POINTS = 4.0 + 3 * 0.7


def _regions(scenario) -> pd.DataFrame:
    return pd.concat([run_model(scenario, s).regions(s) for s in SEEDS], ignore_index=True)


@pytest.fixture(scope="module")
def baseline_2020():
    return apply_overrides(load_scenario(ROOT / "scenarios" / "baseline.yaml"), {"market.agents": 20000, "time.months": 72})


@pytest.fixture(scope="module")
def regions(baseline_2020) -> pd.DataFrame:
    return _regions(baseline_2020)


def _paying_gap(regions: pd.DataFrame) -> np.ndarray:
    """Per replicate: the mean paying share (premium + trial over MAU) of Europe and North America less that of
    Latin America and the rest of the world, focal service, 2020-12."""
    at = regions[(regions["service"] == "Spotify") & (regions["date"] == pd.Timestamp("2020-12-01"))].set_index("region")
    paying = (at["premium_subscribers"] + at["trial_users"]) / at["mau"]
    return np.array([paying[at["replicate"] == r].loc[list(RICH)].mean() - paying[at["replicate"] == r].loc[list(POOR)].mean()
                     for r in SEEDS])


def _observed_gap() -> float:
    """The same gap in the data: premium share over MAU share x 155M / 345M (Q4 2020)."""
    ratio = observed_shares("premium_share", "2020-12") / observed_shares("MAU_share", "2020-12") * 155 / 345
    return float(ratio.loc[list(RICH)].mean() - ratio.loc[list(POOR)].mean())


def test_the_paying_share_falls_with_income_as_reported(regions):
    gap, want = _paying_gap(regions), _observed_gap()  # want ~0.18
    assert abs(gap.mean() - want) <= 0.08, (gap, want)


def test_without_price_relative_to_income_the_paying_share_hardly_differs(baseline_2020):
    """Mutation check: with income_elasticity 0 (the same weight of a EUR everywhere) the gap is under 10 points."""
    gap = _paying_gap(_regions(apply_overrides(baseline_2020, {"choice.income_elasticity": 0.0})))
    assert gap.mean() < _observed_gap() - 0.08, gap


def test_without_addressable_shares_the_emerging_regions_take_too_many_users(baseline_2020):
    """Mutation check: every region's internet users all in reach (``addressable_share`` 1, the initial market's people
    kept): the rest of the world's share of MAU at 2020-12 runs more than 10 points above Spotify's and North America's
    more than 8 below (with the fitted shares both are within 4, ``test_regional_shares_of_users_near_the_reported``)."""
    from tools.fit_regions import with_values

    everyone = with_values(baseline_2020, {f"regions.{r}.addressable_share": 1.0 for r in ("europe", "latin_america",
                                                                                          "rest_of_world")})
    gaps = compare(_regions(everyone), "Spotify").set_index(["metric", "date", "region"])["gap_points"]
    assert gaps["MAU_share", "2020-12", "rest_of_world"] > 10, gaps
    assert gaps["MAU_share", "2020-12", "north_america"] < -8, gaps


def test_regional_shares_of_users_near_the_reported(regions):
    gaps = compare(regions, "Spotify")
    assert len(gaps) == 12 and gaps["observed"].notna().all()  # 4 regions x (MAU 2017, MAU 2020, premium 2020)
    assert gaps["gap_points"].abs().max() <= SHARE_TOLERANCE_POINTS, gaps


def test_the_reach_growing_after_2020_leaves_every_month_to_2020_as_fitted():
    """The shipped addressable shares hold their 2015-2020 fit to 2020-12 and grow after it as smartphones were
    forecast to spread (``reach_after_2020`` derives them, docs/evidence.md section 4b): a run to 2020-12 is, to the
    byte, the run with the shares held. Mutation check: the same rise started a year earlier (from 2019-12) moves it."""
    base = apply_overrides(load_scenario(ROOT / "scenarios" / "baseline.yaml"), {"market.agents": 3000, "time.months": 72})
    shipped = {f"regions.{r.name}.addressable_share": r.addressable_share for r in base.regions}
    grown = reach_after_2020(base)
    # the file's schedules are the forecasts' rule applied to the fit (every internet user in reach stays so)
    assert {k: shipped[k] for k in grown} == grown and all(shipped[k] == 1.0 for k in shipped.keys() - grown.keys())
    assert any(s[REACH_TO] > s[REACH_FROM] for s in grown.values())
    growing = run_model(base, 7)
    held = run_model(apply_overrides(base, {k: s[REACH_FROM] for k, s in grown.items()}), 7)
    pd.testing.assert_frame_equal(growing.timeseries(), held.timeseries())
    pd.testing.assert_frame_equal(growing.regions(7), held.regions(7))
    early = {k: {"2019-12": s[REACH_FROM], "2024-12": s[REACH_TO]} for k, s in grown.items()}
    assert not run_model(apply_overrides(base, early), 7).timeseries().equals(held.timeseries())
