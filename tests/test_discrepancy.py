"""The backtest's model discrepancy (sim.analysis.discrepancy) on synthetic series with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from sim.analysis.discrepancy import NONE, fit_discrepancy, with_discrepancy
from sim.analysis.fan import intervals

PERIODS = pd.period_range("2010Q1", "2020Q4", freq="Q")
UNTIL = pd.Period("2018-12", freq="M")
FITTED = PERIODS[PERIODS.asfreq("M", "end") <= UNTIL]
SIGMA = 0.02  # the synthetic walk's step sd, log units per sqrt(month)
Z80 = norm.ppf(0.9)


def _model(n_draws: int = 1) -> np.ndarray:
    """A growing series, n_draws identical rows (n_draws, n_periods): no parameter or run-to-run spread."""
    return np.tile(100 * np.exp(0.02 * np.arange(len(PERIODS))), (n_draws, 1))


def _observed(residuals: np.ndarray) -> pd.Series:
    """The model's path times exp(residuals) over the fitted quarters, then held-out quarters."""
    values = _model()[0] * np.exp(np.concatenate([residuals, np.full(len(PERIODS) - len(residuals), 0.3)]))
    return pd.Series(values, index=PERIODS)


def _walk() -> np.ndarray:
    """A random walk whose quarterly steps are exactly +-SIGMA sqrt(3) (so its ML step sd is SIGMA exactly)."""
    steps = SIGMA * np.sqrt(3) * np.where(np.arange(len(FITTED) - 1) % 3 == 0, 1.0, -1.0)
    return 0.1 + np.concatenate([[0.0], np.cumsum(steps)])


def test_a_known_random_walk_gives_its_step_scale_level_and_interval_width():
    """Residuals that walk with steps of sd SIGMA a month: the fit finds SIGMA and the last level, and the 80%
    interval h months past the last fitted quarter spans 2 x 1.2816 x SIGMA sqrt(h) in log units (4,000 paths:
    a quantile's sampling error is about 2% of that width; tolerance 8%)."""
    residuals = _walk()
    d = fit_discrepancy(_observed(residuals), UNTIL, PERIODS, _model())
    assert d.sigma == pytest.approx(SIGMA, rel=1e-12)
    assert d.level == pytest.approx(residuals[-1], rel=1e-12)
    assert d.steps == len(FITTED) - 1 and d.last == FITTED[-1]
    q = intervals(with_discrepancy(_model(), PERIODS, d, np.random.default_rng(1), paths=4000))
    later = len(FITTED) + np.arange(len(PERIODS) - len(FITTED))
    months = 3 * (later - len(FITTED) + 1)
    width = np.log(q["q90"].to_numpy() / q["q10"].to_numpy())[later]
    np.testing.assert_allclose(width, 2 * Z80 * SIGMA * np.sqrt(months), rtol=0.08)
    shift = np.log(q["q50"].to_numpy() / _model()[0])[later]
    np.testing.assert_allclose(shift, residuals[-1], atol=0.1 * SIGMA * np.sqrt(months.max()))
    np.testing.assert_array_equal(q["q50"].to_numpy()[: len(FITTED)], _model()[0][: len(FITTED)])  # in-sample: the model


def test_zero_residuals_add_no_width_and_no_shift():
    """Observations on the draws' median: the forecast draws are the model's own, unchanged."""
    model = _model(5) * np.linspace(0.9, 1.1, 5)[:, None]
    d = fit_discrepancy(pd.Series(np.median(model, axis=0), index=PERIODS), UNTIL, PERIODS, model)
    assert d.sigma == 0 and d.level == 0 and d.steps == len(FITTED) - 1
    np.testing.assert_array_equal(with_discrepancy(model, PERIODS, d, np.random.default_rng(1), paths=7), model)


def test_the_fitted_periods_keep_the_models_intervals_exactly():
    """With a walk, the periods up to the last fitted observation hold the draws once (repeats NaN): their
    quantiles are the model's to the last digit, while the later ones widen."""
    model = _model(24) * np.linspace(0.8, 1.2, 24)[:, None]
    d = fit_discrepancy(_observed(_walk()), UNTIL, PERIODS, model)
    fan = with_discrepancy(model, PERIODS, d, np.random.default_rng(2), paths=50)
    q, own = intervals(fan), intervals(model)
    pd.testing.assert_frame_equal(q.iloc[: len(FITTED)], own.iloc[: len(FITTED)])
    assert np.log(q["q90"] / q["q10"]).iloc[-1] > np.log(own["q90"] / own["q10"]).iloc[-1] + SIGMA


def test_a_constant_gap_shifts_the_forecast_without_widening_it():
    """The model 10% low in every fitted quarter: the forecast is the model x 1.1, as narrow as the model."""
    d = fit_discrepancy(_observed(np.full(len(FITTED), np.log(1.1))), UNTIL, PERIODS, _model())
    assert d.sigma == pytest.approx(0, abs=1e-12) and d.level == pytest.approx(np.log(1.1))
    fan = with_discrepancy(_model(3), PERIODS, d, np.random.default_rng(1), paths=5)
    np.testing.assert_allclose(fan[:, len(FITTED):], 1.1 * _model(3)[:, len(FITTED):], rtol=1e-12)
    np.testing.assert_array_equal(fan[:, : len(FITTED)], _model(3)[:, : len(FITTED)])


def test_the_held_out_observations_are_never_read():
    """Corrupting every observation after the cut-off (values, NaN, negatives) leaves the discrepancy and the
    forecast draws identical; corrupting a fitted one changes them."""
    observed = _observed(_walk())
    held = observed.index.asfreq("M", "end") > UNTIL
    runs = []
    for corrupt in (None, 1e9, np.nan, -5.0):
        series = observed.copy()
        if corrupt is not None:
            series[held] = corrupt
        d = fit_discrepancy(series, UNTIL, PERIODS, _model(3))
        runs.append((d, with_discrepancy(_model(3), PERIODS, d, np.random.default_rng(4), paths=20)))
    for d, fan in runs[1:]:
        assert d == runs[0][0]
        np.testing.assert_array_equal(fan, runs[0][1])
    touched = observed.copy()
    touched[FITTED[-1]] *= 1.05
    assert fit_discrepancy(touched, UNTIL, PERIODS, _model(3)) != runs[0][0]


def test_too_few_or_non_positive_fitted_observations_give_no_discrepancy():
    one = pd.Series([5.0, 7.0], index=[FITTED[-1], PERIODS[-1]])
    assert fit_discrepancy(one, UNTIL, PERIODS, _model()) == NONE
    negative = _observed(_walk()).copy()
    negative[FITTED[0]] = -1.0
    assert fit_discrepancy(negative, UNTIL, PERIODS, _model()) == NONE
    np.testing.assert_array_equal(with_discrepancy(_model(2), PERIODS, NONE, np.random.default_rng(0), paths=3),
                                  _model(2))
