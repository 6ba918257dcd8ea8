"""Podcasts (``sim.mechanics.podcasts``): a part of the free tier's hours, neutral by default."""

from __future__ import annotations

import numpy as np

from tests.helpers import run_model, small_scenario

SHARE = 0.5
FIRST = {"time.months": 1}  # the first month: the same listeners listen the same music hours in both runs


def _first_month(share: float):
    return run_model(small_scenario({**FIRST, "mechanisms.podcasts.share": share}), seed=5)


def test_free_users_add_the_share_of_their_music_hours_in_podcasts():
    """Oracle: in the first month (common random numbers) a free user's hours are (1 + share) x the music
    hours, a paying user's are unchanged, and the KPI is share x the free users' music hours."""
    music, both = _first_month(0.0), _first_month(SHARE)
    free = music.records["listening_hours_per_free_user"][0]
    assert np.isfinite(free[0]) and free[0] > 0  # the focal service has free users
    np.testing.assert_allclose(both.records["listening_hours_per_free_user"][0], (1 + SHARE) * free, rtol=1e-6)
    np.testing.assert_allclose(both.records["podcast_hours_per_free_user"][0], SHARE * free, rtol=1e-6)
    np.testing.assert_array_equal(both.records["listening_hours_per_premium_user"][0],
                                  music.records["listening_hours_per_premium_user"][0])
    # the ad inventory is the free tier's hours (deterministic in the hours: no sampling error)
    np.testing.assert_allclose(both.records["ad_inventory_impressions"][0],
                               (1 + SHARE) * music.records["ad_inventory_impressions"][0], rtol=1e-6)


def test_the_default_adds_nothing():
    model = _first_month(0.0)
    kpi = model.records["podcast_hours_per_free_user"][0]
    free = model.records["free_users"][0]
    assert (kpi[free > 0] == 0).all() and np.isnan(kpi[free == 0]).all()
