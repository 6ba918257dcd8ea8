"""Calendar time: step dates, step length in months, exact conversion of monthly rates.

Rates in scenarios are per month. A step is a month or a week; a monthly probability
``p`` becomes ``1 - (1 - p) ** dt`` for a step of ``dt`` months, and a hazard ``h``
(per month) becomes ``h * dt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class Clock:
    """The simulated calendar of one scenario."""

    start: str  # YYYY-MM
    months: int
    step: str  # "month" | "week"

    @classmethod
    def of(cls, scenario) -> "Clock":
        """The calendar of a scenario (its ``time`` section)."""
        return cls(scenario.time.start, scenario.time.months, scenario.time.step)

    @property
    def months_per_step(self) -> float:
        """Length of one step in months (1.0 or 7/30.4375)."""
        return 1.0 if self.step == "month" else 7.0 / DAYS_PER_MONTH

    @property
    def n_steps(self) -> int:
        if self.step == "month":
            return self.months
        return int(round(self.months * DAYS_PER_MONTH / 7.0))

    @cached_property
    def dates(self) -> pd.DatetimeIndex:
        """Date at the start of each step, shape (n_steps,); built once per clock (the model's set-up looks up
        every timeline event's step in it)."""
        first = pd.Timestamp(f"{self.start}-01")
        if self.step == "month":
            return pd.date_range(first, periods=self.n_steps, freq="MS")
        return pd.date_range(first, periods=self.n_steps, freq="7D")

    def step_of_month(self, year_month: str) -> int:
        """First step whose date falls in or after the calendar month ``YYYY-MM``."""
        target = pd.Timestamp(f"{year_month}-01")
        return int(np.searchsorted(self.dates.values, target.to_datetime64()))

    def probability(self, monthly: float | np.ndarray) -> float | np.ndarray:
        """Probability per step of an event with monthly probability ``monthly``."""
        return 1.0 - (1.0 - np.clip(monthly, 0.0, 1.0)) ** self.months_per_step

    def monthly_rate(self, per_step: float | np.ndarray) -> float | np.ndarray:
        """Inverse of :meth:`probability`: the monthly equivalent of a per-step share."""
        return 1.0 - (1.0 - np.clip(per_step, 0.0, 1.0)) ** (1.0 / self.months_per_step)
