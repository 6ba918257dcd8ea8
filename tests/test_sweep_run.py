"""Running sweeps: same results on any executor, resume after SIGKILL, failures recorded and retried."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.cli import main
from sim.sweep.run import run_sweep

ROOT = Path(__file__).resolve().parents[1]


def write_sweep(tmp_path: Path, name: str = "tiny", agents: int = 2000, months: int = 6, **sweep) -> Path:
    """A small sweep file over a tiny base scenario (values of ``sweep`` replace the defaults)."""
    (tmp_path / "base.yaml").write_text(f"name: tiny\nmarket: {{agents: {agents}}}\ntime: {{months: {months}}}\n")
    spec = {"name": name, "base": "base.yaml", "seed": 11, "replicates": 2, "design": {"kind": "lhs", "n": 5},
            "parameters": {"services.focal.plans.individual.price": {"low": 6.99, "high": 12.99},
                           "services.focal.ad_load": {"low": 1.0, "high": 6.0},
                           "services.focal.trial_months": {"levels": [0, 1, 3]}},
            "kpis": [{"column": "revenue_total_eur", "agg": "cumulative"},
                     {"column": "premium_subscribers", "agg": "final"},
                     {"column": "mau", "agg": "mean", "window": {"start": "2015-03", "end": "2015-06"}}]}
    spec.update(sweep)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def comparable(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs table without wall times, in run_id order."""
    return runs.drop(columns="seconds").sort_values("run_id", ignore_index=True)


def cli(*args: str, **kwargs) -> subprocess.Popen:
    """``freemium-sim ARGS`` in its own process (to be killed)."""
    return subprocess.Popen([sys.executable, "-m", "sim.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def part_times(out: Path) -> dict[str, int]:
    """Modification time of every recorded run's part file, by file name."""
    return {p.name: p.stat().st_mtime_ns for p in (out / "parts").glob("*.parquet")}


@pytest.mark.slow
def test_results_do_not_depend_on_the_executor(tmp_path):
    sweep = write_sweep(tmp_path)
    one = run_sweep(sweep, workers=1, out=tmp_path / "one")
    assert len(one) == 5 * 2 and set(one["status"]) == {"ok"}
    assert one[["revenue_total_eur_cumulative", "premium_subscribers_final"]].gt(0).all().all()
    two = run_sweep(sweep, workers=2, out=tmp_path / "two")
    dask = run_sweep(sweep, executor="dask", workers=2, out=tmp_path / "dask")
    pd.testing.assert_frame_equal(comparable(one), comparable(two))
    pd.testing.assert_frame_equal(comparable(one), comparable(dask))
    # replicates of a point differ (own seeds), points differ (own values)
    # (cumulative revenue: a continuous figure, where a final head count of a tiny market may tie)
    assert one.groupby("point")["revenue_total_eur_cumulative"].nunique().eq(2).all()


@pytest.mark.slow
def test_resume_after_sigkill_runs_each_run_exactly_once(tmp_path):
    sweep = write_sweep(tmp_path, agents=10000, design={"kind": "lhs", "n": 12})
    out = tmp_path / "out"
    proc = cli("sweep", str(sweep), "--workers", "1", "--out", str(out), "--quiet", start_new_session=True)
    deadline = time.monotonic() + 120
    while len(part_times(out)) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)  # the orchestrator and its workers, mid-sweep
    proc.wait()
    first = part_times(out)
    assert 3 <= len(first) < 24, "the sweep was not interrupted part-way"

    assert main(["sweep", str(sweep), "--workers", "2", "--out", str(out), "--quiet"]) == 0
    runs = pd.read_parquet(out / "runs.parquet")
    assert runs["run_id"].is_unique and len(runs) == 24 and set(runs["status"]) == {"ok"}
    assert {k: v for k, v in part_times(out).items() if k in first} == first  # recorded runs were not rerun
    fresh = run_sweep(sweep, workers=2, out=tmp_path / "fresh")
    pd.testing.assert_frame_equal(comparable(runs), comparable(fresh))


@pytest.mark.slow
def test_failed_runs_are_recorded_and_retried_alone(tmp_path):
    # a family plan of 2 seats with 3.2 users per account is invalid: only that combination fails
    sweep = write_sweep(tmp_path, design={"kind": "grid"}, replicates=1, parameters={
        "services.focal.plans.family.seats": {"levels": [2, 6]},
        "services.focal.plans.family.users_per_account": {"levels": [1.5, 3.2]}})
    args = ["sweep", str(sweep), "--workers", "1", "--out", str(tmp_path / "out"), "--quiet"]
    assert main(args) == 1  # some runs failed
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet")
    failed = runs[runs["status"] == "failed"]
    assert len(runs) == 4 and len(failed) == 1
    assert failed["services.focal.plans.family.seats"].item() == 2
    assert "users_per_account" in failed["error"].item() and failed["revenue_total_eur_cumulative"].isna().all()
    before = part_times(tmp_path / "out")

    assert main(args) == 1
    assert part_times(tmp_path / "out") == before  # nothing rerun
    assert main([*args, "--retry-failed"]) == 1
    after = part_times(tmp_path / "out")
    assert {name for name in before if after[name] != before[name]} == {f"{rid}.parquet" for rid in failed["run_id"]}


def test_a_changed_sweep_is_refused_on_resume(tmp_path, capsys):
    sweep = write_sweep(tmp_path, design={"kind": "lhs", "n": 2}, replicates=1)
    out = tmp_path / "out"
    run_sweep(sweep, workers=1, out=out)
    write_sweep(tmp_path, design={"kind": "lhs", "n": 2}, replicates=1, seed=12)
    assert main(["sweep", str(sweep), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "different sweep" in err and "sweep.seed" in err


@pytest.mark.parametrize("args, expected", [
    (["--workers", "0"], "--workers: must be at least 1"),
    (["--scheduler", "tcp://localhost:8786"], "add --executor dask"),
    (["--executor", "dask", "--scheduler", "no-port"], "--scheduler: cannot connect to no-port"),
])
def test_bad_options_exit_2(tmp_path, capsys, args, expected):
    assert main(["sweep", str(write_sweep(tmp_path)), "--out", str(tmp_path / "out"), *args]) == 2
    assert expected in capsys.readouterr().err


def test_bad_sweep_file_exits_2_naming_the_key_path(tmp_path):
    bad = write_sweep(tmp_path, design={"kind": "sobol", "n": 6})
    proc = cli("sweep", str(bad), "--out", str(tmp_path / "out"))
    assert proc.wait(timeout=120) == 2
    err = proc.stderr.read()
    assert f"{bad}: design: Sobol' sampling needs n a power of 2 (got 6" in err and "Traceback" not in err


@pytest.mark.slow
def test_sobol_sweep_to_sensitivity_end_to_end(tmp_path, capsys):
    # personalization cannot change anything when the mechanism is off: a dummy parameter
    sweep = write_sweep(tmp_path, name="sobol", design={"kind": "sobol", "n": 8}, replicates=2,
                        common_random_numbers=True, overrides={"mechanisms.personalization.enabled": False},
                        parameters={"services.focal.plans.individual.price": {"low": 6.99, "high": 12.99},
                                    "services.focal.ad_load": {"low": 1.0, "high": 6.0},
                                    "services.focal.personalization": {"low": 0.0, "high": 1.0}})
    out = tmp_path / "out"
    run_sweep(sweep, workers=2, out=out)
    assert main(["sensitivity", str(out)]) == 0
    assert "services.focal.personalization" in capsys.readouterr().out
    result = json.loads((out / "sensitivity.json").read_text())
    assert result["method"] == "sobol" and result["parameters"][2] == "services.focal.personalization"
    for kpi, by_param in result["kpis"].items():
        for p, si in by_param.items():
            assert all(v is not None for v in si.values()), (kpi, p, si)
            assert -1 - si["S1_conf"] <= si["S1"] <= 1 + si["S1_conf"]
            assert -si["ST_conf"] <= si["ST"] <= 1.5 + si["ST_conf"]
        dummy = by_param["services.focal.personalization"]
        assert abs(dummy["ST"]) <= dummy["ST_conf"], (kpi, dummy)
        assert (out / "figures" / f"sensitivity-{kpi}.png").stat().st_size > 10_000


def test_kept_series_and_their_envelopes(tmp_path, capsys):
    from sim.cli import main

    sweep = write_sweep(tmp_path, design={"kind": "lhs", "n": 3}, keep=["premium_subscribers", "ad_revenue_share"])
    out = tmp_path / "out"
    assert main(["sweep", str(sweep), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    series = pd.read_parquet(out / "series.parquet")
    runs = pd.read_parquet(out / "runs.parquet")
    assert list(series.columns) == ["run_id", "point", "replicate", "date", "premium_subscribers", "ad_revenue_share"]
    assert len(series) == 6 * 6  # 3 points x 2 replicates x 6 months
    # a run's kept series ends where its final KPI is read
    last = series.sort_values("date").groupby("run_id").last()["premium_subscribers"]
    assert np.allclose(last.to_numpy(), runs.set_index("run_id")["premium_subscribers_final"].loc[last.index].to_numpy())
    assert (out / "figures" / "envelopes.png").read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "b").mkdir()
    bad = write_sweep(tmp_path / "b", keep=["premium_subscriber"])
    assert main(["sweep", str(bad), "--out", str(tmp_path / "bad"), "--quiet"]) == 2
    assert "keep.0: unknown timeseries column 'premium_subscriber'; did you mean 'premium_subscribers'" in \
        capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
