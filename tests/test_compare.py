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

from sim.analysis.compare import paired_differences
from sim.analysis.whatif import build_arms, folder_name
from sim.cli import main
from sim.scenario import scenario_to_yaml
from tests.helpers import small_scenario

FILES = ["comparison.json", "comparison.html", "paired_timeseries.parquet", "figures/paired_users.png",
         "figures/paired_revenue.png", "figures/forest.png", "figures/difference_over_time.png"]


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


def test_size_settings_apply_to_both_sides_and_the_what_if_to_b(small_yaml):
    path = str(small_yaml())
    arms = build_arms([path], ["services.focal.plans.individual.price=12.99", "market.agents=1000",
                               "time.months=12", "seed=7"], replicates=3)
    a, b = arms.scenarios
    assert b.name == "small-variant"
    for s in (a, b):
        assert (s.market.agents, s.time.months, s.seed, s.replicates) == (1000, 12, 7, 3)
    assert a.services.focal.plans["individual"].price == 9.99
    assert b.services.focal.plans["individual"].price == 12.99
    # with two files the what-if still goes to B only, the size to both
    a2, b2 = build_arms([path, path], ["services.focal.ad_load=4", "market.agents=1000"]).scenarios
    assert (a2.market.agents, b2.market.agents) == (1000, 1000)
    assert (a2.services.focal.ad_load, b2.services.focal.ad_load) == (2.5, 4)


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
    assert len(re.findall(r"<img ", html)) == 4


def test_price_rise_gives_fewer_subscribers(small_yaml, tmp_path, monkeypatch):
    path = small_yaml(months=24)
    monkeypatch.chdir(tmp_path)
    assert main(["compare", str(path), "--set", "services.focal.plans.individual.price=12.99",
                 "--replicates", "6", "--workers", "1", "--quiet"]) == 0
    (out,) = (tmp_path / "results").glob("compare-small-vs-price12.99-*")
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
    # a size setting alone does not make a B
    assert main(["compare", str(small_yaml()), "--set", "market.agents=1000"]) == 2
    assert "apply to both sides" in capsys.readouterr().err


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


TIMELINE = [{"at": "2015-07", "set": {"services.focal.plans.individual.price": 11.99}, "note": "rise"}]


def test_from_makes_a_dated_event_and_the_overwrite_is_named(tmp_path):
    path = tmp_path / "tl.yaml"
    path.write_text(scenario_to_yaml(small_scenario({"time.months": 12, "timeline": TIMELINE})))
    price = "services.focal.plans.individual.price=10.99"
    # from the start: the 2015-07 event undoes the what-if, and says so
    arms = build_arms([str(path)], [price])
    assert len(arms.warnings) == 1 and "overwritten from 2015-07" in arms.warnings[0] and "rise" in arms.warnings[0]
    # from 2015-09, after the event: a dated event, appended, and nothing to warn about
    arms = build_arms([str(path)], [price], start="2015-09")
    a, b = arms.scenarios
    assert arms.warnings == []
    assert b.services.focal.plans["individual"].price == 9.99  # the start value is A's
    assert b.timeline[-1].at == "2015-09" and b.timeline[-1].set == {"services.focal.plans.individual.price": 10.99}
    assert a.timeline == a.timeline[:1]
    # a section set by the event overlaps a path inside it
    assert build_arms([str(path)], ["services.focal.plans.individual.hassle=1"], start="2015-03").warnings == []
    assert build_arms([str(path)], ["services.focal.plans.individual={price: 8}"], start="2015-03").warnings


def test_overwrite_warning_in_terminal_and_report(tmp_path, capsys):
    path = tmp_path / "tl.yaml"
    path.write_text(scenario_to_yaml(small_scenario({"time.months": 12, "market.agents": 1000, "timeline": TIMELINE})))
    out = tmp_path / "o"
    assert main(["compare", str(path), "--set", "services.focal.plans.individual.price=10.99", "--replicates", "2",
                 "--workers", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "overwritten from 2015-07" in printed.err + printed.out
    assert printed.out.index("What differs") < printed.out.index("paired replicates")  # what differs comes first
    assert "overwritten from 2015-07" in (out / "comparison.html").read_text()
    assert json.loads((out / "comparison.json").read_text())["warnings"]
    # dated after the event: no warning, and "what differs" shows the what-if's value and month
    assert main(["compare", str(path), "--set", "services.focal.plans.individual.price=10.99", "--from", "2015-09",
                 "--replicates", "2", "--workers", "1", "--out", str(tmp_path / "dated")]) == 0
    printed = capsys.readouterr()
    assert "overwritten" not in printed.err + printed.out
    assert re.search(r"services\.focal\.plans\.individual\.price +│ 11\.99 +│ 10\.99 from 2015-09", printed.out)


@pytest.mark.parametrize("flags, message", [
    (["--from", "2015-13"], "--from: expected a calendar month YYYY-MM"),
    (["--from", "2031-01"], "--from: 2031-01 is outside the horizon"),
    (["--window", "2015-01"], "--window: expected START:END"),
    (["--window", "2015-06:2015-02"], "--window: the end 2015-02 is before the start 2015-06"),
    (["--window", "2014-01:2015-02"], "--window: 2014-01 is outside the horizon"),
])
def test_bad_flags_exit_2_and_write_nothing(small_yaml, tmp_path, capsys, flags, message):
    out = tmp_path / "o"
    assert main(["compare", str(small_yaml(12)), "--set", "services.focal.ad_load=3", *flags, "--out", str(out),
                 "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".o*"))


def test_from_without_a_what_if_is_refused(small_yaml, capsys):
    assert main(["compare", str(small_yaml(12)), str(small_yaml(12)), "--from", "2015-03"]) == 2
    assert "--from: dates the --set values" in capsys.readouterr().err


def test_folders_are_named_by_the_what_if_and_never_replaced(small_yaml, tmp_path, monkeypatch, capsys):
    path = str(small_yaml(12))
    names = {folder_name(build_arms([path], [s])) for s in ("services.focal.ad_load=3", "services.focal.ad_load=4")}
    assert len(names) == 2 and all(n.startswith("compare-small-vs-ad_load") for n in names)
    monkeypatch.chdir(tmp_path)
    args = ["compare", path, "--set", "services.focal.ad_load=3", "--set", "market.agents=1000",
            "--replicates", "2", "--workers", "1", "--quiet"]
    assert main(args) == 0
    (out,) = (tmp_path / "results").iterdir()
    first = (out / "comparison.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err and (out / "comparison.json").stat().st_mtime_ns == first
    assert main([*args, "--overwrite"]) == 0  # an earlier comparison is replaced when asked
    assert (out / "comparison.json").stat().st_mtime_ns != first
    mine = out / "mine.txt"  # ... but --overwrite never deletes what the tool did not write
    mine.write_text("kept")
    assert main([*args, "--overwrite"]) == 2
    assert "did not write (mine.txt)" in capsys.readouterr().err and mine.read_text() == "kept"


def test_three_way_compare_and_window(small_yaml, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(scenario_to_yaml(small_scenario({"time.months": 24, "market.agents": 2000})))
    cheaper, dearer = tmp_path / "cheap.yaml", tmp_path / "dear.yaml"
    for f, price in ((cheaper, 8.99), (dearer, 12.99)):
        f.write_text(f"extends: s.yaml\nname: {f.stem}\nservices:\n  focal:\n    plans:\n      individual: {{price: {price}}}\n")
    out = tmp_path / "three"
    assert main(["compare", str(path), str(cheaper), str(dearer), "--replicates", "3", "--workers", "1",
                 "--window", "2016-01:2016-12", "--quiet", "--out", str(out)]) == 0
    result = json.loads((out / "comparison.json").read_text())
    assert [a["label"] for a in result["arms"]] == ["A", "B", "C"]
    b, c = result["comparisons"]
    assert result["window"] == {"start": "2016-01", "end": "2016-12"}
    assert b["kpis"]["premium_subscribers"]["diff_mean"] > 0 > c["kpis"]["premium_subscribers"]["diff_mean"]
    # the window's cumulative revenue is 12 months of the series, replicate by replicate
    series = pd.read_parquet(out / "paired_timeseries.parquet")
    assert {"scenario", "replicate", "date", "service", "premium_subscribers"} <= set(series.columns)
    assert sorted(series["scenario"].unique()) == ["A", "B", "C"]
    focal_a = series[(series["scenario"] == "A") & series["focal"]]
    inside = focal_a[(focal_a["date"] >= "2016-01-01") & (focal_a["date"] <= "2016-12-31")]
    expected = inside.groupby("replicate")["revenue_total_eur"].sum().mean()
    assert b["kpis"]["cumulative_revenue_total_eur"]["a_mean"] == pytest.approx(expected)
    assert b["kpis"]["mean_premium_subscribers"]["a_mean"] == pytest.approx(
        inside.groupby("replicate")["premium_subscribers"].mean().mean())
    # elasticities: a price cut raises subscribers, a rise lowers them; both give a negative elasticity
    for arm in (b, c):
        e = arm["elasticities"]["kpis"]["premium_subscribers"]
        assert e["mean"] < 0 and e["ci95_low"] < e["mean"] < e["ci95_high"]
        bridge = arm["revenue_bridge"]
        assert sum(bridge[k]["mean"] for k in ("volume", "mix", "price", "other")) == pytest.approx(bridge["total"]["mean"])
    assert "(C)" in (out / "comparison.html").read_text() or "C - A" in (out / "comparison.html").read_text()


def test_arc_elasticity_of_a_constant_elasticity_demand():
    from sim.analysis.elasticity import arc_elasticity

    p_a, p_b = np.array([10.0]), np.array([11.0])
    for eps in (-0.5, -1.5):
        q_a, q_b = 1000 * p_a**eps, 1000 * p_b**eps
        # the midpoint formula of a constant-elasticity curve is within 0.2% of its elasticity for a 10% step
        assert arc_elasticity(q_a, q_b, p_a, p_b)[0] == pytest.approx(eps, rel=2e-3)
    assert np.isnan(arc_elasticity(q_a, q_b, p_a, p_a)[0])


def test_a_difference_from_a_file_timeline_is_named_and_feeds_the_confounding_warning(tmp_path, capsys):
    """B's timeline changes the price and the ad load together: what differs lists both, dated, and the
    elasticities are flagged as confounded, as for the same change given by --set; --quiet keeps the warnings."""
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(scenario_to_yaml(small_scenario({"time.months": 12, "market.agents": 1000})))
    both = {"services.focal.plans.individual.price": 11.99, "services.focal.ad_load": 4.0}
    b.write_text(scenario_to_yaml(small_scenario({"time.months": 12, "market.agents": 1000, "name": "b",
                                                  "timeline": [{"at": "2015-06", "set": both}]})))
    out = tmp_path / "o"
    assert main(["compare", str(a), str(b), "--replicates", "2", "--workers", "1", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    comparison = json.loads((out / "comparison.json").read_text())
    rows = {d["path"]: d for d in comparison["comparisons"][0]["differences"]}
    assert rows["services.focal.ad_load"] == {"path": "services.focal.ad_load", "a": 2.5, "b": 4.0, "unit": "ad-min/hour",
                                              "from": "2015-06"}
    assert rows["services.focal.plans.individual.price"]["a"] == 9.99  # A's value in effect then
    assert comparison["comparisons"][0]["elasticities"]["other_differences"] == ["services.focal.ad_load (from 2015-06)"]
    assert "the elasticities attribute the whole change to the price, but services.focal.ad_load (from 2015-06)" in printed.err
    assert printed.out.strip() == str(out)  # --quiet: the folder only on stdout, the warning on stderr


def test_removing_the_free_tier_says_what_happens_to_its_users(tmp_path, small_yaml, capsys):
    out = tmp_path / "o"
    assert main(["compare", str(small_yaml(12)), "--set", "services.focal.regions.world.free_tier=false", "--from", "2015-06",
                 "--replicates", "2", "--workers", "1", "--quiet", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "Spotify's free tier in world ends from 2015-06: its free users there all choose again in that month" in err


def test_the_revenue_bridge_names_a_price_effect_only_where_a_list_price_moved():
    """Hand-made paired rows: 100 individual subscribers at 10 EUR in A; B has 90 at 11 EUR (price +10%). The price
    effect is B's 90 subscribers x 10 EUR x 10% = 90 EUR a month, volume -100, mix 0, and the rest (other) is what
    the list price does not explain. With the same list prices (an ad-load change) the price effect is exactly 0."""
    from sim.analysis.elasticity import revenue_bridge
    from sim.agents.services import PLAN_NAMES

    def focal(subs, revenue):
        rows = {"replicate": [0, 0, 1, 1], "date": pd.to_datetime(["2015-01-01", "2015-02-01"] * 2),
                "revenue_subscription_eur": [revenue] * 4}
        rows.update({f"premium_{p}": [subs if p == "individual" else 0.0] * 4 for p in PLAN_NAMES})
        return pd.DataFrame(rows)

    prices = np.full((2, len(PLAN_NAMES)), np.nan)
    prices[:, 0] = 10.0
    dearer = prices.copy()
    dearer[:, 0] = 11.0
    bridge = revenue_bridge(focal(100, 1000.0), focal(90, 985.0), prices, dearer, 1.0)
    assert bridge["price"]["mean"] == pytest.approx(2 * 90.0)  # two months
    assert bridge["volume"]["mean"] == pytest.approx(2 * -100.0) and bridge["mix"]["mean"] == pytest.approx(0.0)
    assert bridge["other"]["mean"] == pytest.approx(2 * (-15.0 + 100.0 - 90.0))
    same = revenue_bridge(focal(100, 1000.0), focal(90, 880.0), prices, prices, 1.0)
    assert same["price"]["mean"] == 0.0 and same["other"]["mean"] == pytest.approx(2 * -20.0)
