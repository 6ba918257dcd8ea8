"""How far the baseline reproduces Spotify's 2015-2020 and where it goes to 2030 (issue 23; ``make validate``).

Pure measures over a run's focal timeseries (every replicate of one scenario, the ``timeseries.parquet``
layout); ``tools/validate.py`` runs the scenarios and writes ``docs/validation.md``'s tables. Observed
figures come from ``data/spotify_kpis_2015_2020.csv`` (the Q4 row of a year, else its year-end row) and
are compared with the model's quarter: its December for a stock (users), the mean of its three months
for a rate (churn), the ratio of its sums for a share of revenue.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.scenario.fields import _month_index, linear_schedule

ROOT = Path(__file__).resolve().parents[2]
KPIS = ROOT / "data" / "spotify_kpis_2015_2020.csv"
MILESTONES = ROOT / "data" / "competitor_milestones_2015_2020.csv"
#: The model's market leaves out China (Tencent ~11% of world paid subscriptions, MIDiA/Counterpoint
#: 2018-2020; docs/evidence.md section 4): a share of the world is the model's share x this.
CHINA = 0.89
#: Paid music subscriptions worldwide (China included) in 2030 as forecast before 2021: Goldman Sachs'
#: "Music in the Air" of 2017 (about 900 million) and of 2019 (1.15 billion); billboard.com/articles/business/8514596.
FORECASTS_2030 = (0.90e9, 1.15e9)
#: A paid subscription in the market's counts (all services, the focal share): a premium subscriber or a trial user.
#: The counts add what each service reports, and Spotify's, the largest, counts trial users with a payment method
#: (F-1; as the fit's premium, ``USERS``), which is what a trial user of the model is: one who chose a premium plan.
PAID = ("premium_subscribers", "trial_users")

#: Smartphones' share of mobile connections as forecast before 2021 (GSMA Intelligence; docs/evidence.md
#: section 4), {year: share}: worldwide 60% in 2018 and 79% in 2025 (The Mobile Economy 2019), Sub-Saharan
#: Africa 50% in 2020 and 65% in 2025 (The Mobile Economy Sub-Saharan Africa 2020).
SMARTPHONES = {"world": {2018: 0.60, 2025: 0.79}, "sub_saharan_africa": {2020: 0.50, 2025: 0.65}}
#: The forecast each region's reach follows after 2020: the rest of the world holds the emerging markets.
SMARTPHONE_AREA = {"europe": "world", "north_america": "world", "latin_america": "world",
                   "rest_of_world": "sub_saharan_africa"}
#: The growth of reach runs from the fit's last month to the forecasts' year, then holds.
REACH_FROM, REACH_TO = "2020-12", "2025-12"

#: Series of the fit: the CSV's metric, the model's columns (summed), the years, the target.
USERS = {"mau": ("mau", ("mau",)),
         "premium (with trials)": ("premium_subscribers", ("premium_subscribers", "trial_users")),
         "ad-supported MAU": ("adsupported_mau", ("free_users",))}
FIT_YEARS = range(2015, 2021)
CHURN_YEARS = range(2015, 2020)
AD_SHARE_YEARS = range(2017, 2021)


def observed_q4(metric: str, years: range, path: Path = KPIS) -> pd.Series:
    """Spotify's Q4 figure of ``metric`` for each year (the year's row where no Q4 row exists), by year."""
    rows = pd.read_csv(path)
    rows = rows[rows["metric"] == metric]
    by = dict(zip(rows["period"].astype(str), rows["value"].astype(float)))
    out = {y: by.get(f"{y}-Q4", by.get(str(y))) for y in years}
    missing = [y for y, v in out.items() if v is None]
    if missing:
        raise ValueError(f"{path}: no Q4 or year row of {metric} for {missing}")
    return pd.Series(out, dtype=float)


def focal_mean(timeseries: pd.DataFrame, service: str = "Spotify") -> pd.DataFrame:
    """The focal service's KPIs, mean over replicates, one row per month (DatetimeIndex)."""
    rows = timeseries[timeseries["service"] == service]
    return rows.drop(columns=["service", "replicate"], errors="ignore").groupby("date").mean(numeric_only=True)


def q4_users(focal: pd.DataFrame, columns: tuple[str, ...], years: range) -> pd.Series:
    """The model's December users (people, the columns summed) by year."""
    dec = focal[(focal.index.month == 12) & focal.index.year.isin(list(years))]
    return pd.Series(dec[list(columns)].sum(axis=1).to_numpy(), index=dec.index.year)


def q4_mean(focal: pd.DataFrame, column: str, years: range) -> pd.Series:
    """The model's mean of ``column`` over October-December, by year."""
    q4 = focal[(focal.index.month >= 10) & focal.index.year.isin(list(years))]
    return q4[column].groupby(q4.index.year).mean()


def q4_ad_share(focal: pd.DataFrame, years: range) -> pd.Series:
    """The model's ad revenue / total revenue over October-December (fraction), by year."""
    q4 = focal[(focal.index.month >= 10) & focal.index.year.isin(list(years))]
    sums = q4[["revenue_ads_eur", "revenue_total_eur"]].groupby(q4.index.year).sum()
    return sums["revenue_ads_eur"] / sums["revenue_total_eur"]


def mape(model: pd.Series, observed: pd.Series) -> float:
    """Mean absolute percentage error (%) of ``model`` against ``observed`` on the same index."""
    return float(100 * np.mean(np.abs(model.loc[observed.index] / observed - 1)))


def slope(series: pd.Series) -> float:
    """Least-squares trend per index unit (per year) of a series indexed by year."""
    return float(np.polyfit(series.index.to_numpy(float), series.to_numpy(float), 1)[0])


def fit_table(timeseries: pd.DataFrame) -> pd.DataFrame:
    """The in-sample measures: one row per series with ``years, model, observed, measure, value, target, met``.

    Users: Q4 MAPE (%) 2015-2020, target <= 10. Premium churn: Q4 mean absolute error (points a month)
    2015-2019, <= 1, and its trend (points a month per year), falling as the F-1's. Ad share of revenue:
    Q4 mean absolute error (points) 2017-2020, <= 2. ``model`` and ``observed`` are the yearly figures
    (millions or %) as text.
    """
    focal = focal_mean(timeseries)
    rows = []

    def row(series, years, model, observed, measure, value, target, met):
        rows.append({"series": series, "years": f"{years[0]}-{years[-1]}", "model": _join(model),
                     "observed": _join(observed), "measure": measure, "value": value, "target": target, "met": met})

    for name, (metric, columns) in USERS.items():
        obs = observed_q4(metric, FIT_YEARS)
        got = q4_users(focal, columns, FIT_YEARS) / 1e6
        err = mape(got, obs)
        row(name, FIT_YEARS, got, obs, "Q4 MAPE %", err, "<= 10", err <= 10)
    obs = observed_q4("premium_churn_monthly", CHURN_YEARS)
    got = 100 * q4_mean(focal, "churn_premium_monthly", CHURN_YEARS)
    err = float(np.mean(np.abs(got - obs)))
    row("premium churn (% a month)", CHURN_YEARS, got, obs, "Q4 mean abs error, points", err, "<= 1", err <= 1)
    trend, seen = slope(got), slope(obs)
    row("premium churn trend", CHURN_YEARS, pd.Series([trend]), pd.Series([seen]), "points a month per year",
        trend, "< 0 (falling)", trend < 0)
    obs = observed_q4("adsupported_revenue_share", AD_SHARE_YEARS)
    got = 100 * q4_ad_share(focal, AD_SHARE_YEARS)
    err = float(np.mean(np.abs(got - obs)))
    row("ad share of revenue (%)", AD_SHARE_YEARS, got, obs, "Q4 mean abs error, points", err, "<= 2", err <= 2)
    return pd.DataFrame(rows)


def region_table(regions: pd.DataFrame) -> pd.DataFrame:
    """The focal regional shares against Spotify's (``sim.analysis.regions``), target within 4 points."""
    from sim.analysis.regions import compare

    out = compare(regions, "Spotify")
    out["met"] = out["gap_points"].abs() <= 4
    return out


def paid_subscriptions(timeseries: pd.DataFrame) -> pd.Series:
    """Paid subscriptions of every service (``PAID``: premium subscribers and trial users, people; mean over
    replicates) in each December, scaled to the world with China (/ CHINA), by year."""
    dec = timeseries[timeseries["date"].dt.month == 12]
    per_run = dec.groupby(["replicate", "date"])[list(PAID)].sum().sum(axis=1)
    by_date = per_run.groupby("date").mean()
    return pd.Series(by_date.to_numpy() / CHINA, index=by_date.index.year)


def path_table(timeseries: pd.DataFrame) -> pd.DataFrame:
    """The focal service's December MAU and premium (with trials), its ad share of the year's revenue, and all
    services' paid subscriptions (with China), by year: the path to the horizon."""
    focal = focal_mean(timeseries)
    dec = focal[focal.index.month == 12]
    years = focal.groupby(focal.index.year)[["revenue_ads_eur", "revenue_total_eur"]].sum()
    return pd.DataFrame({"mau": dec["mau"].to_numpy(), "premium": (dec["premium_subscribers"] + dec["trial_users"]).to_numpy(),
                         "ad_share": (years["revenue_ads_eur"] / years["revenue_total_eur"]).loc[dec.index.year].to_numpy(),
                         "paid_all": paid_subscriptions(timeseries).loc[dec.index.year].to_numpy()},
                        index=dec.index.year)


def out_of_reach_factor(area: str) -> float:
    """How much of the part of internet users out of reach is left in 2025 of what it was in 2020, in (0, 1]: the
    part of mobile connections not on smartphones in ``area``'s forecast (``SMARTPHONES``, linear between its
    years), 2025 over 2020."""
    years, shares = zip(*sorted(SMARTPHONES[area].items()))
    at = np.interp([2020, 2025], years, shares)
    return float((1.0 - at[1]) / (1.0 - at[0]))


def reach_after_2020(scenario) -> dict[str, dict[str, float]]:
    """Key-path overrides that let each region's addressable share grow after 2020 as smartphones spread: held
    at its value in ``REACH_FROM`` (the 2015-2020 fit) to that month, then the part out of reach shrinks by
    :func:`out_of_reach_factor` of the region's forecast (``SMARTPHONE_AREA``) to ``REACH_TO``, held after.
    A region with every internet user in reach (share 1) stays so: no override."""
    out = {}
    for region in scenario.regions:
        fit = float(linear_schedule(region.addressable_share, np.array([_month_index(REACH_FROM)]))[0])
        if fit >= 1.0:
            continue
        later = 1.0 - (1.0 - fit) * out_of_reach_factor(SMARTPHONE_AREA[region.name])
        out[f"regions.{region.name}.addressable_share"] = {REACH_FROM: fit, REACH_TO: round(later, 4)}
    return out


# ---------------------------------------------------------------- one run's switching and entry (issue 23)
# Measures of a single replicate's timeseries (``tests/test_switching_entry.py``, ``tools/fit_regions.py``).


def focal_run(timeseries: pd.DataFrame, service: str = "Spotify") -> pd.DataFrame:
    """One run's focal service, one row per month (DatetimeIndex)."""
    return timeseries[timeseries["service"] == service].set_index("date")


def competitor_share_of_churn(timeseries: pd.DataFrame) -> float:
    """Share of one run's focal premium churn of 2016-2019 that went to a competitor (fraction)."""
    f = focal_run(timeseries).loc["2016":"2019"]
    return float(f["churn_to_competitor_monthly"].sum() / f["churn_premium_monthly"].sum())


def q4_churn_error(timeseries: pd.DataFrame) -> float:
    """Mean absolute error of one run's focal Q4 premium churn against the F-1's, 2015-2019, points a month."""
    got = 100 * q4_mean(focal_run(timeseries), "churn_premium_monthly", CHURN_YEARS)
    return float(np.mean(np.abs(got - observed_q4("premium_churn_monthly", CHURN_YEARS))))


def apple_errors(timeseries: pd.DataFrame, path: Path = MILESTONES) -> pd.Series:
    """One run's Apple Music paid subscribers over its announced milestones 2015-2019, minus 1, by milestone date."""
    return milestone_errors(timeseries, "Apple Music", "Apple Music", path)


def milestone_errors(timeseries: pd.DataFrame, service: str, announced_as: str, path: Path = MILESTONES) -> pd.Series:
    """One run's paid subscribers of ``service`` over the milestones announced for it (rows of ``announced_as``,
    metric ``paid_subscribers``) before 2020, minus 1, by milestone date."""
    data = pd.read_csv(path)
    data = data[(data["service"] == announced_as) & (data["metric"] == "paid_subscribers") & (data["date"] < "2020")]
    model = focal_run(timeseries, service)["premium_subscribers"] / 1e6
    return pd.Series({d: model[pd.Timestamp(d)] / v - 1 for d, v in zip(data["date"], data["value"])})


def ifpi_paid_users(path: Path = MILESTONES) -> pd.Series:
    """IFPI's paid subscription users worldwide (people, China included) at the end of each year, by year."""
    data = pd.read_csv(path)
    data = data[data["metric"] == "paid_subscription_users"]
    return pd.Series(data["value"].to_numpy() * 1e6, index=pd.to_datetime(data["date"]).dt.year)


def world_errors(timeseries: pd.DataFrame, years: range = range(2016, 2021), path: Path = MILESTONES) -> pd.Series:
    """The model's paid subscriptions of all services (:func:`paid_subscriptions`, with China) over IFPI's paid
    subscription users (:func:`ifpi_paid_users`) at the ends of ``years``, minus 1, by year."""
    ifpi = ifpi_paid_users(path)
    return (paid_subscriptions(timeseries).loc[list(years)] / ifpi.loc[list(years)] - 1).rename(None)


def focal_share(timeseries: pd.DataFrame) -> pd.Series:
    """One run's focal share of world paid subscriptions (``PAID``; fraction), December of 2016-2020, scaled for
    China, by date."""
    dec = timeseries[(timeseries["date"].dt.month == 12) & (timeseries["date"].dt.year >= 2016)]
    paid = dec[list(PAID)].sum(axis=1)
    share = paid[dec["service"] == "Spotify"].groupby(dec["date"]).sum() / paid.groupby(dec["date"]).sum()
    return share * CHINA


def _join(values: pd.Series) -> str:
    return ", ".join(f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}" for v in values)
