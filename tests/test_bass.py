"""Diffusion alone reproduces the Bass (1969) closed form within binomial sampling error."""

from __future__ import annotations

import numpy as np
import pytest

from sim.mechanics.diffusion import bass_advance, bass_cdf
from sim.model import MarketModel
from sim.scenario import validate_scenario

P, Q = 0.01, 0.4
N = 200_000


def diffusion_only(step: str, q: float = Q) -> dict:
    """One service everyone adopts on awareness; no churn, no competitors, no campaigns, fully mixed."""
    listener = {"name": "all", "share": 1.0, "wtp": 0.0, "outside_value": 0.0, "base_hours": 10.0, "ad_sensitivity": 0.0}
    return {
        "name": "bass", "time": {"start": "2015-01", "months": 24, "step": step},
        "market": {"population": float(N), "agents": N},
        "segments": [listener], "network": {"kind": "fully_mixed"},
        "diffusion": {"p": P, "q": q},
        "choice": {"review_rate": 0.0, "lapsed_review_rate": 0.0, "involuntary_churn": 0.0},
        "services": {"focal": {"name": "Only", "content_value": 100.0, "trial_months": 0, "support_staff": 0,
                               "plans": {"individual": {"price": 9.99}}}},
        "initial": {"aware": 0.0, "focal_free": 0.0, "focal_premium": 0.0},
        "mechanisms": {"service_quality": {"enabled": False}, "campaigns": {"enabled": False}},
    }


def adoption_curve(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """Months since start (end of each step) and the share of people no longer unaware."""
    model = MarketModel(validate_scenario(spec, "bass"), seed=7)
    t, share = [], []
    while model.running:
        model.step()
        t.append(model.t * model.dt)
        share.append(1.0 - model.market_records["unaware"][model.t - 1] / N)
    return np.array(t), np.array(share)


def sampling_sd(t: np.ndarray) -> np.ndarray:
    """Standard deviation of the adopted share at times ``t`` for N people (linear noise approximation).

    Adoptions are Bernoulli events with rate N (p + qF)(1 - F); word of mouth feeds each chance
    deviation forward with gain d/dF[(p + qF)(1 - F)] = q - p - 2qF. So the variance V obeys
    dV/dt = 2 (q - p - 2qF) V + (p + qF)(1 - F) / N, integrated here along the Bass path.
    """
    grid = np.linspace(0.0, float(t.max()), 20_001)
    h = grid[1] - grid[0]
    f = bass_cdf(grid, P, Q)
    v = np.zeros_like(grid)
    for k in range(grid.size - 1):
        v[k + 1] = v[k] + h * (2.0 * (Q - P - 2.0 * Q * f[k]) * v[k] + (P + Q * f[k]) * (1.0 - f[k]) / N)
    return np.sqrt(np.interp(t, grid, v))


def tolerance(t: np.ndarray) -> np.ndarray:
    # 4 standard deviations of the sampling error (the check is repeated over ~100 correlated
    # dates), plus one adopter's worth for the first step.
    return 4.0 * sampling_sd(t) + 1.0 / N


@pytest.mark.parametrize("step", ["month", "week"])
def test_adoption_matches_bass_closed_form(step):
    t, observed = adoption_curve(diffusion_only(step))
    expected = bass_cdf(t, P, Q)
    assert np.all(np.abs(observed - expected) <= tolerance(t)), np.max(np.abs(observed - expected) / tolerance(t))
    # power: ignoring word of mouth (q = 0) would put the curve far outside the tolerance
    without_q = 1.0 - np.exp(-P * t)
    assert np.max(np.abs(without_q - expected) / tolerance(t)) > 20


def test_ignoring_q_fails_the_check():
    t, observed = adoption_curve(diffusion_only("month", q=0.0))
    expected = bass_cdf(t, P, Q)
    assert np.any(np.abs(observed - expected) > tolerance(t))


def test_bass_advance_follows_the_closed_form():
    for t0, dt in [(0.0, 1.0), (3.0, 0.25), (10.0, 2.0)]:
        assert bass_advance(float(bass_cdf(t0, P, Q)), P, Q, dt) == pytest.approx(float(bass_cdf(t0 + dt, P, Q)), rel=1e-10)
