"""The measures of ``make validate`` (sim/analysis/validation.py) on timeseries with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis import validation as v


def _spotify_as_it_was(scale: float = 1.0, churn_shift: float = 0.0) -> pd.DataFrame:
    """A focal timeseries whose Q4s are Spotify's own figures (x ``scale`` for users), two identical replicates."""
    dates = pd.date_range("2015-01-01", "2020-12-01", freq="MS")
    users = {name: v.observed_q4(metric, range(2015, 2021)) for name, (metric, _) in v.USERS.items()}
    churn = v.observed_q4("premium_churn_monthly", range(2015, 2020)).reindex(range(2015, 2021)).ffill()
    share = v.observed_q4("adsupported_revenue_share", range(2017, 2021)).reindex(range(2015, 2021)).bfill()
    year = dates.year
    premium = users["premium (with trials)"].loc[year].to_numpy() * 1e6 * scale
    free = users["ad-supported MAU"].loc[year].to_numpy() * 1e6 * scale
    rows = pd.DataFrame({"date": dates, "service": "Spotify", "premium_subscribers": premium, "trial_users": 0.0,
                         "free_users": free, "mau": users["mau"].loc[year].to_numpy() * 1e6 * scale,
                         "churn_premium_monthly": (churn.loc[year].to_numpy() + churn_shift) / 100,
                         "revenue_total_eur": 1e9, "revenue_ads_eur": share.loc[year].to_numpy() / 100 * 1e9})
    return pd.concat([rows.assign(replicate=r) for r in (0, 1)], ignore_index=True)


def test_the_fit_of_spotify_itself_is_perfect_and_every_target_met():
    table = v.fit_table(_spotify_as_it_was()).set_index("series")
    assert table.loc[["mau", "premium (with trials)", "ad-supported MAU"], "value"].abs().max() < 1e-9
    assert table.loc["premium churn (% a month)", "value"] < 1e-9
    assert table.loc["premium churn trend", "value"] < 0  # the F-1's churn falls
    assert table.loc["ad share of revenue (%)", "value"] < 1e-9
    assert table["met"].all()


def test_misses_are_measured_and_judged():
    table = v.fit_table(_spotify_as_it_was(scale=1.2, churn_shift=1.5)).set_index("series")
    assert table.loc["mau", "value"] == pytest.approx(20.0)
    assert not table.loc["mau", "met"]
    assert table.loc["premium churn (% a month)", "value"] == pytest.approx(1.5)
    assert not table.loc["premium churn (% a month)", "met"]


def test_paid_subscriptions_add_every_service_its_trial_users_and_china():
    """A paid subscription is a premium subscriber or a trial user (``v.PAID``: as Spotify counts, and the fit)."""
    ts = pd.DataFrame({"date": pd.to_datetime(["2030-12-01"] * 4), "service": ["A", "B", "A", "B"],
                       "replicate": [0, 0, 1, 1], "premium_subscribers": [400e6, 200e6, 500e6, 300e6],
                       "trial_users": [10e6, 30e6, 20e6, 40e6]})
    assert v.paid_subscriptions(ts).loc[2030] == pytest.approx(750e6 / v.CHINA)


def test_the_focal_share_counts_trial_users_as_the_world_total_does():
    ts = pd.DataFrame({"date": pd.to_datetime(["2019-12-01", "2019-12-01", "2019-11-01"]),
                       "service": ["Spotify", "Apple Music", "Spotify"], "premium_subscribers": [90e6, 40e6, 1e6],
                       "trial_users": [10e6, 60e6, 1e6]})
    assert v.focal_share(ts).tolist() == pytest.approx([100 / 200 * v.CHINA])
    assert np.isclose(v.slope(pd.Series([3.0, 2.0, 1.0], index=[2015, 2016, 2017])), -1.0)
