"""Observed KPI series and the model's matching series, on the same calendar periods.

Observations come from a long CSV (``period, metric, value, unit, source, note``; see
``data/README.md``). A period is a quarter ``2016-Q1`` or a year ``2016``. The model's
timeseries is monthly (or weekly); a :class:`TargetSpec` says how to reduce the focal
service's steps inside a period to one number comparable with the observation:

- ``stock``: the value at the period's last step (a quarter's MAU is the state at the
  end of its last month, which is the row dated the first of that month, since a row
  holds the state after its step);
- ``flow``: the sum over the period's steps of a per-month flow times the step length
  in months (a quarter's revenue = 3 monthly EUR flows);
- ``mean``: the mean over the period's steps (a quarter's monthly churn rate).

A ratio target (``per:``) reduces numerator and denominator columns the same way and
divides, e.g. premium ARPU = mean monthly subscription revenue / mean subscribers,
which is Spotify's "premium revenue / average subscribers / 3". Model values are then
multiplied by the scale of the CSV's unit (people -> millions: 1e-6, fraction -> %: 100).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.metrics import MARKET_KPIS, SERVICE_KPIS
from sim.scenario import ScenarioError, cut, did_you_mean
from sim.yamlio import file_exists, read_user_bytes

#: Factor from the model's unit to each CSV unit (model: people, EUR/month, fractions).
UNIT_SCALE = {"millions": 1e-6, "EUR millions": 1e-6, "percent": 100.0, "EUR/month": 1.0}
#: The metrics of the project's observations CSVs (``data/``), which a calibration may leave unread; any other
#: metric of a calibration's data must be read by a target or listed in its ``unused_metrics``.
KNOWN_METRICS = {
    "mau": "monthly active users, millions", "mau_milestone": "an announced MAU figure that is not a period end",
    "premium_subscribers": "paying subscribers with trials, millions", "adsupported_mau": "free users, millions",
    "premium_arpu": "premium revenue per subscriber, EUR/month", "premium_churn_monthly": "percent a month",
    "total_revenue": "EUR millions", "premium_revenue": "EUR millions", "adsupported_revenue": "EUR millions",
    "adsupported_revenue_share": "percent of revenue", "cost_of_revenue": "EUR millions",
    "premium_cost_of_revenue": "EUR millions", "adsupported_cost_of_revenue": "EUR millions",
    "gross_profit": "EUR millions", "gross_margin": "percent", "sales_and_marketing_expense": "EUR millions",
    "apple_music_paid_subscribers": "millions", "amazon_music_paid_subscribers": "millions",
    "youtube_music_paid_subscribers": "millions", "focal_premium_share_ex_china": "percent of paid subscriptions",
}
CSV_COLUMNS = ("period", "metric", "value", "unit")
MAX_DATA_BYTES = 5_000_000
PERIOD = re.compile(r"^(\d{4})(?:-Q([1-4]))?$")


def parse_period(label: str) -> pd.Period:
    """``2016-Q1`` -> quarterly Period, ``2016`` -> annual Period; ValueError otherwise."""
    m = PERIOD.match(str(label))
    if not m:
        raise ValueError(f"period {label!r} is not a quarter YYYY-Qn or a year YYYY")
    year, quarter = m.groups()
    return pd.Period(f"{year}Q{quarter}", freq="Q") if quarter else pd.Period(year, freq="Y")


class TargetSpec(BaseModel):
    """One observed series and the model quantity it is compared with."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    metric: str | None = Field(None, description="Metric name in the CSV (default: the target's name)")
    column: list[str] = Field(min_length=1, description="Focal timeseries column(s); several are summed")
    per: list[str] | None = Field(None, min_length=1, description="Denominator column(s) of a ratio, summed")
    agg: Literal["stock", "flow", "mean"] = Field("stock", description="How a period's steps reduce to one value")
    periods: Literal["quarterly", "annual"] = Field("quarterly", description="Which observations of the metric are used")
    exclude: list[str] = Field(default_factory=list, description="Periods left out (e.g. figures that are not period ends)")
    weight: float = Field(1.0, ge=0, description="Weight of this series in the distance")
    scale: float | None = Field(None, gt=0, description="Model unit -> CSV unit factor (default: from the CSV's unit)")
    service: str | None = Field(None, description="Service whose rows are compared (default: the focal service), "
                                                  "e.g. a competitor's name for a market-structure target")

    @field_validator("column", "per", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    @field_validator("column", "per")
    @classmethod
    def _known_columns(cls, v: list[str] | None) -> list[str] | None:
        known = [*SERVICE_KPIS, *MARKET_KPIS]
        for name in v or []:
            if name not in known:
                raise ValueError(f"unknown timeseries column '{name}'{did_you_mean(name, known)} (`sim.metrics.SERVICE_KPIS` lists them)")
        return v

    @field_validator("exclude")
    @classmethod
    def _periods(cls, v: list[str]) -> list[str]:
        for label in v:
            parse_period(label)
        return v

    @model_validator(mode="after")
    def _ratio_of_flows(self) -> "TargetSpec":
        if self.per is not None and self.agg == "flow":
            raise ValueError("a ratio (`per`) of flows is the ratio of their means; use agg: mean")
        return self


def service_rows(timeseries: pd.DataFrame, target: TargetSpec) -> pd.DataFrame:
    """The timeseries rows a target is compared with: the focal service's, or the named service's."""
    if target.service is None:
        return timeseries[timeseries["focal"]]
    return timeseries[timeseries["service"] == target.service]


def check_services(targets: dict[str, TargetSpec], names: list[str], where: str) -> None:
    """ScenarioError naming ``where``.<target>.service when a target names a service the scenario lacks."""
    for name, t in targets.items():
        if t.service is not None and t.service not in names:
            raise ScenarioError(f"{where}.{name}.service: no service '{t.service}' in the base scenario"
                                f"{did_you_mean(t.service, names)} "
                                f"(services: {', '.join(names)})")


def read_observations(path: Path, source: str) -> pd.DataFrame:
    """The observations CSV: columns period, metric, value (float), unit, plus any others.

    The file is checked as a whole and raises ScenarioError naming ``source``, the file
    and the line when it is missing, not a regular file, too large, not UTF-8, empty,
    lacks a column, has a row with another number of fields than the header, a value
    that is not a finite number, a negative number of people (unit ``millions``), or lists a
    (period, metric) twice.
    """
    if not file_exists(path):
        raise ScenarioError(f"{source}: data file {path} not found (the path is relative to the calibration file)")
    where = f"{source}: {cut(str(path))}"
    try:
        raw = read_user_bytes(path, MAX_DATA_BYTES, "data CSV")
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{where}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if row:  # a blank line
                rows.append(row)
                lines.append(reader.line_num)
    except csv.Error as exc:
        raise ScenarioError(f"{where}: line {reader.line_num}: {exc}") from None
    if not rows:
        raise ScenarioError(f"{where}: file is empty; expected a header line {','.join(CSV_COLUMNS)},... and observations")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise ScenarioError(f"{where}: missing column(s) {', '.join(missing)} (needs {', '.join(CSV_COLUMNS)})")
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise ScenarioError(f"{where}: column {cut(repeated[0])} appears twice in the header")
    for row, line in zip(rows[1:], lines[1:]):
        if len(row) != len(header):
            raise ScenarioError(f"{where}: line {line} has {len(row)} fields, expected {len(header)} (as in the header)")
    if len(rows) == 1:
        raise ScenarioError(f"{where}: has a header but no observations")
    frame = pd.DataFrame(rows[1:], columns=header, dtype=str)
    values = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    bad = ~np.isfinite(values.to_numpy())
    if bad.any():
        row = int(bad.argmax())
        what = "not a number" if np.isnan(values.iloc[row]) else "not a finite number"
        raise ScenarioError(f"{where}: line {lines[row + 1]}: value {cut(repr(frame['value'].iloc[row]))} is {what}")
    frame["value"] = values
    negative = ((values < 0) & (frame["unit"].str.strip() == "millions")).to_numpy()
    if negative.any():
        row = int(negative.argmax())
        raise ScenarioError(f"{where}: line {lines[row + 1]}: {cut(frame['period'].iloc[row])} {cut(frame['metric'].iloc[row])} "
                            f"is {values.iloc[row]:g} millions, a number of people, which cannot be negative; correct the data")
    dup = frame.duplicated(["period", "metric"])
    if dup.any():
        row = frame[dup].iloc[0]
        raise ScenarioError(f"{where}: {cut(row['period'])} {cut(row['metric'])} appears twice")
    return frame


def observed_series(data: pd.DataFrame, name: str, target: TargetSpec, where: str) -> tuple[pd.Series, str, float]:
    """Observations of one target: (values indexed by Period in time order, CSV unit, model->unit scale).

    ``where`` prefixes error messages (file and key path).
    """
    metric = target.metric or name
    rows = data[data["metric"] == metric]
    if rows.empty:
        metrics = sorted(data["metric"].unique())
        raise ScenarioError(f"{where}.metric: no '{metric}' rows in the data{did_you_mean(metric, metrics)} (metrics: {', '.join(metrics)})")
    try:
        periods = [parse_period(p) for p in rows["period"]]
    except ValueError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    freq = "Q" if target.periods == "quarterly" else "Y"
    excluded = {parse_period(p) for p in target.exclude}
    keep = [p.freqstr.startswith(freq) and p not in excluded for p in periods]
    series = pd.Series(rows["value"].to_numpy()[keep], index=pd.Index([p for p, k in zip(periods, keep) if k]))
    if series.empty:
        raise ScenarioError(f"{where}.periods: '{metric}' has no {target.periods} observations left")
    units = rows["unit"].unique()
    if len(units) != 1:
        raise ScenarioError(f"{where}: '{metric}' mixes units {', '.join(units)}")
    unit = str(units[0])
    if target.scale is None and unit not in UNIT_SCALE:
        raise ScenarioError(f"{where}.scale: unit '{unit}' has no known conversion; give `scale` "
                            f"(known units: {', '.join(UNIT_SCALE)})")
    return series.sort_index(), unit, target.scale if target.scale is not None else UNIT_SCALE[unit]


def covered(periods: pd.Index, dates: pd.DatetimeIndex) -> np.ndarray:
    """Which periods lie wholly inside the simulated horizon: bool array (n_periods,).

    dates: the start date of every step. A period counts when its first and last
    months are both simulated.
    """
    first = dates.min().to_period("M")
    last = dates.max().to_period("M")
    return np.array([p.asfreq("M", "start") >= first and p.asfreq("M", "end") <= last for p in periods])


def _reduce(values: np.ndarray, inside: np.ndarray, agg: str, months_per_step: float) -> np.ndarray:
    """Reduce each period's steps: values (n_replicates, n_steps), inside (n_periods, n_steps) -> (n_replicates, n_periods)."""
    if agg == "stock":
        last = inside.shape[1] - 1 - np.argmax(inside[:, ::-1], axis=1)
        return values[:, last]
    total = values @ inside.T.astype(float)
    if agg == "flow":
        return total * months_per_step
    return total / inside.sum(axis=1)


def simulated_series(focal: pd.DataFrame, target: TargetSpec, periods: pd.Index, scale: float,
                     months_per_step: float) -> np.ndarray:
    """The model's value of a target in each period, per replicate, in the CSV's unit.

    focal: one service's timeseries rows (``service_rows``: the focal service's by default;
    columns ``replicate``, ``date`` and the KPI columns; every replicate covers the same steps); periods: Periods wholly inside
    the horizon. Returns an array (n_replicates, n_periods), NaN where the model's
    value is undefined (a rate with no one at risk).
    """
    focal = focal.sort_values(["replicate", "date"])
    dates = pd.DatetimeIndex(focal.loc[focal["replicate"] == focal["replicate"].iloc[0], "date"])
    n_rep = focal["replicate"].nunique()
    months = dates.to_period("M")
    inside = np.array([(months >= p.asfreq("M", "start")) & (months <= p.asfreq("M", "end")) for p in periods])

    def summed(columns: list[str]) -> np.ndarray:
        return focal[columns].to_numpy(dtype=float).sum(axis=1).reshape(n_rep, len(dates))

    value = _reduce(summed(target.column), inside, target.agg, months_per_step)
    if target.per is not None:
        den = _reduce(summed(target.per), inside, target.agg, months_per_step)
        value = np.divide(value, den, out=np.full_like(value, np.nan), where=den > 0)
    return value * scale


def series_fit(simulated: np.ndarray, observed: np.ndarray) -> dict[str, float]:
    """Fit of one series: simulated and observed arrays (n_periods,) in the same unit.

    Returns ``rmse`` (unit of the series), ``nrmse`` (rmse / mean |observed|),
    ``mape_percent`` (mean |sim - obs| / |obs| x 100), ``msre`` (mean squared relative
    error) and ``bias`` (mean sim - obs). Any NaN in ``simulated`` (an undefined model
    value) makes them all infinite, so a calibration never prefers a degenerate run.
    """
    err = simulated - observed
    if not np.isfinite(simulated).all():
        return {"rmse": np.inf, "nrmse": np.inf, "mape_percent": np.inf, "msre": np.inf, "bias": np.inf}
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero observation (allowed under nrmse): mape and msre infinite
        rel = err / np.abs(observed)
    rmse = float(np.sqrt(np.mean(err**2)))
    return {"rmse": rmse, "nrmse": rmse / float(np.mean(np.abs(observed))),
            "mape_percent": float(100 * np.mean(np.abs(rel))), "msre": float(np.mean(rel**2)),
            "bias": float(np.mean(err))}
