"""The focal service's users by region against Spotify's reported regional shares (``data/regional``).

``regions.parquet`` (:func:`sim.results.regions`) holds a run's users by region and service; these
functions turn it into each region's share of a service's users at a date and read the reported
shares, so the two can be compared (``tests/test_regions.py``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "data" / "regional" / "spotify_users_by_region.csv"
#: The data's region names -> the baseline's.
REGION_NAMES = {"Europe": "europe", "North America": "north_america", "Latin America": "latin_america",
                "Rest of World": "rest_of_world"}
#: The reported shares a run is checked against: (metric of the CSV, the run's column, date).
CHECKS = (("MAU_share", "mau", "2017-12"), ("MAU_share", "mau", "2020-12"),
          ("premium_share", "premium_subscribers", "2020-12"))


def simulated_shares(regions: pd.DataFrame, service: str, column: str, month: str) -> pd.Series:
    """Each region's share (0..1) of ``service``'s ``column`` (``mau``, ``premium_subscribers``, ...) in
    ``month`` (YYYY-MM), summed over replicates; indexed by region."""
    at = regions[(regions["service"] == service) & (regions["date"] == pd.Timestamp(f"{month}-01"))]
    total = at.groupby("region", sort=False)[column].sum()
    return total / total.sum()


def observed_shares(metric: str, month: str, path: Path = DATA) -> pd.Series:
    """Spotify's reported share (0..1) of MAU (``MAU_share``) or premium subscribers (``premium_share``)
    by region at the end of ``month`` (YYYY-MM), indexed by the baseline's region names."""
    rows = pd.read_csv(path)
    rows = rows[(rows["metric"] == metric) & (rows["period_end"].str.startswith(month))]
    return pd.Series(rows["value"].astype(float).to_numpy() / 100, index=rows["region"].map(REGION_NAMES).to_numpy())


def compare(regions: pd.DataFrame, service: str) -> pd.DataFrame:
    """Simulated against reported regional shares for every check of :data:`CHECKS`: one row per check and
    region, columns ``metric, date, region, simulated, observed, gap_points`` (percentage points)."""
    rows = []
    for metric, column, month in CHECKS:
        obs, sim = observed_shares(metric, month), simulated_shares(regions, service, column, month)
        for region, value in obs.items():
            got = float(sim.get(region, 0.0))
            rows.append({"metric": metric, "date": month, "region": region, "simulated": got, "observed": value,
                         "gap_points": 100 * (got - value)})
    return pd.DataFrame(rows)
