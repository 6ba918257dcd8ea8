"""Bounded input and every bad value: exit 2, the file and key path, one line of bounded length.

Scenario files, --set flags, sweep and calibration files and calibration data, each class
of fault the issue lists (NaN/inf, impossible dates, failed tags, duplicate keys, nesting,
extends chains, frozen timeline paths, shares, long values, devices and pipes).
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

import sim.scenario.paths
from sim.agents.listeners import _allocate
from sim.analysis.calibration import load_calibration
from sim.analysis.posterior import read_posterior
from sim.cli import main
from sim.scenario import ScenarioError, load_scenario
from sim.sweep import designs
from sim.sweep.spec import load_sweep
from tests.helpers import ROOT

TINY = "name: tiny\nreplicates: 1\ntime: {start: 2015-01, months: 3}\nmarket: {population: 1.0e6, agents: 200}\n"
SEG = "segments:\n  - {name: a, share: 1, %s}\n"
MAX_LINE = 1003  # ScenarioError keeps a message to 1,000 characters (+ "...")

SCENARIO_CASES = {
    "nan_in_distribution": (SEG % "wtp: {dist: lognormal, median: .nan, sigma: 0.5}", ["segments.0.wtp.median", "finite"]),
    "inf_in_distribution": (SEG % "wtp: {dist: uniform, low: 0, high: .inf}", ["segments.0.wtp.high", "finite"]),
    "nan_bound_of_normal": (SEG % "wtp: {dist: normal, mean: 3, sd: 1, low: .nan}", ["segments.0.wtp.low", "finite"]),
    "nan_constant_shorthand": (SEG % "wtp: .nan", ["segments.0.wtp", "finite"]),
    "inf_policy_value": ("services:\n  focal: {name: S, marketing_budget: .inf}\n", ["services.focal.marketing_budget", "finite"]),
    "impossible_day": ("time: {start: 2015-02-30}\n", ["line 1", "as a date", "day is out of range"]),
    "impossible_month_tag": ("time: {start: !!timestamp 2015-13-01}\n", ["line 1", "as a date"]),
    "failed_int_tag": ("market: {agents: !!int many}\n", ["line 1", "as an integer"]),
    "failed_float_tag": ("market: {population: !!float lots}\n", ["line 1", "as a number"]),
    "duplicate_key": ("name: a\nname: b\n", ["line 2", "'name' appears twice"]),
    "duplicate_nested_key": ("market: {agents: 200, agents: 300}\n", ["line 1", "'agents' appears twice"]),
    "deep_flow_nesting": ("description: " + "[" * 60 + "]" * 60 + "\n", ["nested more than 40 levels"]),
    "deep_block_nesting": ("a:\n" + "".join("  " * k + "b:\n" for k in range(1, 60)) + "  " * 60 + "c: 1\n",
                           ["nested more than 40 levels"]),
    "timeline_sets_agents": ("timeline:\n  - {at: 2015-02, set: {market.agents: 500}}\n",
                             ["timeline.0.set.market.agents", "cannot change during a run"]),
    "timeline_sets_segment_trait": ("timeline:\n  - {at: 2015-02, set: {segments.teens.wtp.median: 5}}\n",
                                    ["timeline.0.set.segments.teens.wtp.median", "cannot change during a run"]),
    "timeline_sets_horizon": ("timeline:\n  - {at: 2015-02, set: {time.months: 12}}\n",
                              ["timeline.0.set.time.months", "cannot change during a run"]),
    "timeline_sets_seed": ("timeline:\n  - {at: 2015-02, set: {seed: 3}}\n", ["timeline.0.set.seed", "cannot change"]),
    "timeline_nan": ("timeline:\n  - {at: 2015-02, set: {services.focal.ad_load: .nan}}\n",
                     ["timeline.0.set", "services.focal.ad_load", "finite"]),
    "shares_off_by_more_than_a_listener": ("market: {population: 1.0e9, agents: 4000000}\nsegments:\n"
                                           "  - {name: a, share: 0.5000005}\n  - {name: b, share: 0.5}\n",
                                           ["segments", "sum to 1.0000005", "4,000,000 listeners"]),
    "name_escapes": ("name: ../../etc\n", ["name", "cannot name a folder"]),
    "habit_held_before_it_starts": ("mechanisms:\n  habit: {growth: 0.3, since: 2018-01, until: 2016-12}\n",
                                    ["mechanisms.habit", "until (2016-12) is before since (2018-01)"]),
    "habit_month_not_a_month": ("mechanisms:\n  habit: {growth: 0.3, until: 2020-13}\n",
                                ["mechanisms.habit.until", "expected a calendar month YYYY-MM"]),
}


def one_line(err: str) -> str:
    """The message as the terminal shows it, joined: rich wraps long lines at the console width."""
    return err.replace("\n", "")


@pytest.mark.parametrize("case", sorted(SCENARIO_CASES))
def test_bad_scenario_value(case, write_yaml, tmp_path, capsys):
    text, expected = SCENARIO_CASES[case]
    # cases that set their own market/time/timeline come first so the tiny defaults do not repeat keys
    base = "" if any(k in text for k in ("market:", "time:", "name:")) else "name: tiny\nreplicates: 1\n"
    path = write_yaml(base + text)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    err = one_line(capsys.readouterr().err)
    assert str(path) in err and "Traceback" not in err
    for fragment in expected:
        assert fragment in err, err
    assert len(err) <= MAX_LINE + 10
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["scenario.yaml"]


def test_long_value_is_cut_in_the_message(write_yaml, capsys):
    path = write_yaml(f"name: '{'x' * 1_800_000}'\n")
    assert main(["validate", str(path)]) == 2
    err = one_line(capsys.readouterr().err)
    assert "name:" in err and "..." in err and len(err) < 400


def test_unknown_long_key_is_cut(write_yaml, capsys):
    path = write_yaml(f"{'k' * 100_000}: 1\n")
    assert main(["validate", str(path)]) == 2
    assert len(one_line(capsys.readouterr().err)) <= MAX_LINE + 10


def test_extends_chain_is_limited(tmp_path, capsys):
    (tmp_path / "s0.yaml").write_text(TINY)
    for k in range(1, 25):
        (tmp_path / f"s{k}.yaml").write_text(f"extends: s{k - 1}.yaml\n")
    assert main(["validate", str(tmp_path / "s24.yaml")]) == 2
    assert "chain of more than 20 files" in one_line(capsys.readouterr().err)
    assert main(["validate", str(tmp_path / "s10.yaml")]) == 0


# ---------------------------------------------------------------- only regular files, of bounded size


def test_device_refused_at_once(capsys):
    assert main(["validate", "/dev/zero"]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_fifo_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result: list[int] = []
    reader = threading.Thread(target=lambda: result.append(main(["validate", str(fifo)])), daemon=True)
    reader.start()
    reader.join(timeout=30)
    if reader.is_alive():  # free the blocked reader so the test process can end, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("validate blocked on a FIFO")
    assert result == [2]
    assert "not a regular file" in capsys.readouterr().err


def test_oversized_file_refused(write_yaml, capsys):
    path = write_yaml("# " + "x" * 2_100_000 + "\nname: big\n")
    assert main(["validate", str(path)]) == 2
    assert "limited to 2,000,000" in capsys.readouterr().err


# ---------------------------------------------------------------- the command line


SET_CASES = {
    "nan": (["--set", "services.focal.ad_load=.nan"], ["--set", "services.focal.ad_load", "finite"]),
    "nan_word": (["--set", "services.focal.ad_load=nan"], ["services.focal.ad_load", "finite"]),
    "inf": (["--set", "market.population=.inf"], ["market.population", "finite"]),
    "into_distribution": (["--set", "segments.teens.wtp.median=-inf"], ["segments.0.wtp.median", "finite"]),
    "impossible_date": (["--set", "time.start=2015-02-30"], ["time.start", "calendar month"]),
    "replicates_zero": (["--replicates", "0"], ["--replicates: replicates", "greater than or equal to 1"]),
    "seed_negative": (["--seed", "-1"], ["--seed: seed", "greater than or equal to 0"]),
    "long_key": (["--set", "k" * 5000 + "=1"], ["unknown key", "..."]),
    "months_inf": (["--set", "time.months=.inf"], ["time.months", "finite"]),
    "months_nan": (["--set", "time.months=.nan"], ["time.months", "finite"]),
    "schedule_zero": (["--set", "market.population={2015-01: 0, 2015-03: 1e6}"],
                      ["market.population.2015-01:", "greater than or equal to 1000", "(got 0)"]),
    "schedule_huge": (["--set", "market.population={2015-01: 1e6, 2015-03: 1e15}"],
                      ["market.population.2015-03:", "less than or equal to 10000000000"]),
}


@pytest.mark.parametrize("case", sorted(SET_CASES))
def test_bad_command_line_value(case, write_yaml, tmp_path, capsys):
    flags, expected = SET_CASES[case]
    path = write_yaml(TINY)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet", *flags]) == 2
    err = one_line(capsys.readouterr().err)
    for fragment in expected:
        assert fragment in err, err
    if case == "replicates_zero":
        assert "--set" not in err
    assert len(err) <= MAX_LINE + 10 and not (tmp_path / "out").exists()


def test_set_into_a_distribution_works_as_documented(write_yaml):
    scenario = load_scenario(write_yaml(TINY))
    from sim.scenario import apply_overrides

    changed = apply_overrides(scenario, {"segments.teens.wtp.median": 5.0})
    assert changed.segments[0].wtp.median == 5.0


# ---------------------------------------------------------------- validation is linear in timeline events


def test_each_timeline_event_is_checked_without_the_others(write_yaml, monkeypatch):
    """Every event is tried on the scenario without its timeline: the work per event does not grow with
    the number of events (linear validation; benchmarks/timeline_validation.py prints the times)."""
    seen: list[int] = []
    real = sim.scenario.paths.validate_scenario_data

    def spy(data, source):
        seen.append(len(data.get("timeline") or []))
        return real(data, source)

    monkeypatch.setattr(sim.scenario.paths, "validate_scenario_data", spy)
    events = "".join(f"  - {{at: 2015-{1 + k % 12:02d}, set: {{services.focal.ad_load: {1 + k / 100}}}}}\n"
                     for k in range(200))
    load_scenario(write_yaml("name: many\ntime: {start: 2015-01, months: 12}\ntimeline:\n" + events))
    assert seen[0] == 200 and len(seen) == 201
    assert set(seen[1:]) == {0}


# ---------------------------------------------------------------- shares never break sampling


@pytest.mark.parametrize("n", [100, 4_999_999, 5_000_000])
@pytest.mark.parametrize("error_sign", [-1, 1])
def test_accepted_shares_allocate_exactly_n_listeners(n, error_sign):
    shares = [0.14, 0.16, 0.13, 0.22, 0.22, 0.13]
    shares[-1] += error_sign * min(1e-6, 0.25 / n) * 0.999  # as far off as the schema accepts
    groups = _allocate(shares, n, np.random.default_rng(0))
    assert groups.shape == (n,)


# ---------------------------------------------------------------- sweep files


SWEEP = {"name": "tinysweep", "base": "tiny.yaml", "seed": 1, "design": {"kind": "lhs", "n": 2},
         "parameters": {"services.focal.ad_load": {"low": 1.0, "high": 3.0}},
         "kpis": [{"column": "mau", "agg": "final"}]}

SWEEP_CASES = {
    "nan_low": ({"parameters": {"services.focal.ad_load": {"low": float("nan"), "high": 3.0}}},
                ["parameters.services.focal.ad_load.low", "finite"]),
    "inf_level": ({"parameters": {"services.focal.ad_load": {"levels": [1.0, float("inf")]}}},
                  ["parameters.services.focal.ad_load.levels", "finite"]),
    "nan_override": ({"overrides": {"diffusion.q": float("nan")}}, ["overrides", "diffusion.q", "finite"]),
    "window_outside_horizon": ({"kpis": [{"column": "mau", "agg": "mean", "window": {"start": "2030-01", "end": "2030-06"}}]},
                               ["kpis.0.window", "outside the horizon 2015-01..2015-03"]),
    "window_past_a_swept_horizon": ({"parameters": {"time.months": {"levels": [2, 3]}},  # "ok" runs with a NaN KPI
                                     "kpis": [{"column": "mau", "agg": "mean", "window": {"start": "2015-03", "end": "2015-03"}}]},
                                    ["kpis.0.window", "outside the horizon 2015-01..2015-02 of the points with time.months = 2"]),
    "impossible_window_date": ({"kpis": [{"column": "mau", "agg": "mean", "window": {"start": "2015-13", "end": "2015-14"}}]},
                               ["kpis.0.window.start", "YYYY-MM"]),
    "huge_design": ({"design": {"kind": "lhs", "n": 2_000_000_000}}, ["design", "2,000,000,000 points", "of memory"]),
}


@pytest.mark.parametrize("case", sorted(SWEEP_CASES))
def test_bad_sweep_value(case, write_yaml, tmp_path, capsys):
    changes, expected = SWEEP_CASES[case]
    write_yaml(TINY, "tiny.yaml")
    path = write_yaml(yaml.safe_dump({**SWEEP, **changes}), "sweep.yaml")
    with pytest.raises(ScenarioError) as info:
        designs.build(load_sweep(path))
    for fragment in expected:
        assert fragment in str(info.value), info.value
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--quiet", "--workers", "1"]) == 2
    assert "Traceback" not in capsys.readouterr().err and not (tmp_path / "out").exists()


# ---------------------------------------------------------------- calibration files and data


CAL_DIR = ROOT / "scenarios" / "calibration"
HEADER = "period,metric,value,unit,source,note\n"
GOOD_ROWS = "2015-Q1,mau,100,millions,x,\n2015-Q2,mau,120,millions,x,\n2015-Q3,mau,130,millions,x,\n"


def calibration(tmp_path: Path, data: bytes | str, **changes) -> Path:
    (tmp_path / "data.csv").write_bytes(data if isinstance(data, bytes) else data.encode())
    spec = {"name": "cal", "base": str(CAL_DIR / "synthetic-base.yaml"), "data": "data.csv", "seed": 1, "trials": 2,
            "replicates": 1, "check_replicates": 2, "parameters": {"diffusion.q": {"low": 0.1, "high": 0.5}},
            "targets": {"mau": {"column": "mau"}}, **changes}
    path = tmp_path / "cal.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


CAL_CASES = {
    "empty": (b"", {}, ["data.csv", "file is empty"]),
    "header_only": (HEADER, {}, ["data.csv", "no observations"]),
    "not_utf8": (HEADER.encode() + b"2015-Q1,mau,\xff\xfe,millions,x,\n", {}, ["not UTF-8"]),
    "ragged_row": (HEADER + "2015-Q1,mau,100,millions\n", {}, ["line 2 has 4 fields, expected 6"]),
    "ragged_later_row": (HEADER + GOOD_ROWS + "2015-Q4,mau,100,millions,x,,extra\n", {}, ["line 5 has 7 fields"]),
    "not_a_number": (HEADER + "2015-Q1,mau,lots,millions,x,\n", {}, ["line 2", "'lots' is not a number"]),
    "infinite": (HEADER + GOOD_ROWS + "2015-Q4,mau,inf,millions,x,\n", {}, ["line 5", "not a finite number"]),
    "nan": (HEADER + "2015-Q1,mau,nan,millions,x,\n", {}, ["line 2", "not a number"]),
    "missing_column": ("period,metric,unit\n2015-Q1,mau,millions\n", {}, ["missing column(s) value"]),
    "zero_under_msre": (HEADER + GOOD_ROWS.replace(",120,", ",0,"), {"distance": "msre"},
                        ["targets.mau", "2015Q2 is 0", "msre"]),
    "all_zero_under_nrmse": (HEADER + GOOD_ROWS.replace(",100,", ",0,").replace(",120,", ",0,").replace(",130,", ",0,"),
                             {}, ["targets.mau", "every observation is 0"]),
    "negative_mau": (HEADER + GOOD_ROWS.replace(",120,", ",-120,"), {}, ["data.csv: line 3: 2015-Q2 mau is -120 millions",
                                                                          "cannot be negative"]),
    # a row no target reads (a year, where the target reads quarters) was accepted
    "negative_mau_unread": (HEADER + GOOD_ROWS + "2015,mau,-5,millions,x,\n", {}, ["line 5: 2015 mau is -5 millions"]),
    "negative_subscribers_unread": (HEADER + GOOD_ROWS + "2015-Q1,premium_subscribers,-1,millions,x,\n",
                                    {"unused_metrics": ["premium_subscribers"]}, ["line 5", "cannot be negative"]),
    "negative_revenue": (HEADER + GOOD_ROWS + "2015-Q1,revenue,-1,EUR millions,x,\n",
                         {"targets": {"mau": {"column": "mau"}, "revenue": {"column": "revenue_total_eur", "agg": "flow"}}},
                         ["targets.revenue", "2015Q1 is -1", "revenue_total_eur cannot be negative"]),
    "unknown_metric": (HEADER + GOOD_ROWS + "2015-Q1,mua,100,millions,x,\n", {},
                       ["data.csv: 2015-Q1 'mua': no target reads this metric; did you mean 'mau'?", "`unused_metrics`"]),
    "nan_parameter_bound": (HEADER + GOOD_ROWS, {"parameters": {"diffusion.q": {"low": float("nan"), "high": 0.5}}},
                            ["parameters.diffusion.q.low", "finite"]),
    "inf_weight": (HEADER + GOOD_ROWS, {"targets": {"mau": {"column": "mau", "weight": float("inf")}}},
                   ["targets.mau.weight", "finite"]),
}


@pytest.mark.parametrize("case", sorted(CAL_CASES))
def test_bad_calibration(case, tmp_path, capsys):
    data, changes, expected = CAL_CASES[case]
    path = calibration(tmp_path, data, **changes)
    with pytest.raises(ScenarioError) as info:
        load_calibration(path)
    message = str(info.value)
    for fragment in expected:
        assert fragment in message, message
    assert main(["calibrate", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = one_line(capsys.readouterr().err)
    assert "Traceback" not in err and len(err) <= MAX_LINE + 10 and not (tmp_path / "out").exists()


def test_calibration_data_must_be_a_regular_file(tmp_path):
    path = calibration(tmp_path, HEADER + GOOD_ROWS)
    (tmp_path / "data.csv").unlink()
    os.mkfifo(tmp_path / "data.csv")
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_calibration(path)


def test_good_calibration_data_loads(tmp_path):
    cal = load_calibration(calibration(tmp_path, HEADER + GOOD_ROWS))
    assert list(cal.targets[0].observed) == [100.0, 120.0, 130.0]
    # a metric no target reads is fine where the project's data has it or once listed; a negative amount of
    # money (a loss) is fine where no target reads it
    rows = HEADER + GOOD_ROWS + "2015-Q1,gross_profit,-3,EUR millions,x,\n2015-Q1,ebitda,-2,EUR millions,x,\n"
    assert load_calibration(calibration(tmp_path, rows, unused_metrics=["ebitda"])).targets[0].name == "mau"
    with pytest.raises(ScenarioError, match="2015-Q1 'ebitda': no target reads this metric"):
        load_calibration(calibration(tmp_path, rows))


# ---------------------------------------------------------------- calibration outputs a later command reads


MARKERS = {  # a calibration's result folder whose record of what the tool wrote there is damaged
    "truncated": ('{"package": "freemium-sim", "version": "0.1.0", "kind": "calibrate", "files": ["fit.j', "not readable JSON"),
    "foreign": ('{"name": "my-notebook", "files": []}', "not freemium-sim's"),
    "other_version": ('{"package": "freemium-sim", "version": "0.0.9", "kind": "calibrate"}',
                      "of freemium-sim 0.0.9 without the list of files"),
}


@pytest.mark.parametrize("command", ["calibrate", "backtest"])
@pytest.mark.parametrize("damage", sorted(MARKERS))
def test_a_result_folder_with_a_damaged_record_is_refused_and_kept(damage, command, tmp_path, capsys):
    """Rerunning calibrate (or backtest) into its folder replaces the earlier result only where the record lists
    what the tool wrote: an unreadable, foreign or other-version record once let the user's files be deleted."""
    path = calibration(tmp_path, HEADER + GOOD_ROWS)
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "fit.json").write_text('{"calibration": "cal"}')
    (out / "my-notes.txt").write_text("mine")
    text, expected = MARKERS[damage]
    (out / ".freemium-sim.json").write_text(text)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    extra = ["--until", "2015-06"] if command == "backtest" else []
    assert main([command, str(path), *extra, "--out", str(out), "--quiet", "--workers", "1"]) == 2
    err = one_line(capsys.readouterr().err)
    assert expected in err and "move the folder aside" in err and "nothing was changed" in err, err
    assert "Traceback" not in err and len(err) <= MAX_LINE + 10
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


POSTERIORS = {
    "truncated": ("diffusion.q,distance,weight\n0.3,0.1,0.5\n0.4,0.2", "line 3 is incomplete"),
    "garbage": ('"unclosed,\x00\n1,2', "posterior.csv"),
    "foreign": ("a,b\n1,2\n", "not a posterior.csv"),
    "empty": ("", "not a readable posterior.csv"),
    "text_weight": ("diffusion.q,weight\n0.3,heavy\n", "line 2 is incomplete or not a number"),
}


@pytest.mark.parametrize("damage", sorted(POSTERIORS))
def test_a_damaged_posterior_is_refused_in_one_line(damage, tmp_path):
    """``read_posterior`` (documented for code that draws from a fit) on a truncated, garbage or foreign file:
    one ScenarioError naming the file and saying to move it aside, not a pandas error or NaN parameters."""
    text, expected = POSTERIORS[damage]
    (tmp_path / "posterior.csv").write_text(text)
    with pytest.raises(ScenarioError) as info:
        read_posterior(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "posterior.csv") in message and expected in message, message
    assert "\n" not in message and ("move it aside" in message or "weight" in message)


def test_a_sound_posterior_is_read(tmp_path):
    (tmp_path / "posterior.csv").write_text("diffusion.q,services.focal.data_policy,distance,weight\n"
                                            "0.3,opt_in,0.1,0.25\n0.4,opt_out,0.2,0.75\n")
    frame = read_posterior(tmp_path)
    assert list(frame["weight"]) == [0.25, 0.75] and list(frame["services.focal.data_policy"]) == ["opt_in", "opt_out"]


def test_a_zero_observation_under_nrmse_is_fitted_without_a_numpy_warning():
    from sim.analysis.targets import series_fit

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "divide by zero" RuntimeWarning reached the terminal
        fit = series_fit(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0]))
    assert fit["nrmse"] == pytest.approx(np.sqrt(4 / 3) / (4 / 3)) and fit["msre"] == np.inf
