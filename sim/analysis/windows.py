"""Calendar windows ``YYYY-MM:YYYY-MM`` for the KPIs of ``run`` and ``compare``.

Over a window, cumulative KPIs sum the months inside it (both ends included), the
``mean_<kpi>`` KPIs average them, and point KPIs are read at its last month: the
strategist's "over the next three years" without hand-written pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.scenario import YEAR_MONTH, Scenario, ScenarioError

#: KPIs also reported as their mean over a window (``mean_<kpi>``), each in its own unit.
WINDOW_MEANS = ("mau", "premium_subscribers", "free_users", "revenue_total_eur", "churn_premium_monthly",
                "ad_revenue_share", "market_share", "arpu_premium_eur")

Window = tuple[str, str]


def parse_window(text: str | None, scenario: Scenario, flag: str = "--window") -> Window | None:
    """``"2022-01:2024-12"`` -> ``("2022-01", "2024-12")``, both months inside the horizon; None stays None."""
    from sim.clock import Clock

    if text is None:
        return None
    parts = text.split(":")
    if len(parts) != 2 or not all(YEAR_MONTH.match(p) for p in parts):
        raise ScenarioError(f"{flag}: expected START:END as YYYY-MM:YYYY-MM (e.g. 2022-01:2024-12), got {text!r}")
    start, end = parts
    if end < start:
        raise ScenarioError(f"{flag}: the end {end} is before the start {start}")
    dates = Clock.of(scenario).dates
    first, last = f"{dates[0]:%Y-%m}", f"{dates[-1]:%Y-%m}"
    for month in parts:
        if not first <= month <= last:
            raise ScenarioError(f"{flag}: {month} is outside the horizon {first} to {last}")
    return start, end


def in_window(dates: pd.Series, window: Window | None) -> np.ndarray:
    """Boolean mask (n,) of the dates whose calendar month lies in ``window`` (all True for None)."""
    if window is None:
        return np.ones(len(dates), bool)
    month = pd.to_datetime(dates).dt.strftime("%Y-%m").to_numpy()
    return (month >= window[0]) & (month <= window[1])
