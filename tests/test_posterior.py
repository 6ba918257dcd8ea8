"""Posterior (ABC-SMC), draws from it, predictive scores, and the backtest on data with a known truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.analysis.backtest import backtest, forecast_scores, parse_until, split
from sim.analysis.posterior import draw_parameters, weighted_quantile, within_best
from sim.analysis.targets import TargetSpec, simulated_series
from sim.cli import main
from sim.runner import run_replicates
from sim.scenario import ScenarioError, apply_overrides, load_scenario

ROOT = Path(__file__).resolve().parents[1]
TRUTH = {"diffusion.q": 0.4, "services.focal.content_value": 12.0}


# ---------------------------------------------------------------- small pure pieces


def test_weighted_quantile_matches_repeated_values():
    # weights 1, 2, 1 on 1, 2, 3 are the sample 1, 2, 2, 3: median 2
    assert weighted_quantile(np.array([3.0, 1.0, 2.0]), np.array([1.0, 1.0, 2.0]), 0.5) == pytest.approx(2.0)
    assert weighted_quantile(np.array([1.0, 2.0]), np.array([1.0, 1.0]), 0.0) == 1.0


def test_within_best_drops_far_worse_and_renormalises():
    sample = pd.DataFrame({"x": [1, 2, 3, 4], "distance": [0.1, 0.15, 0.21, np.inf], "weight": [1.0, 1.0, 1.0, 1.0]})
    kept, dropped = within_best(sample, factor=2.0)
    assert dropped == 2 and list(kept["x"]) == [1, 2]
    assert kept["weight"].sum() == pytest.approx(1.0)


def test_draw_parameters_follows_weights_and_seed():
    post = pd.DataFrame({"a.b": [1.0, 2.0], "c": [10, 20], "distance": [0.1, 0.2], "weight": [0.9, 0.1]})
    draws = draw_parameters(post, 2000, np.random.default_rng(3))
    share = np.mean([d["a.b"] == 1.0 for d in draws])
    assert abs(share - 0.9) < 4 * np.sqrt(0.9 * 0.1 / 2000)  # binomial sampling error
    assert set(draws[0]) == {"a.b", "c"} and isinstance(draws[0]["c"], int)
    assert draws[:5] == draw_parameters(post, 2000, np.random.default_rng(3))[:5]


def test_forecast_scores_on_known_numbers():
    periods = pd.period_range("2019Q1", periods=2, freq="Q")
    draws = np.vstack([np.linspace(90, 110, 101), np.linspace(190, 210, 101)]).T  # medians 100, 200
    observed = pd.Series([110.0, 200.0], index=periods)
    s = forecast_scores(observed, periods, draws)
    assert s["mape_percent"] == pytest.approx(100 * (10 / 110) / 2)
    assert s["bias"] == pytest.approx(-5.0)
    assert s["coverage95"] == 0.5 and s["coverage80"] == 0.5  # 110 lies at the very top, outside 97.5%


@pytest.mark.parametrize("bad", ["2018", "2018-13", "18-01", "2018-1"])
def test_until_must_be_a_month(bad):
    with pytest.raises(ScenarioError, match="--until"):
        parse_until(bad)


# ---------------------------------------------------------------- backtest on synthetic data


def _synthetic(tmp_path: Path, truth: dict | None = None) -> Path:
    """A tiny market (600 listeners, 2 years), quarterly MAU and premium made by the model at ``truth``.

    ``truth`` defaults to TRUTH; ``{}`` makes the data at the base scenario's own values.
    """
    base = {"name": "tiny", "replicates": 1, "time": {"start": "2015-01", "months": 24}, "market": {"agents": 600}}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    scenario = apply_overrides(load_scenario(tmp_path / "base.yaml"), TRUTH if truth is None else truth)
    ts = pd.concat([r.timeseries for r in run_replicates(scenario, 4, 99, workers=1)])
    periods = pd.period_range("2015Q1", periods=8, freq="Q")
    rows = []
    for metric, cols in {"mau": ["mau"], "premium_subscribers": ["premium_subscribers", "trial_users"]}.items():
        values = simulated_series(ts[ts["focal"]], TargetSpec(column=cols), periods, 1e-6, 1.0).mean(axis=0)
        rows += [{"period": f"{p.year}-Q{p.quarter}", "metric": metric, "value": float(v), "unit": "millions"}
                 for p, v in zip(periods, values)]
    pd.DataFrame(rows).to_csv(tmp_path / "kpis.csv", index=False)
    cal = {"name": "tiny", "base": "base.yaml", "data": "kpis.csv", "seed": 7, "trials": 1, "replicates": 1,
           "check_replicates": 3,
           "parameters": {"diffusion.q": {"low": 0.1, "high": 1.0, "distribution": "loguniform"},
                          "services.focal.content_value": {"low": 6.0, "high": 16.0}},
           "targets": {"mau": {"column": "mau"}, "premium_subscribers": {"column": ["premium_subscribers", "trial_users"]}}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cal))
    return path


@pytest.mark.slow
def test_backtest_covers_the_truth_and_forecasts_closely(tmp_path):
    """One fitted year, one held out, of series the model made at TRUTH (mean of 4 runs, seed 99).

    The forecast must cover the held-out truth-made observations and sit close to them.
    A 20-particle, 3-generation posterior does not pin diffusion.q (over one year it
    trades off with the content value), so the parameter checks are deliberately loose:
    the content value's 95% interval holds the truth, diffusion.q's median is within a
    factor 1.5 of it (the prior spans a factor 10).
    """
    path = _synthetic(tmp_path)
    out = tmp_path / "bt"
    result = backtest(path, "2015-12", out, workers=1, population=20, generations=3, draws=20)
    cv = result["posterior"]["services.focal.content_value"]
    assert cv["q2.5"] <= TRUTH["services.focal.content_value"] <= cv["q97.5"]
    assert TRUTH["diffusion.q"] / 1.5 <= result["posterior"]["diffusion.q"]["q50"] <= TRUTH["diffusion.q"] * 1.5
    for name, s in result["series"].items():
        f = s["forecast"]
        assert f["n"] == 4, name
        assert f["mape_percent"] < 10, (name, f)
        assert f["coverage95"] >= 0.75, (name, f)
    written = json.loads((out / "backtest.json").read_text())
    assert written["series"].keys() == result["series"].keys()
    assert {"abc.sqlite", "forecast.csv", "posterior.csv"} <= {p.name for p in out.iterdir()}
    assert (out / "figures" / "backtest-mau.png").is_file()


def test_the_backtest_fits_on_the_horizon_it_forecasts(tmp_path):
    """The listeners stand for the horizon's largest population, so a horizon cut at ``until`` would fit another
    model than the one that forecasts: the fit keeps the whole horizon and drops only the later observations."""
    from sim.analysis.calibration import load_calibration

    cal = load_calibration(_synthetic(tmp_path))
    fit, held = split(cal, parse_until("2015-12"))
    assert fit.base == cal.base and fit.base.time.months == 24
    for t in fit.targets:
        assert [str(p) for p in t.observed.index] == ["2015Q1", "2015Q2", "2015Q3", "2015Q4"]
        assert [str(p) for p in held[t.name].index] == ["2016Q1", "2016Q2", "2016Q3", "2016Q4"]


def _corrupt_held_out(path: Path, until: str, folder: Path) -> Path:
    """A copy of the calibration ``path`` in ``folder`` whose observations after ``until`` are 1000 x off."""
    folder.mkdir()
    for name in ("base.yaml", path.name):
        (folder / name).write_text((path.parent / name).read_text())
    kpis = pd.read_csv(path.parent / "kpis.csv")
    later = pd.PeriodIndex(kpis["period"].str.replace("-", ""), freq="Q").asfreq("M", "end") > pd.Period(until, "M")
    kpis.loc[later, "value"] *= 1000
    kpis.to_csv(folder / "kpis.csv", index=False)
    return folder / path.name


@pytest.mark.slow
def test_the_emulator_backtest_covers_the_truth_repeats_with_workers_and_never_reads_the_held_out(tmp_path):
    """The Gaussian-process emulator (sim.analysis.emulator) on the same truth-made series: 24 + 2 x 8
    simulations instead of ABC's ~60, the content value's 95% interval holds the truth, the held-out
    quarters are close and covered (with the model discrepancy, fitted to 2015 alone). Run again with two
    workers on a copy whose held-out quarters are 1000 x off: the same design, posterior and forecast
    intervals to the last digit (neither the fit nor the discrepancy reads them), only the scores differ."""
    path = _synthetic(tmp_path)
    result = backtest(path, "2015-12", tmp_path / "em1", workers=1, draws=16, method="emulator", design=24,
                      rounds=2, batch=8)
    corrupt = backtest(_corrupt_held_out(path, "2015-12", tmp_path / "corrupt"), "2015-12", tmp_path / "em2",
                       workers=2, draws=16, method="emulator", design=24, rounds=2, batch=8)
    assert result["evaluations"] == 40
    cv = result["posterior"]["services.focal.content_value"]
    assert cv["q2.5"] <= TRUTH["services.focal.content_value"] <= cv["q97.5"]
    for name, s in result["series"].items():
        f = s["forecast"]
        assert f["mape_percent"] < 10 and f["coverage95"] >= 0.75, (name, f)
        assert s["discrepancy"]["steps"] == 3, name
        assert corrupt["series"][name]["discrepancy"] == s["discrepancy"]
        assert corrupt["series"][name]["forecast"]["mape_percent"] > 90
    assert corrupt["posterior"] == result["posterior"]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "em1" / "design.csv"), pd.read_csv(tmp_path / "em2" / "design.csv"))
    fans = [pd.read_csv(tmp_path / run / "forecast.csv").drop(columns="observed") for run in ("em1", "em2")]
    pd.testing.assert_frame_equal(*fans)


def test_backtest_cli_refuses_a_bad_month_with_exit_2(tmp_path, capsys):
    code = main(["backtest", str(ROOT / "scenarios/calibration/synthetic.yaml"), "--until", "2015-13",
                 "--out", str(tmp_path / "x"), "--quiet"])
    captured = capsys.readouterr()
    assert code == 2 and "--until" in captured.out + captured.err
    assert not (tmp_path / "x").exists()


def test_backtest_refuses_a_month_outside_the_horizon(tmp_path):
    with pytest.raises(ScenarioError, match="inside the simulated horizon"):
        backtest(ROOT / "scenarios/calibration/synthetic.yaml", "2030-01", tmp_path / "y")
    assert not (tmp_path / "y").exists()


@pytest.mark.slow
def test_posterior_repeats_exactly_serial_or_with_workers(tmp_path):
    """Same calibration and seed -> the same particles, whether replicates run in-process or in a pool."""
    from sim.analysis.calibration import load_calibration
    from sim.analysis.posterior import fit_posterior
    from sim.executors import using

    cal = load_calibration(_synthetic(tmp_path), {"replicates": 2})
    samples = []
    for i, workers in enumerate((1, 2)):
        folder = tmp_path / f"run{i}"
        folder.mkdir()
        with using("local", n_workers=workers, max_tasks=2) as ex:
            samples.append(fit_posterior(cal, folder, population=4, generations=2, executor=ex)["sample"])
    pd.testing.assert_frame_equal(samples[0], samples[1])


# ---------------------------------------------------------------- market-structure targets (a competitor's rows)


def test_a_target_can_name_a_competitor_and_a_wrong_name_is_refused(tmp_path):
    from sim.analysis.calibration import load_calibration, simulate_targets

    path = _synthetic(tmp_path)
    base = yaml.safe_load((tmp_path / "base.yaml").read_text())
    base["services"] = {"competitors": [{"name": "Rival", "free_tier": False, "plans": {"individual": {"price": 9.99}}}]}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    spec = yaml.safe_load(path.read_text())
    names = [s.name for s in load_scenario(tmp_path / "base.yaml").services.competitors]
    spec["targets"]["mau"]["service"] = names[0]
    path.write_text(yaml.safe_dump(spec))
    cal = load_calibration(path)
    competitor = simulate_targets(cal, {}, 1, 5)["mau"]
    spec["targets"]["mau"].pop("service")
    path.write_text(yaml.safe_dump(spec))
    focal = simulate_targets(load_calibration(path), {}, 1, 5)["mau"]
    assert competitor.shape == focal.shape and not np.allclose(competitor, focal)
    spec["targets"]["mau"]["service"] = names[0][:-1] + "x"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ScenarioError, match=rf"targets\.mau\.service: .*did you mean '{names[0]}'"):
        load_calibration(path)


# ---------------------------------------------------------------- the command


def test_the_start_check_says_when_nothing_beat_the_start(tmp_path):
    """Rerun on the same fresh seeds, a best particle equal to the base values does not beat them:
    beaten is False and the note says so (a particle with a clearly better fit would beat them)."""
    from sim.analysis.calibration import _start_values, load_calibration
    from sim.analysis.posterior import _start_check

    cal = load_calibration(_synthetic(tmp_path, truth={}), {"check_replicates": 2, "set": {"time.months": 12}})
    same = _start_check(cal, _start_values(cal))
    assert same["beaten"] is False and "no sampled parameter set beat the starting point" in same["note"]
    assert same["best_particle"] == same["distance"]


@pytest.mark.slow
def test_calibrate_abc_writes_its_folder_and_reports_the_start_check(tmp_path, capsys):
    """The command writes its folder and reports the start check, with its note when nothing beat the start."""
    path = _synthetic(tmp_path, truth={})
    spec = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**spec, "check_replicates": 8}))  # the fair rerun needs a few seeds
    out = tmp_path / "abc"
    code = main(["calibrate", str(path), "--method", "abc", "--population", "4", "--generations", "1",
                 "--set", "time.months=12", "--out", str(out)])
    printed = " ".join(capsys.readouterr().out.split())
    result = json.loads((out / "posterior.json").read_text())
    assert code == 0 and isinstance(result["start"]["beaten"], bool) and result["overrides"] == {"time.months": 12}
    assert ("no sampled parameter set beat the starting point" in printed) == (not result["start"]["beaten"])
    assert {"abc.sqlite", "posterior.csv", "calibrated.yaml"} <= {p.name for p in out.iterdir()}
    assert main(["calibrate", str(path), "--method", "abc", "--population", "1", "--out", str(tmp_path / "z")]) == 2
    assert not (tmp_path / "z").exists()
