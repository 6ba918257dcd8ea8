"""The habit of paying for streaming: premium's value over free grows for everyone while owning music fades.

Over 2015-2020 listeners moved from owning music (downloads, CDs) to renting it: IFPI's paid
subscription users grew fourfold (112 M at end-2016, 443 M at end-2020) while the focal service's
free-to-paid offer changed little. Without a trend the model's paying share is set once by the
listeners' fixed willingness to pay, so its paid subscriptions start above IFPI's count and end below
it, and the focal premium starts above Spotify's and ends below (``docs/validation.md`` section 6).

Here every premium plan of every service is worth ``growth`` EUR/month more each year from ``since``,
held from ``until`` on: the years the trend is fitted on (2015-2020, ``tools/fit_regions.py``), as the
model holds its other inputs after their last observed year. The value adds to each service's
``restriction_gap`` (premium's value over its free tier, ``sim.mechanics.choice.premium_value``), so
a service's own gap and the market's habit are read in one place. ``growth = 0`` switches it off.
"""

from __future__ import annotations

import pandas as pd

from sim.scenario.fields import _month_index


def premium_habit(cfg, date: pd.Timestamp) -> float:
    """What premium is worth more to every listener at ``date`` than at ``cfg.since``, EUR/month (``cfg`` the
    scenario's ``mechanisms.habit``): ``growth`` x the years since ``since``, 0 before it, held from ``until``."""
    if cfg.growth == 0.0:
        return 0.0
    month = date.year * 12 + date.month - 1
    since, until = _month_index(cfg.since), _month_index(cfg.until)
    return cfg.growth * (min(max(month, since), until) - since) / 12.0
