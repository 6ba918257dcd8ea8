"""Policy search: the known optimum of a synthetic problem, the Pareto front, resuming after SIGKILL,
and bad optimisation files (exit 2, key path, nothing written)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

from sim.analysis.optimize import kept_kpis, pareto_front, policy_scenario, prepare_folder, search, write_outputs
from sim.analysis.optimize_spec import load_optimization
from sim.cli import main
from sim.scenario import ScenarioError, load_scenario, scenario_to_yaml
from tests.helpers import ROOT, small_scenario

AD, PERS = "services.focal.ad_load", "services.focal.personalization"


def write_files(tmp_path, **changes):
    (tmp_path / "base.yaml").write_text(scenario_to_yaml(small_scenario({"time.months": 12, "market.agents": 1000})))
    spec = {"base": "base.yaml", "seed": 4, "replicates": 2, "trials": 40,
            "levers": {AD: {"low": 0.0, "high": 10.0}, PERS: {"low": 0.0, "high": 1.0}},
            "objectives": [{"column": "mau", "agg": "final", "direction": "maximize"}],
            "constraints": [{"column": "fill_rate", "agg": "final", "max": 0.25}], **changes}
    path = tmp_path / "opt.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_search_finds_the_known_optimum_under_a_constraint(tmp_path):
    """A synthetic problem on the real machinery (sampler, constraints, storage, outputs): the
    objective peaks at ad load 3 and personalisation 0.6, but the constraint (ad load / 10 <= 0.25)
    moves the optimum to ad load 2.5. Replicates share a noise term (common random numbers)."""
    opt = load_optimization(write_files(tmp_path))
    noise = np.array([0.3, -0.3])
    keys = [k.key for k in kept_kpis(opt)]

    def evaluate(params):
        ad, pers = (2.5, 0.6) if params is None else (params[AD], params[PERS])
        value = 100 - (ad - 3) ** 2 - 100 * (pers - 0.6) ** 2  # both levers matter alike over their ranges
        rows = {k: np.full(2, value) + noise if k == "mau_final" else np.full(2, ad / 10) for k in keys}
        return pd.DataFrame(rows, index=pd.RangeIndex(2, name="replicate"))

    out = tmp_path / "out"
    prepare_folder(opt, out)
    study = search(opt, out, evaluate)
    (best,) = pareto_front(opt, study.trials)
    # 40 TPE trials in two dimensions: within a few percent of each range of the optimum
    assert best.params[AD] == pytest.approx(2.5, abs=0.3) and best.params[AD] <= 2.5
    assert best.params[PERS] == pytest.approx(0.6, abs=0.1)
    result = write_outputs(opt, out, study)
    pareto = pd.read_csv(out / "pareto.csv")
    assert list(pareto.columns[:3]) == ["trial", AD, PERS]
    assert {"mau_final_mean", "mau_final_ci95_low", "mau_final_ci95_high"} <= set(pareto.columns)
    # the shared noise cancels in the mean; its interval is the t-interval of +-0.3
    assert pareto["mau_final_ci95_high"][0] - pareto["mau_final_mean"][0] == pytest.approx(12.706 * 0.3, rel=1e-3)
    (policy,) = (out / "policies").glob("*.yaml")
    scenario = load_scenario(policy)
    assert scenario.services.focal.ad_load == pytest.approx(best.params[AD])
    assert result["baseline"]["kpis"]["mau_final"]["mean"] == pytest.approx(100 - 0.25)
    assert (out / "figures" / "pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_pareto_front_keeps_the_non_dominated_feasible_policies(tmp_path):
    opt = load_optimization(write_files(tmp_path, objectives=[
        {"column": "mau", "agg": "final", "direction": "maximize"},
        {"column": "churn_premium_monthly", "agg": "mean", "direction": "minimize"}]))
    dist = {AD: optuna.distributions.FloatDistribution(0, 10), PERS: optuna.distributions.FloatDistribution(0, 1)}

    trials = [optuna.trial.create_trial(values=v, params={AD: 1.0, PERS: 0.5}, distributions=dist,
                                        user_attrs={"violations": [f]})
              for v, f in (([10, 0.05], -1), ([12, 0.06], -1), ([9, 0.06], -1), ([20, 0.01], 1), ([11, 0.04], -1))]
    front = pareto_front(opt, trials)
    # [9, 0.06] is dominated by [10, 0.05]; [20, 0.01] violates the constraint; [10, 0.05] by [11, 0.04]
    assert [list(t.values) for t in front] == [[12, 0.06], [11, 0.04]]


def test_dated_levers_become_timeline_events(tmp_path):
    opt = load_optimization(write_files(tmp_path, levers={AD: {"low": 1.0, "high": 5.0, "from": "2015-06"},
                                                          PERS: {"low": 0.0, "high": 1.0}}))
    s = policy_scenario(opt, {AD: 4.0, PERS: 0.2})
    assert s.services.focal.ad_load == opt.base.services.focal.ad_load and s.services.focal.personalization == 0.2
    assert s.timeline[-1].at == "2015-06" and s.timeline[-1].set == {AD: 4.0}


def completed(db) -> list[tuple]:
    """(number, datetime_complete) of the finished trials in an optuna SQLite storage."""
    try:
        with sqlite3.connect(db) as con:
            return con.execute("SELECT number, datetime_complete FROM trials WHERE state = 'COMPLETE' "
                               "ORDER BY number").fetchall()
    except sqlite3.OperationalError:  # optuna has not created its tables yet
        return []


@pytest.mark.slow
def test_optimize_resumes_after_sigkill_without_repeating_trials(tmp_path):
    path = write_files(tmp_path, trials=10, constraints=[])
    out = tmp_path / "out"
    command = [sys.executable, "-m", "sim.cli", "optimize", str(path), "--out", str(out), "--quiet"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = out / "study.db"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and (not db.exists() or len(completed(db)) < 3):
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = completed(db)
    assert 3 <= len(before) < 10, "kill the search mid-way"
    assert not (out / "pareto.csv").exists()
    assert subprocess.run(command, cwd=ROOT, capture_output=True, timeout=300).returncode == 0
    after = completed(db)
    assert len(after) == 10
    assert after[: len(before)] == before  # the finished trials were kept, not run again
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 10 and not trials[[AD, PERS]].duplicated().any()
    assert (out / "pareto.csv").exists() and list((out / "policies").iterdir())


@pytest.mark.slow
def test_optimize_stopped_by_sigterm_says_one_line_and_resumes(tmp_path):
    """A job scheduler's stop (SIGTERM) mid-search, with worker processes: one line, exit 143, no traceback and
    no "leaked semaphore" from multiprocessing's resource tracker; the study is kept and the same command resumes."""
    path = write_files(tmp_path, trials=6, constraints=[])
    out = tmp_path / "out"
    command = [sys.executable, "-m", "sim.cli", "optimize", str(path), "--out", str(out), "--quiet", "--workers", "2"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    db = out / "study.db"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and (not db.exists() or len(completed(db)) < 2):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=60)[1]
    before = completed(db)
    assert 2 <= len(before) < 6, "stop the search mid-way"
    assert proc.returncode == 143, err
    assert err.strip() == "terminated", err
    assert not (out / "pareto.csv").exists()
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    after = completed(db)
    assert len(after) == 6 and after[: len(before)] == before


@pytest.mark.parametrize("changes, expected", [
    ({"trails": 3}, ["opt.yaml", "trails: unknown key", "did you mean 'trials'"]),
    ({"levers": {"services.focal.ad_lod": {"low": 1, "high": 2}}},
     ["levers.services.focal.ad_lod", "did you mean 'services.focal.ad_load'"]),
    ({"levers": {AD: {"low": 1, "hihg": 2}}}, [f"levers.{AD}.hihg", "did you mean 'high'"]),
    ({"levers": {AD: {"low": 3, "high": 2}}}, [f"levers.{AD}", "low (3) must be below high (2)"]),
    ({"levers": {AD: {"low": 1, "high": 99}}}, [f"levers.{AD}.high", "outside the allowed range"]),
    ({"levers": {AD: {"low": 1, "high": 2, "from": "2031-01"}}}, [f"levers.{AD}.from", "outside the horizon"]),
    ({"levers": {"services.focal.data_policy": {"low": 0, "high": 1}}}, ["data_policy", "not a numeric parameter"]),
    ({"objectives": [{"column": "mau", "agg": "final", "direction": "maximise"}]},
     ["objectives.0.direction", "did you mean 'maximize'"]),
    ({"objectives": [{"column": "maus", "agg": "final", "direction": "maximize"}]},
     ["objectives.0.column", "did you mean 'mau'"]),
    ({"constraints": [{"column": "mau", "agg": "final"}]}, ["constraints.0", "needs `min` or `max`"]),
    ({"base": "missing.yaml"}, ["base", "not found"]),
])
def test_bad_optimisation_files_exit_2_and_write_nothing(tmp_path, capsys, changes, expected):
    path = write_files(tmp_path, **changes)
    out = tmp_path / "out"
    assert main(["optimize", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    for text in expected:
        assert text in err, (text, err)
    assert not out.exists()


def test_a_folder_holding_something_else_is_refused(tmp_path, capsys):
    path = write_files(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("x")
    assert main(["optimize", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "is not an optimize folder" in capsys.readouterr().err


def test_the_shipped_example_is_valid():
    opt = load_optimization(ROOT / "scenarios" / "optimize" / "price_ads.yaml")
    assert len(opt.spec.objectives) >= 2 and opt.spec.constraints


@pytest.mark.slow
def test_a_policy_gives_the_same_numbers_serial_and_in_worker_processes(tmp_path):
    from sim.analysis.optimize import model_evaluator

    opt = load_optimization(write_files(tmp_path, levers={AD: {"low": 1.0, "high": 5.0, "from": "2015-06"},
                                                          PERS: {"low": 0.0, "high": 1.0}}))
    params = {AD: 4.0, PERS: 0.3}
    with model_evaluator(opt, 1) as evaluate:
        serial = evaluate(params)
    with model_evaluator(opt, 2) as evaluate:
        parallel = evaluate(params)
    pd.testing.assert_frame_equal(serial, parallel)
    assert serial.index.tolist() == [0, 1] and serial["mau_final"].nunique() == 2  # two replicates, two seeds


def test_policy_files_carry_the_search_horizon_but_not_its_market_size(tmp_path):
    from sim.analysis.optimize import policy_yaml

    path = write_files(tmp_path, overrides={"market.agents": 500, "time.months": 18},
                       levers={AD: {"low": 1.0, "high": 5.0, "from": "2016-03"}, PERS: {"low": 0.0, "high": 1.0}})
    opt = load_optimization(path)
    trial = optuna.trial.create_trial(values=[1.0], params={AD: 4.0, PERS: 0.2}, distributions={
        AD: optuna.distributions.FloatDistribution(1, 5), PERS: optuna.distributions.FloatDistribution(0, 1)},
        user_attrs={"kpis": {"mau_final": {"mean": 1.0}}})
    (tmp_path / "policies").mkdir()
    policy = tmp_path / "policies" / "p.yaml"
    policy.write_text(policy_yaml(opt, trial, 1, tmp_path / "policies"))
    scenario = load_scenario(policy)  # valid: the 2016-03 event lies inside the 18-month horizon
    assert scenario.time.months == 18 and scenario.market.agents == 1000  # the base file's size
    assert scenario.services.focal.personalization == 0.2 and scenario.timeline[-1].set == {AD: 4.0}
    assert '"market.agents": 500' in policy.read_text()


def test_policy_files_of_a_shorter_horizon_validate_and_give_the_pareto_numbers_again(tmp_path):
    """The search cuts the horizon before one of the base's timeline events: its policy files, like
    `run --set time.months`, leave that event out, validate, and rerun to the numbers of pareto.csv."""
    from sim.analysis.optimize import PolicyRun, run_policy_replicate
    from sim.runner import replicate_seeds
    from sim.scenario import apply_overrides

    base = small_scenario({"time.months": 12, "market.agents": 1000}).model_dump(mode="json")
    base["timeline"] = [{"at": "2015-10", "set": {"services.focal.plans.individual.price": 12.99}}]
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    spec = {"base": "base.yaml", "seed": 4, "replicates": 2, "trials": 3, "overrides": {"time.months": 6, "market.agents": 600},
            "levers": {AD: {"low": 1.0, "high": 5.0}},
            "objectives": [{"column": "mau", "agg": "final", "direction": "maximize"},
                           {"column": "revenue_ads_eur", "agg": "cumulative", "direction": "maximize"}]}
    (tmp_path / "opt.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    out = tmp_path / "out"
    assert main(["optimize", str(tmp_path / "opt.yaml"), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    opt = load_optimization(tmp_path / "opt.yaml")
    pareto = pd.read_csv(out / "pareto.csv")
    policies = sorted((out / "policies").glob("*.yaml"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    assert len(policies) == len(pareto) > 0
    for path, (_, row) in zip(policies, pareto.iterrows()):
        assert main(["validate", str(path)]) == 0
        scenario = apply_overrides(load_scenario(path), {"market.agents": 600})  # as the file's note says
        assert scenario.timeline == [] and scenario.time.months == 6
        runs = [run_policy_replicate(PolicyRun(r, scenario, s, kept_kpis(opt)))
                for r, s in enumerate(replicate_seeds(scenario.seed, scenario.replicates))]
        for o in opt.spec.objectives:
            assert np.mean([r[o.key] for r in runs]) == pytest.approx(row[f"{o.key}_mean"], rel=1e-12)


def test_pareto_figure_is_drawn_in_objective_space_with_the_dominated_in_grey(tmp_path):
    """Two objectives to maximise: the red points are the front, and no plotted point dominates one of them."""
    from sim.analysis.optimize import pareto_figure

    spec = {"objectives": [{"column": "mau", "agg": "final", "direction": "maximize"},
                           {"column": "gross_profit_eur", "agg": "cumulative", "direction": "maximize"}]}
    opt = load_optimization(write_files(tmp_path, **spec))
    a, b = "mau_final_mean", "gross_profit_eur_cumulative_mean"
    rows = pd.DataFrame({"trial": range(5), a: [1e6, 2e6, 3e6, 1.5e6, 2.5e6], b: [9e8, 5e8, 1e8, 4e8, 1.5e8],
                         "feasible": [True, True, True, True, False]})
    front = rows[rows["trial"].isin([0, 1, 2])].reset_index(drop=True)
    baseline = {"kpis": {"mau_final": {"mean": 1.2e6}, "gross_profit_eur_cumulative": {"mean": 3e8}}}
    ax = pareto_figure(opt, rows, front, baseline).axes[0]
    grey, crosses, red = (c.get_offsets() for c in ax.collections[:3])
    assert np.allclose(red, front[[a, b]].to_numpy() / [1e6, 1e6])  # M people, M EUR: the objectives themselves
    assert len(grey) == 1 and len(crosses) == 1  # trial 3 dominated, trial 4 infeasible
    for point in red:
        assert not any(np.all(other >= point) and np.any(other > point) for other in np.vstack([grey, red]))
    assert "mau_final (maximize), M people" == ax.get_xlabel()


def _quick_search(tmp_path):
    """A finished 3-trial search of a synthetic evaluator in tmp_path/out; (optimisation, out)."""
    opt = load_optimization(write_files(tmp_path, trials=3))
    keys = [k.key for k in kept_kpis(opt)]

    def evaluate(params):
        return pd.DataFrame({k: np.full(2, 1.0 if params is None else params[AD]) for k in keys},
                            index=pd.RangeIndex(2, name="replicate"))

    out = tmp_path / "out"
    prepare_folder(opt, out)
    search(opt, out, evaluate)
    return opt, out, evaluate


@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign", "other_version"])
def test_a_damaged_study_is_refused_with_one_line_and_kept(tmp_path, damage):
    opt, out, evaluate = _quick_search(tmp_path)
    db = out / "study.db"
    if damage == "truncated":
        db.write_bytes(db.read_bytes()[:3000])
    elif damage == "garbage":
        db.write_bytes(b"\x00garbage\xff" * 500)
    elif damage == "foreign":
        db.unlink()
        with sqlite3.connect(db) as con:
            con.execute("CREATE TABLE songs (title TEXT)")
    else:
        with sqlite3.connect(db) as con:
            con.execute("UPDATE version_info SET schema_version = 1, library_version = '0.1.0'")
            con.execute("DELETE FROM alembic_version")
            con.execute("INSERT INTO alembic_version VALUES ('v0.0.0')")
    before = db.read_bytes()
    with pytest.raises(ScenarioError, match=r"study.db: .*(not a readable Optuna study|not an Optuna study).*move it aside"):
        search(opt, out, evaluate)
    assert db.read_bytes() == before  # never silently replaced


@pytest.mark.parametrize("damage", ["empty", "deleted"])
def test_an_empty_or_deleted_study_starts_a_new_search_and_says_so(tmp_path, damage):
    opt, out, evaluate = _quick_search(tmp_path)
    db = out / "study.db"
    db.write_bytes(b"") if damage == "empty" else db.unlink()
    said = []
    prepare_folder(opt, out, notice=said.append)  # the command's resume
    study = search(opt, out, evaluate, notice=said.append)
    assert len(study.trials) == 3
    assert said == [f"{db} is empty: a new search starts in it" if damage == "empty"
                    else f"{db} is missing: a new search starts (the trials of the earlier one are not in it)"]
