"""The run report: every figure drawn, PNGs valid, HTML self-contained and
carrying the KPIs and assumptions; all-NaN columns drawn as 'not applicable'.

The inputs are synthetic frames with the run output contract's exact columns
and realistic magnitudes (a 3-service market of ~100 million listeners), so
these tests do not depend on the simulation.
"""

from __future__ import annotations

import base64
import re
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.report import make_figures, write_report
from sim.report.figures import figure_ad_market, figure_revenue_split
from sim.metrics import format_kpi
from sim.report.html import format_number

FIGURES = [
    "users_by_tier", "subscribers_mau", "revenue_split", "churn", "cohort_retention",
    "ad_market", "support_response", "satisfaction_loyalty", "market_shares",
]
# (name, has free tier, focal, premium subscribers at start, growth per month)
SERVICES = [("Spotify", True, True, 20e6, 0.02), ("Apple Music", False, False, 8e6, 0.025),
            ("Deezer", True, False, 4e6, 0.005)]
AD_COLUMNS = ["revenue_ads_eur", "ad_revenue_share", "arpu_ad_supported_eur", "cpm_eur",
              "fill_rate", "impressions", "ad_inventory_impressions"]


def synthetic_timeseries(replicates: int = 3, months: int = 36, seed: int = 1) -> pd.DataFrame:
    """Replicate x month x service rows with every column of the contract."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2015-01-01", periods=months, freq="MS")
    t = np.arange(months)
    rows = []
    for r in range(replicates):
        for name, free_tier, focal, premium0, growth in SERVICES:
            noise = 1 + 0.03 * rng.standard_normal(months)
            premium = premium0 * (1 + growth) ** t * noise
            free = (1.3 * premium * noise) if free_tier else np.zeros(months)
            trial = 0.04 * premium
            churn = rng.uniform(0.03, 0.05, (4, months)) / 4
            rev_sub = premium * 9.2
            rev_ads = free * 0.4 if free_tier else np.zeros(months)
            loyalty = rng.dirichlet([3, 4, 3, 2, 1], months)
            frame = pd.DataFrame({
                "replicate": r, "date": dates, "step": t, "service": name, "focal": focal,
                "mau": premium + free + trial, "free_users": free, "trial_users": trial,
                "premium_subscribers": premium, "premium_individual": 0.6 * premium,
                "premium_student": 0.1 * premium, "premium_duo": 0.05 * premium,
                "premium_family": 0.25 * premium, "gross_adds": 0.05 * premium,
                "premium_gross_adds": 0.03 * premium, "trial_starts": 0.02 * premium,
                "revenue_subscription_eur": rev_sub, "revenue_ads_eur": rev_ads,
                "revenue_total_eur": rev_sub + np.nan_to_num(rev_ads),
                "royalties_eur": 0.52 * rev_sub, "support_cost_eur": 2e6,
                "personalization_cost_eur": 3e6, "trial_cost_eur": 0.1 * rev_sub,
                "marketing_spend_eur": 2e7, "gross_profit_eur": 0.25 * rev_sub,
                "ad_revenue_share": rev_ads / (rev_sub + rev_ads), "gross_margin": 0.25,
                "churn_premium_monthly": churn.sum(axis=0),
                "churn_voluntary_monthly": churn[0], "churn_downgrade_monthly": churn[1],
                "churn_to_competitor_monthly": churn[2], "churn_lapse_monthly": churn[3],
                "churn_users_monthly": churn.sum(axis=0) * 1.2, "trial_conversion": 0.6,
                "arpu_premium_eur": 4.9, "arpu_ad_supported_eur": 0.4 if free_tier else np.nan,
                "market_share": np.nan, "premium_market_share": np.nan,
                "listening_hours_per_free_user": 20.0 if free_tier else np.nan,
                "listening_hours_per_premium_user": 35.0,
                "cpm_eur": 14 + rng.normal(0, 0.5, months) if free_tier else np.nan,
                "fill_rate": 0.7 + 0.05 * rng.random(months) if free_tier else np.nan,
                "impressions": free * 40 if free_tier else np.nan,
                "ad_inventory_impressions": free * 55 if free_tier else np.nan,
                "support_response_hours": 20 + 8 * rng.random(months),
                "tickets": 0.01 * premium, "cac_eur": 25.0, "ltv_eur": 120.0,
                "satisfaction_mean": 0.6 + 0.05 * rng.random(months),
                **{f"loyalty_{s}": loyalty[:, i] for i, s in
                   enumerate(["prospect", "customer", "client", "supporter", "advocate"])},
                "price_individual_eur": 9.99,
                "unaware": 2e8 * np.exp(-t / 40), "aware": 5e7, "lapsed": 1e7,
            })
            rows.append(frame)
    ts = pd.concat(rows, ignore_index=True)
    for share, column in (("market_share", "mau"), ("premium_market_share", "premium_subscribers")):
        ts[share] = ts[column] / ts.groupby(["replicate", "date"])[column].transform("sum")
    return ts


def synthetic_cohorts(replicates: int = 3, months: int = 36) -> pd.DataFrame:
    """Focal-service cohorts: geometric retention, premium stickier than free."""
    rows = []
    starts = pd.date_range("2015-01-01", periods=months, freq="MS")
    for r in range(replicates):
        for tier, keep in (("premium", 0.96), ("free", 0.9)):
            for i, start in enumerate(starts):
                age = np.arange(months - i)
                size = 5e5
                retention = keep ** age
                rows.append(pd.DataFrame({
                    "replicate": r, "tier": tier, "cohort": start, "months_since_start": age,
                    "cohort_size": size, "retained": size * retention, "retention": retention,
                }))
    return pd.concat(rows, ignore_index=True)


SUMMARY = {
    "scenario": "price_hike_test", "date": "2026-01-02", "replicates": 3,
    "kpis": {
        "premium_subscribers_final": {"mean": 4.1e7, "ci95_low": 3.9e7, "ci95_high": 4.3e7},
        "revenue_total_cum_eur": {"mean": 1.234e10, "ci95_low": 1.2e10, "ci95_high": 1.27e10},
        "churn_premium_monthly_mean": {"mean": 0.041, "ci95_low": 0.039, "ci95_high": 0.043},
    },
}
ASSUMPTIONS = [
    {"path": "focal.plans.individual.price", "value": 12.99, "default": 9.99, "unit": "EUR/month",
     "description": "Monthly price of the individual premium plan"},
    {"path": "focal.ad_load", "value": 4.0, "default": 3.0, "unit": "ad minutes/hour",
     "description": "Ad minutes per listening hour on the free tier <free>"},
]


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk; fails on non-PNG bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("run")
    path = write_report(out, synthetic_timeseries(), synthetic_cohorts(), SUMMARY, ASSUMPTIONS)
    return out, path.read_text(encoding="utf-8")


def test_report_writes_every_figure_as_a_sensible_png(report):
    out, _ = report
    for name in FIGURES:
        data = (out / "figures" / f"{name}.png").read_bytes()
        width, height = png_size(data)
        assert width == 1000, name
        assert 300 <= height <= 1400, (name, height)


def test_report_embeds_every_figure_and_nothing_external(report):
    _, text = report
    uris = re.findall(r'src="(data:image/png;base64,[^"]+)"', text)
    assert len(uris) == len(FIGURES)
    for uri in uris:
        png_size(base64.b64decode(uri.split(",", 1)[1]))
    for name in FIGURES:
        assert f'id="{name}"' in text
    assert "http://" not in text and "https://" not in text
    for attr in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', text):
        assert attr.startswith("data:"), attr
    assert "<script" not in text and "<link" not in text and "@import" not in text


def test_report_shows_kpis_with_intervals_and_assumptions(report):
    _, text = report
    assert "Scenario: price_hike_test" in text
    for name, value in SUMMARY["kpis"].items():
        assert name in text
        for key in ("mean", "ci95_low", "ci95_high"):
            assert format_kpi(value[key], name) in text
    for row in ASSUMPTIONS:
        assert row["path"] in text and row["unit"] in text
    assert "12.99" in text and "9.99" in text
    assert "&lt;free&gt;" in text  # descriptions are escaped, not injected


def not_applicable_axes(fig) -> list[bool]:
    """For each axes of `fig`: does it say 'not applicable'?"""
    return [any(t.get_text().startswith("not applicable") for t in ax.texts) for ax in fig.axes]


def test_all_nan_ad_market_is_drawn_as_not_applicable(tmp_path):
    """A market where no service has a free tier: ad columns all NaN."""
    ts = synthetic_timeseries(replicates=2, months=12)
    ts[AD_COLUMNS] = np.nan
    ts["free_users"] = 0.0
    assert not_applicable_axes(figure_ad_market(ts)) == [True, True, True]
    assert not_applicable_axes(figure_revenue_split(ts)) == [False, True]
    assert not_applicable_axes(figure_ad_market(synthetic_timeseries(1, 12))) == [False] * 3
    figures = make_figures(tmp_path, ts, synthetic_cohorts(replicates=2, months=12))
    assert [f.name for f in figures] == FIGURES
    assert all(png_size(f.path.read_bytes())[0] == 1000 for f in figures)


def test_missing_cohort_tier_is_not_applicable(tmp_path):
    """No free tier means no free cohorts; the heatmap still draws premium."""
    cohorts = synthetic_cohorts(replicates=1, months=12)
    figures = make_figures(tmp_path, synthetic_timeseries(replicates=1, months=12),
                           cohorts[cohorts["tier"] == "premium"])
    assert (tmp_path / "cohort_retention.png").stat().st_size > 0
    assert len(figures) == len(FIGURES)


@pytest.mark.parametrize("value, text", [
    (1.234e10, "12.340 bn"), (4.1e7, "41.000 M"), (12345.6, "12,346"), (0.0412, "0.0412"),
    (float("nan"), "n/a"), (None, "n/a"), (-2.5e6, "-2.500 M"), ("yes", "yes"),
])
def test_format_number(value, text):
    assert format_number(value) == text


def test_every_kpi_has_a_unit_and_shares_read_as_percent():
    from sim.metrics import MARKET_KPIS, SERVICE_KPIS, kpi_unit
    from sim.runner import SUMMARY_KPIS

    assert all(kpi_unit(k) for k in (*SERVICE_KPIS, *MARKET_KPIS, *SUMMARY_KPIS, "cumulative_revenue_total_eur"))
    assert format_kpi(0.0572, "churn_premium_monthly") == "5.7%"
    assert format_kpi(188.7e6, "premium_subscribers") == "188.7 M"
    assert format_kpi(float("nan"), "cpm_eur") == "n/a"


def test_intervals_stay_within_what_a_kpi_can_be():
    from sim.metrics import kpi_bounds
    from sim.runner import ci95

    share = ci95(np.array([0.01, 0.09]), kpi_bounds("churn_premium_monthly"))
    assert share["ci95_low"] == 0.0 and share["ci95_high"] <= 1.0
    profit = ci95(np.array([-1e6, 3e6]), kpi_bounds("gross_profit_eur"))
    assert profit["ci95_low"] < -1e6
