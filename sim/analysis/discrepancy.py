"""Model discrepancy of a forecast: the structural error the fit window shows, carried past the cut-off.

A posterior-predictive fan holds parameter and run-to-run uncertainty only. A model that is
structurally wrong misses the data by more, and its in-sample misses are persistent (a level
that wanders, not white noise), so a forecast from it is both biased and over-confident. In
the spirit of Kennedy & O'Hagan (2001, JRSS B 63:425) the observations are read as the model
times a discrepancy, ``observed = model x exp(delta)``, and ``delta`` gets the simplest model
of a persistent error, a driftless random walk in log space, estimated from the fit window
alone:

- residuals ``delta_t = log(observed_t / median of the draws_t)`` at each observation that
  ends by the cut-off ``until`` (later observations are never read);
- step scale: ``sigma^2 = sum (delta_k - delta_{k-1})^2 / sum months between them``, the
  maximum-likelihood variance of a driftless random walk observed at irregular dates
  (log units per month);
- level: the last fitted residual, carried forward (the forecast starts from where the model
  last stood against the data: the intercept correction of Clements & Hendry 1998, ch. 8);
- forecast: each posterior-predictive draw times ``exp(level + W)``, with W a random walk of
  step sd ``sigma x sqrt(months since the last fitted observation)``, ``PATHS`` paths per draw.

No drift: a trend in the residuals estimated from a dozen quarters would be extrapolated
times the horizon; a random walk without drift lets the interval grow as the square root of
the horizon and holds the bias at its last known value. The method is chosen on these
grounds, before and independent of any held-out outcome. Periods that end by the last fitted
observation keep the model's own draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Random-walk paths drawn per posterior-predictive draw (so a fan of 24 draws has 1,200 points).
PATHS = 50


@dataclass(frozen=True)
class Discrepancy:
    """A series' random-walk discrepancy, log(observed / model), fitted up to a cut-off.

    level: the residual at the last fitted observation (log units); sigma: sd of its monthly
    step (log units per sqrt(month)); last: the last fitted observation's Period; steps: the
    increments sigma rests on (0: fewer than two fitted observations, so no discrepancy).
    """

    level: float
    sigma: float
    last: pd.Period | None
    steps: int

    def summary(self) -> dict:
        """The JSON form: level and the step sd per quarter, both also as percentages."""
        return {"level_log": self.level, "level_percent": 100 * float(np.expm1(self.level)),
                "sigma_per_month_log": self.sigma, "sigma_per_quarter_percent": 100 * self.sigma * np.sqrt(3.0),
                "last_fitted": None if self.last is None else str(self.last), "steps": self.steps}

    def horizon(self, periods: pd.Index) -> np.ndarray:
        """Months from the last fitted observation to each period's end (0 up to it, and everywhere for NONE)."""
        if self.last is None:
            return np.zeros(len(periods), int)
        return np.maximum(np.array([end_month(p) for p in periods]) - end_month(self.last), 0)

    def level_at(self, periods: pd.Index) -> np.ndarray:
        """The log shift applied to each period: ``level`` after the last fitted observation, 0 up to it."""
        return np.where(self.horizon(periods) > 0, self.level, 0.0)

    def sd(self, periods: pd.Index) -> np.ndarray:
        """The random walk's sd at each period (log units): sigma x sqrt(months after the last fitted observation)."""
        return self.sigma * np.sqrt(self.horizon(periods))


NONE = Discrepancy(0.0, 0.0, None, 0)


def end_month(period: pd.Period) -> int:
    """The ordinal of the month a Period ends in (quarters and years at their last month)."""
    return period.asfreq("M", "end").ordinal


def fit_discrepancy(observed: pd.Series, until: pd.Period, periods: pd.Index, draws: np.ndarray) -> Discrepancy:
    """The discrepancy of ``draws`` against the observations that end by ``until`` (the later are never read).

    observed: values by Period (any subset of ``periods``); draws: (n_draws, n_periods) over
    ``periods``, the series' unit. ``NONE`` when fewer than two observations end by ``until``
    or a fitted value or median is not positive (a log discrepancy needs both > 0).
    """
    fitted = observed[[end_month(p) <= until.ordinal for p in observed.index]]
    if len(fitted) < 2:
        return NONE
    median = pd.Series(np.nanmedian(draws, axis=0), index=periods).loc[fitted.index].to_numpy(float)
    values = fitted.to_numpy(float)
    if not (np.all(values > 0) and np.all(median > 0)):
        return NONE
    order = np.argsort([end_month(p) for p in fitted.index], kind="stable")
    delta = np.log(values / median)[order]
    months = np.array([end_month(p) for p in fitted.index])[order]
    sigma = float(np.sqrt(np.sum(np.diff(delta) ** 2) / (months[-1] - months[0])))
    return Discrepancy(float(delta[-1]), sigma, fitted.index[order[-1]], len(fitted) - 1)


def with_discrepancy(draws: np.ndarray, periods: pd.Index, d: Discrepancy, rng: np.random.Generator,
                     paths: int = PATHS) -> np.ndarray:
    """Forecast draws (n_draws x paths, n_periods): each draw times ``exp(level + random walk)`` after ``d.last``.

    The draws are repeated ``paths`` times and the periods after the last fitted observation are
    multiplied by one random-walk path each (steps of sd ``sigma x sqrt(months)`` from the last
    fitted observation on). The earlier periods keep the model's draws once, the repeats NaN
    (quantiles ignore them), so their intervals are the model's exactly. Without a walk
    (``sigma`` 0, as ``NONE``) each draw appears once, times ``exp(level)`` after the cut.
    """
    paths = paths if d.sigma > 0 else 1
    out = np.tile(draws.astype(float), (paths, 1))  # the first n_draws rows: the draws themselves
    ahead = d.horizon(periods)
    later = ahead > 0
    out[len(draws):, ~later] = np.nan
    gaps = np.diff(np.concatenate([[0], ahead[later]]))
    walk = np.cumsum(rng.standard_normal((out.shape[0], gaps.size)) * d.sigma * np.sqrt(gaps), axis=1)
    out[:, later] *= np.exp(d.level + walk)
    return out
