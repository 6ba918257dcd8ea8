"""`freemium-sim compare`: paired differences with common random numbers.

The statistics are checked against scipy's t-interval on hand-made numbers;
the command end to end on a small market (3,000 listeners): a scenario
against itself differs by exactly nothing, and a 30% price rise gives fewer
premium subscribers with an interval below zero.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analysis.compare import paired_differences, variant
from sim.cli import main
from sim.scenario import scenario_to_yaml
from tests.helpers import small_scenario

FILES = ["comparison.json", "comparison.html", "figures/paired_users.png",
         "figures/paired_revenue.png", "figures/forest.png"]


@pytest.fixture
def small_yaml(tmp_path):
    """A scenario file of a 3,000-listener market over `months` months."""
    def _write(months: int = 24):
        path = tmp_path / f"small{months}.yaml"
        path.write_text(scenario_to_yaml(small_scenario({"time.months": months})))
        return path
    return _write


def test_paired_differences_is_the_t_interval_of_the_pairs():
    a = pd.DataFrame({"x": [10.0, 12.0, 9.0, 11.0], "flat": 1.0, "none": np.nan})
    pairs = np.array([1.0, 1.5, 0.5, 1.2])
    b = a.assign(x=a["x"] + pairs)
    out = paired_differences(a, b)
    low, high = stats.t.interval(0.95, 3, loc=pairs.mean(), scale=stats.sem(pairs))
    assert out["x"]["a_mean"] == pytest.approx(10.5)
    assert out["x"]["b_mean"] == pytest.approx(10.5 + pairs.mean())
    assert out["x"]["diff_mean"] == pytest.approx(pairs.mean())
    assert out["x"]["diff_ci95_low"] == pytest.approx(low)
    assert out["x"]["diff_ci95_high"] == pytest.approx(high)
    assert out["x"]["significant"] is True
    assert out["flat"] == {"a_mean": 1.0, "b_mean": 1.0, "diff_mean": 0.0, "diff_ci95_low": 0.0,
                           "diff_ci95_high": 0.0, "significant": False}
    assert out["none"]["diff_mean"] is None and out["none"]["significant"] is None


def test_pairing_is_what_makes_a_small_shift_visible():
    """The same shift hidden by between-replicate spread is clear once paired."""
    a = pd.DataFrame({"x": [100.0, 140.0, 80.0, 120.0, 60.0]})
    b = a + np.array([[2.1], [1.9], [2.0], [2.2], [1.8]])
    unpaired = stats.ttest_ind(b["x"], a["x"]).pvalue
    assert unpaired > 0.5
    assert paired_differences(a, b)["x"]["diff_ci95_low"] > 0


def test_variant_keeps_the_seed_and_replicates_of_a():
    a = small_scenario()
    b = variant(a, ["services.focal.plans.individual.price=12.99", "seed=7"])
    assert b.name == "small-variant"
    assert (b.seed, b.replicates) == (a.seed, a.replicates)
    assert b.services.focal.plans["individual"].price == 12.99


def test_compare_with_itself_differs_by_nothing(small_yaml, tmp_path):
    path = small_yaml(months=12)
    out = tmp_path / "same"
    assert main(["compare", str(path), str(path), "--replicates", "3", "--workers", "1",
                 "--quiet", "--out", str(out)]) == 0
    for name in FILES:
        assert (out / name).stat().st_size > 0, name
    result = json.loads((out / "comparison.json").read_text())
    assert result["replicates"] == 3 and result["parameters"] == []
    assert "cumulative_revenue_total_eur" in result["kpis"]
    for name, k in result["kpis"].items():
        if k["diff_mean"] is None:  # undefined in this market (NaN in every replicate)
            continue
        assert k["diff_ci95_low"] <= 0 <= k["diff_ci95_high"], name
        assert k["significant"] is False, name
    html = (out / "comparison.html").read_text()
    assert "http://" not in html and "https://" not in html
    assert all(src.startswith("data:image/png;base64,")
               for src in re.findall(r'(?:src|href)="([^"]*)"', html))
    assert len(re.findall(r"<img ", html)) == 3


def test_price_rise_gives_fewer_subscribers(small_yaml, tmp_path, monkeypatch):
    path = small_yaml(months=24)
    monkeypatch.chdir(tmp_path)
    assert main(["compare", str(path), "--set", "services.focal.plans.individual.price=12.99",
                 "--replicates", "6", "--workers", "1", "--quiet"]) == 0
    out = tmp_path / "results" / "compare-small-vs-small-variant"
    result = json.loads((out / "comparison.json").read_text())
    assert result["parameters"] == [{"path": "services.focal.plans.individual.price",
                                     "a": 9.99, "b": 12.99, "unit": "EUR/month",
                                     "description": "List price of the plan per account"}]
    premium = result["kpis"]["premium_subscribers"]
    assert premium["diff_ci95_high"] < 0 and premium["significant"] is True
    assert premium["b_mean"] < premium["a_mean"]
    assert not list(tmp_path.joinpath("results").glob(".*tmp*"))  # temp folder renamed away
    html = (out / "comparison.html").read_text()
    assert "services.focal.plans.individual.price" in html and "12.99" in html


def test_compare_needs_a_b(small_yaml, capsys):
    assert main(["compare", str(small_yaml())]) == 2
    assert "second scenario file" in capsys.readouterr().err


def test_compare_rejects_an_unknown_key(small_yaml, capsys):
    assert main(["compare", str(small_yaml()), "--set", "services.focal.prise=3"]) == 2
    assert "prise" in capsys.readouterr().err


def test_baseline_against_the_price_hike_scenario(tmp_path):
    """The library's own question: the shipped price_hike loses subscribers against the baseline."""
    from tests.helpers import ROOT

    out = tmp_path / "cmp"
    assert main(["compare", str(ROOT / "scenarios/baseline.yaml"), str(ROOT / "scenarios/price_hike.yaml"),
                 "--set", "market.agents=3000", "--replicates", "4", "--workers", "2", "--quiet",
                 "--out", str(out)]) == 0
    premium = json.loads((out / "comparison.json").read_text())["kpis"]["premium_subscribers"]
    assert premium["diff_ci95_high"] < 0 and premium["significant"] is True


@pytest.mark.slow
def test_dask_gives_the_numbers_of_one_local_process(small_yaml, tmp_path):
    path = small_yaml(months=6)
    args = ["compare", str(path), "--set", "services.focal.ad_load=5", "--replicates", "2", "--quiet"]
    assert main([*args, "--workers", "1", "--out", str(tmp_path / "local")]) == 0
    assert main([*args, "--executor", "dask", "--workers", "2", "--out", str(tmp_path / "dask")]) == 0
    local, dask = (json.loads((tmp_path / d / "comparison.json").read_text()) for d in ("local", "dask"))
    assert dask["kpis"] == local["kpis"]
