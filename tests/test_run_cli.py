"""`freemium-sim run` end to end: the output contract, atomic writes, reproducibility across workers."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from sim.cli import main
from sim.metrics import MARKET_KPIS, SERVICE_KPIS
from tests.helpers import run_cli

SMALL = """
name: tiny
replicates: 3
time: {start: 2015-01, months: 8}
market: {population: 1.0e8, agents: 2500}
services:
  focal: {name: Spotify, plans: {individual: {price: 9.99}, family: {price: 14.99}}}
  competitors: [{name: Apple Music, free_tier: false, plans: {individual: {price: 9.99}}}]
initial: {aware: 0.3, focal_free: 0.05, focal_premium: 0.02, competitor: 0.02}
timeline: [{at: 2015-05, set: {services.focal.plans.individual.price: 10.99}}]
"""
CONTRACT_COLUMNS = ["replicate", "date", "service", "focal", "mau", "premium_subscribers", "free_users", "trial_users",
                    "revenue_subscription_eur", "revenue_ads_eur", "ad_revenue_share", "churn_premium_monthly",
                    "arpu_premium_eur", "market_share", "unaware", "aware", "lapsed"]


@pytest.fixture
def tiny(write_yaml):
    return write_yaml(SMALL, "tiny.yaml")


def test_run_writes_the_output_contract(tiny, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", str(tiny), "--out", str(out), "--workers", "1"]) == 0
    assert "Results in" in capsys.readouterr().out
    for name in ("scenario.yaml", "manifest.json", "timeseries.parquet", "summary.json", "cohorts.parquet", "regions.parquet"):
        assert (out / name).is_file(), name
    resolved = yaml.safe_load((out / "scenario.yaml").read_text())
    assert resolved["mechanisms"]["ads"]["reserve_cpm"] == 4.0  # defaults are filled in
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 42 and manifest["replicates"] == 3 and manifest["version"]
    assert manifest["command"][:2] == ["freemium-sim", "run"] and manifest["wall_seconds"] > 0
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert set(CONTRACT_COLUMNS) <= set(ts.columns)
    assert set(SERVICE_KPIS) | set(MARKET_KPIS) <= set(ts.columns)
    assert len(ts) == 3 * 8 * 2  # replicates x dates x services
    assert ts["service"].unique().tolist() == ["Spotify", "Apple Music"]
    assert ts.loc[ts["focal"], "service"].eq("Spotify").all()
    # real units: people, not simulated listeners
    assert ts["mau"].max() > 1e6
    summary = json.loads((out / "summary.json").read_text())
    for kpi in ("mau", "premium_subscribers", "free_users", "trial_users", "revenue_subscription_eur", "revenue_ads_eur",
                "ad_revenue_share", "churn_premium_monthly", "arpu_premium_eur", "market_share"):
        v = summary["kpis"][kpi]
        assert v["ci95_low"] <= v["mean"] <= v["ci95_high"], kpi
    last = ts[ts["focal"] & (ts["date"] == ts["date"].max())]
    assert summary["kpis"]["mau"]["mean"] == pytest.approx(last["mau"].mean())
    # the price rise in the timeline shows up in the recorded price
    focal = ts[ts["focal"] & (ts["replicate"] == 0)].set_index("date")
    assert focal.loc["2015-04-01", "price_individual_eur"] == pytest.approx(9.99)
    assert focal.loc["2015-05-01", "price_individual_eur"] == pytest.approx(10.99)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary folder left behind"
    # users by region: the contract's columns, and they add up to the timeseries' users
    regions = pd.read_parquet(out / "regions.parquet")
    assert regions.columns.tolist() == ["replicate", "date", "region", "service", "mau", "free_users", "trial_users",
                                        "premium_subscribers"]
    assert len(regions) == 3 * 8 * 2 * len(resolved["regions"])  # replicates x dates x services x regions
    summed = regions.groupby(["replicate", "date", "service"], sort=False).sum(numeric_only=True).reset_index()
    joined = ts.merge(summed, on=["replicate", "date", "service"], suffixes=("", "_by_region"))
    assert len(joined) == len(ts)
    for col in ("mau", "free_users", "trial_users", "premium_subscribers"):
        assert joined[col].to_numpy() == pytest.approx(joined[f"{col}_by_region"].to_numpy(), rel=1e-6), col


def test_a_service_without_a_free_tier_sold_no_ads(write_yaml, tmp_path):
    """Its ad revenue is 0 EUR (not undefined) in timeseries.parquet and summary.json; its CPM stays undefined."""
    scen = write_yaml(SMALL.replace("focal: {name: Spotify,", "focal: {name: Spotify, free_tier: false,")
                      .replace("focal_free: 0.05", "focal_free: 0.0").replace("replicates: 3", "replicates: 2"), "paid.yaml")
    out = tmp_path / "res"
    assert main(["run", str(scen), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert (ts["revenue_ads_eur"] == 0.0).all()  # neither the focal service nor Apple Music has a free tier
    assert ts["ad_revenue_share"].dropna().eq(0.0).all() and ts["cpm_eur"].isna().all()
    kpis = json.loads((out / "summary.json").read_text())["kpis"]
    assert kpis["revenue_ads_eur"]["mean"] == 0.0 and kpis["cumulative_revenue_ads_eur"]["mean"] == 0.0
    assert kpis["revenue_subscription_eur"]["mean"] > 0


def test_rerun_replaces_previous_results(tiny, tmp_path):
    out = tmp_path / "res"
    assert main(["run", str(tiny), "--out", str(out), "--quiet", "--replicates", "1"]) == 0
    assert main(["run", str(tiny), "--out", str(out), "--quiet", "--replicates", "2"]) == 0
    assert json.loads((out / "manifest.json").read_text())["replicates"] == 2
    # a file the tool did not write is never deleted: the folder is refused instead (tests/test_outputs.py)


def test_same_seed_identical_bytes_with_one_and_two_workers(tiny, tmp_path):
    a, b = tmp_path / "w1", tmp_path / "w2"
    assert run_cli("run", str(tiny), "--workers", "1", "--out", str(a), "--quiet").returncode == 0
    assert run_cli("run", str(tiny), "--workers", "2", "--out", str(b), "--quiet").returncode == 0
    assert (a / "timeseries.parquet").read_bytes() == (b / "timeseries.parquet").read_bytes()
    assert (a / "cohorts.parquet").read_bytes() == (b / "cohorts.parquet").read_bytes()
    assert (a / "regions.parquet").read_bytes() == (b / "regions.parquet").read_bytes()


def test_different_seed_differs(tiny, tmp_path):
    a, b = tmp_path / "s1", tmp_path / "s2"
    assert main(["run", str(tiny), "--out", str(a), "--quiet", "--seed", "1", "--replicates", "1"]) == 0
    assert main(["run", str(tiny), "--out", str(b), "--quiet", "--seed", "2", "--replicates", "1"]) == 0
    assert not pd.read_parquet(a / "timeseries.parquet").equals(pd.read_parquet(b / "timeseries.parquet"))


def test_params_lists_every_parameter_with_units(capsys):
    assert main(["params", "--markdown"]) == 0
    out = capsys.readouterr().out
    for path in ("diffusion.p", "services.focal.ad_load", "mechanisms.ads.reserve_cpm", "choice.switching_cost.base"):
        assert f"`{path}`" in out
    assert "1/month" in out and "EUR/month" in out


@pytest.mark.parametrize("command", ["run", "compare"])
def test_workers_must_be_positive(tiny, tmp_path, capsys, command):
    assert main([command, str(tiny), "--workers", "0", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "--workers: must be at least 1 (got 0)" in capsys.readouterr().err


def test_run_window_covers_the_cumulative_and_mean_kpis(tiny, tmp_path, capsys):
    out = tmp_path / "w"
    assert main(["run", str(tiny), "--out", str(out), "--workers", "1", "--quiet", "--window", "2015-03:2015-05"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["window"] == {"start": "2015-03", "end": "2015-05"} and summary["date"] == "2015-05-01"
    ts = pd.read_parquet(out / "timeseries.parquet")
    inside = ts[ts["focal"] & ts["date"].between("2015-03-01", "2015-05-01")]
    per_rep = inside.groupby("replicate")
    assert summary["kpis"]["cumulative_revenue_total_eur"]["mean"] == pytest.approx(
        per_rep["revenue_total_eur"].sum().mean())
    assert summary["kpis"]["mean_premium_subscribers"]["mean"] == pytest.approx(
        per_rep["premium_subscribers"].mean().mean())
    # the point KPIs are read at the window's last month
    assert summary["kpis"]["mau"]["mean"] == pytest.approx(inside[inside["date"] == "2015-05-01"]["mau"].mean())
    report = (out / "report.html").read_text()
    assert "cumulative and mean KPIs over 2015-03 to 2015-05" in report


@pytest.mark.parametrize("window, message", [
    ("2015-03", "--window: expected START:END"), ("2015-05:2015-03", "the end 2015-03 is before the start 2015-05"),
    ("2015-03:2016-01", "--window: 2016-01 is outside the horizon 2015-01 to 2015-08")])
def test_run_bad_window_exits_2_and_writes_nothing(tiny, tmp_path, capsys, window, message):
    out = tmp_path / "w"
    assert main(["run", str(tiny), "--out", str(out), "--window", window]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
