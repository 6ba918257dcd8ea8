"""Sensitivity analysis: checked against analytic indices (Ishigami, linear models), then end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.analysis.sensitivity import analyze, design_warnings, noise_share, point_means, sensitivity
from sim.cli import main
from sim.sweep import designs
from sim.sweep.spec import SweepSpec, load_sweep
from sim.sweep.store import SweepStore, run_id

PI = math.pi


def toy_spec(kind: str, n: int, bounds: dict[str, tuple[float, float]], **design) -> SweepSpec:
    return SweepSpec.model_validate({
        "name": "toy", "base": "unused.yaml", "seed": 3, "design": {"kind": kind, "n": n, **design},
        "parameters": {k: {"low": lo, "high": hi} for k, (lo, hi) in bounds.items()},
        "kpis": [{"column": "mau", "agg": "final"}]})


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_matches_the_ishigami_analytic_indices():
    # Analytic values for a=7, b=0.1 (Ishigami & Homma 1990; Sobol' & Levitan 1999)
    v = 7**2 / 8 + 0.1 * PI**4 / 5 + 0.1**2 * PI**8 / 18 + 0.5
    v1 = 0.5 * (1 + 0.1 * PI**4 / 5) ** 2
    v2 = 7**2 / 8
    v13 = 0.1**2 * PI**8 * (1 / 18 - 1 / 50)
    s1 = np.array([v1, v2, 0]) / v
    st = np.array([v1 + v13, v2, v13]) / v
    spec = toy_spec("sobol", 2048, {"x1": (-PI, PI), "x2": (-PI, PI), "x3": (-PI, PI)})
    x = designs.sample(spec)
    si = analyze(spec, x, ishigami(x))
    # 3 CI half-widths: about 4.6 standard errors of the bootstrap
    assert np.all(np.abs(si["S1"] - s1) <= 3 * si["S1_conf"]), (si["S1"], s1, si["S1_conf"])
    assert np.all(np.abs(si["ST"] - st) <= 3 * si["ST_conf"]), (si["ST"], st, si["ST_conf"])


ISHIGAMI_S1 = np.array([0.5 * (1 + 0.1 * PI**4 / 5) ** 2, 7**2 / 8, 0]) / (
    7**2 / 8 + 0.1 * PI**4 / 5 + 0.1**2 * PI**8 / 18 + 0.5)


def test_rbd_fast_on_an_lhs_sweep_matches_the_ishigami_first_order_indices():
    spec = toy_spec("lhs", 1000, {"x1": (-PI, PI), "x2": (-PI, PI), "x3": (-PI, PI)})
    x = designs.sample(spec)
    si = analyze(spec, x, ishigami(x), "rbd_fast", resamples=200)
    assert np.all(np.abs(si["S1"] - ISHIGAMI_S1) <= 3 * si["S1_conf"]), (si["S1"], si["S1_conf"])
    assert design_warnings("rbd_fast", si, ["x1", "x2", "x3"], 1000, False) == []


@pytest.mark.slow
def test_delta_on_an_lhs_sweep_sees_the_interaction_that_s1_misses():
    """x3 acts on the Ishigami function only through its interaction with x1: its first-order
    index is 0, its moment-independent delta is not (Borgonovo 2007)."""
    spec = toy_spec("lhs", 1000, {"x1": (-PI, PI), "x2": (-PI, PI), "x3": (-PI, PI)})
    x = designs.sample(spec)
    si = analyze(spec, x, ishigami(x), "delta", resamples=20)
    assert np.all(np.abs(si["S1"] - ISHIGAMI_S1) <= 3 * si["S1_conf"]), (si["S1"], si["S1_conf"])
    assert np.all(si["delta"] > 3 * si["delta_conf"])  # x3 too, whose S1 is 0


def test_a_sobol_design_too_small_is_flagged_with_the_n_that_would_do():
    spec = toy_spec("sobol", 8, {"x1": (-PI, PI), "x2": (-PI, PI), "x3": (-PI, PI)})
    x = designs.sample(spec)
    names = ["x1", "x2", "x3"]
    (warning,) = design_warnings("sobol", analyze(spec, x, ishigami(x), resamples=200), names, 8, True)
    assert "design too small for sobol indices (n = 8)" in warning and "wider than the estimate" in warning
    need = int(warning.split("About n = ")[1].split()[0])
    assert need > 8 and need & (need - 1) == 0  # a power of 2, as Saltelli's sample needs
    # with the n it advised, the warning is gone
    spec = toy_spec("sobol", need, {"x1": (-PI, PI), "x2": (-PI, PI), "x3": (-PI, PI)})
    x = designs.sample(spec)
    assert design_warnings("sobol", analyze(spec, x, ishigami(x), resamples=200), names, need, True) == []
    # S1 above ST is named
    fake = {"S1": np.array([1.22, 0.1]), "S1_conf": np.array([0.01, 0.01]), "ST": np.array([1.07, 0.1]),
            "ST_conf": np.array([0.01, 0.01])}
    (warning,) = design_warnings("sobol", fake, ["a", "b"], 8, True)
    assert "S1 > ST for a" in warning and "outside [0, 1]" in warning


def test_sobol_gives_an_ignored_input_a_total_index_whose_ci_holds_zero():
    spec = toy_spec("sobol", 256, {"price": (5, 15), "ad_load": (0, 10), "unused": (0, 1)})
    x = designs.sample(spec)
    si = analyze(spec, x, 3 * x[:, 0] - x[:, 1] + 0.1 * x[:, 0] * x[:, 1])
    assert all(np.isfinite(v).all() for v in si.values())
    assert abs(si["ST"][2]) <= si["ST_conf"][2] and abs(si["S1"][2]) <= si["S1_conf"][2]
    assert np.all(si["ST"] >= -si["ST_conf"]) and np.all(si["ST"] <= 1 + si["ST_conf"])
    assert si["ST"][0] > si["ST"][1] > si["ST_conf"][1]


def test_noise_share_is_the_floor_of_total_indices():
    """With independent noise per point, an ignored input's ST estimates the noise share."""
    spec = toy_spec("sobol", 1024, {"price": (5, 15), "unused": (0, 1)})
    x = designs.sample(spec)
    replicates = 4
    rng = np.random.default_rng(0)
    noisy = (2 * x[:, 0])[:, None] + rng.normal(0, 3.0, (len(x), replicates))
    runs = pd.DataFrame({"point": np.repeat(np.arange(len(x)), replicates), "kpi": noisy.ravel(), "status": "ok"})
    si = analyze(spec, x, point_means(runs, "kpi", len(x)))
    share = noise_share(runs, "kpi")
    # var of a point mean: 9/4; var of the signal: 4 * 100/12
    expected = (9 / 4) / (400 / 12 + 9 / 4)
    assert abs(share - expected) < 0.1 * expected
    assert abs(si["ST"][1] - share) <= 3 * si["ST_conf"][1]


def test_morris_elementary_effects_of_a_linear_model():
    spec = toy_spec("morris", 20, {"a": (0, 1), "b": (0, 2), "unused": (0, 1)})
    x = designs.sample(spec)
    si = analyze(spec, x, 2 * x[:, 0] + 3 * x[:, 1])
    # an elementary effect is the change over the whole range: 2 x 1 and 3 x 2; linear => no spread
    np.testing.assert_allclose(si["mu_star"], [2, 6, 0], atol=1e-9)
    np.testing.assert_allclose(si["sigma"], [0, 0, 0], atol=1e-9)


def test_constant_kpi_gives_undefined_indices():
    spec = toy_spec("sobol", 8, {"a": (0, 1), "b": (0, 1)})
    si = analyze(spec, designs.sample(spec), np.ones(8 * 4))
    assert all(np.isnan(v).all() for v in si.values())


def test_point_means_average_successful_replicates_only():
    runs = pd.DataFrame({"point": [0, 0, 1, 1, 2], "kpi": [1.0, 3.0, 5.0, math.nan, math.nan],
                         "status": ["ok", "ok", "ok", "failed", "failed"]})
    np.testing.assert_array_equal(point_means(runs, "kpi", 3), [2.0, 5.0, math.nan])


def test_sensitivity_of_a_morris_sweep_folder(tmp_path, capsys):
    """The whole path from a sweep folder: spec from sweep.json, design check, replicate means, outputs.

    The runs are written straight into the store with a KPI that is a known function
    of the design (no simulation), so the ranking is known exactly.
    """
    (tmp_path / "base.yaml").write_text("name: tiny\nmarket: {agents: 2000}\ntime: {months: 6}\n")
    (tmp_path / "m.yaml").write_text(yaml.safe_dump({
        "base": "base.yaml", "seed": 5, "replicates": 2, "design": {"kind": "morris", "n": 10},
        "parameters": {"services.focal.ad_load": {"low": 0.0, "high": 10.0},
                       "services.focal.trial_months": {"levels": [0, 1, 2, 3]},
                       "services.focal.personalization": {"low": 0.0, "high": 1.0}},
        "kpis": [{"column": "mau", "agg": "final"}]}))
    sweep = load_sweep(tmp_path / "m.yaml")
    design = designs.build(sweep)
    store = SweepStore(tmp_path / "out", ["mau_final"])
    store.prepare(sweep.resolved(), design.values)
    v = design.values
    for point in range(len(v)):
        for r in range(2):  # replicate noise of +-1 averages out exactly
            kpi = 5 * v["services.focal.ad_load"][point] + 1 * v["services.focal.trial_months"][point] + (-1) ** r
            store.write_part({"run_id": run_id(point, r, len(v), 2), "point": point, "replicate": r,
                              "mau_final": kpi, "status": "ok", "error": None, "seconds": 0.0})
    store.consolidate(v)

    assert main(["sensitivity", str(tmp_path / "out")]) == 0
    result = json.loads((tmp_path / "out" / "sensitivity.json").read_text())
    mu_star = {p: si["mu_star"] for p, si in result["kpis"]["mau_final"].items()}
    assert mu_star["services.focal.ad_load"] == pytest.approx(50)  # 5 per unit over a range of 10
    assert mu_star["services.focal.personalization"] == 0
    assert 0 < mu_star["services.focal.trial_months"] < 50
    assert (tmp_path / "out" / "figures" / "sensitivity-mau_final.png").exists()
    assert "services.focal.ad_load" in capsys.readouterr().out


def test_sensitivity_refuses_a_method_the_design_lacks_and_an_unfinished_sweep(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text("name: tiny\nmarket: {agents: 2000}\ntime: {months: 6}\n")
    spec = {"base": "base.yaml", "seed": 5, "design": {"kind": "grid"},
            "parameters": {"services.focal.ad_load": {"levels": [1.0, 2.0]}}, "kpis": [{"column": "mau", "agg": "final"}]}
    (tmp_path / "g.yaml").write_text(yaml.safe_dump(spec))
    sweep = load_sweep(tmp_path / "g.yaml")
    SweepStore(tmp_path / "grid", ["mau_final"]).prepare(sweep.resolved(), designs.build(sweep).values)
    assert main(["sensitivity", str(tmp_path / "grid"), "--method", "sobol"]) == 2
    assert "--method: sobol does not fit the grid design" in capsys.readouterr().err
    assert main(["sensitivity", str(tmp_path / "grid"), "--kpi", "mau_finl"]) == 2
    assert "--kpi: " in (err := capsys.readouterr().err) and "did you mean 'mau_final'" in err
    assert main(["sensitivity", str(tmp_path / "grid"), "--resamples", "0"]) == 2
    assert "--resamples: must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "grid" / "sensitivity.json").exists()

    (tmp_path / "s.yaml").write_text(yaml.safe_dump({**spec, "design": {"kind": "sobol", "n": 2}}))
    sweep = load_sweep(tmp_path / "s.yaml")
    store = SweepStore(tmp_path / "sobol", ["mau_final"])
    store.prepare(sweep.resolved(), designs.build(sweep).values)
    store.consolidate(designs.build(sweep).values)
    assert main(["sensitivity", str(tmp_path / "sobol")]) == 2
    assert "have no successful run" in capsys.readouterr().err
    assert main(["sensitivity", str(tmp_path)]) == 2
    assert "not a sweep folder" in capsys.readouterr().err


def lhs_folder(tmp_path, n: int):
    """An LHS sweep folder of ``n`` points, mau_final = 3 x ad load and free_users_final = 1, written straight into the store."""
    (tmp_path / "base.yaml").write_text("name: tiny\nmarket: {agents: 2000}\ntime: {months: 6}\n")
    (tmp_path / "l.yaml").write_text(yaml.safe_dump({
        "base": "base.yaml", "seed": 5, "replicates": 1, "design": {"kind": "lhs", "n": n},
        "parameters": {"services.focal.ad_load": {"low": 0.0, "high": 10.0},
                       "services.focal.personalization": {"low": 0.0, "high": 1.0}},
        "kpis": [{"column": "mau", "agg": "final"}, {"column": "free_users", "agg": "final"}]}))
    sweep = load_sweep(tmp_path / "l.yaml")
    design = designs.build(sweep)
    store = SweepStore(tmp_path / "out", ["mau_final", "free_users_final"])
    store.prepare(sweep.resolved(), design.values)
    v = design.values
    for point in range(len(v)):
        store.write_part({"run_id": run_id(point, 0, len(v), 1), "point": point, "replicate": 0,
                          "mau_final": 3 * v["services.focal.ad_load"][point], "free_users_final": 1.0,
                          "status": "ok", "error": None, "seconds": 0.0})
    store.consolidate(v)


def test_a_one_point_sweep_is_refused_and_a_constant_kpi_warned(tmp_path, capsys):
    # all "n/a" with exit 0 and no word said
    lhs_folder(tmp_path, 1)
    assert main(["sensitivity", str(tmp_path / "out")]) == 2
    assert "1 design point; sensitivity apportions the variation between points" in capsys.readouterr().err
    (tmp_path / "more").mkdir()
    lhs_folder(tmp_path / "more", 64)
    result = sensitivity(tmp_path / "more" / "out", kpis=["free_users_final"], resamples=10)
    assert result["warnings"]["free_users_final"][-1].startswith("free_users_final is 1 at every design point")


def test_sensitivity_of_an_lhs_sweep_folder(tmp_path, capsys):
    """An LHS sweep (no Sobol' or Morris sample) gets RBD-FAST by default, and delta on request."""
    lhs_folder(tmp_path, 300)
    assert main(["sensitivity", str(tmp_path / "out"), "--kpi", "mau_final", "--resamples", "100"]) == 0
    result = json.loads((tmp_path / "out" / "sensitivity.json").read_text())
    assert result["method"] == "rbd_fast" and list(result["kpis"]) == ["mau_final"]
    s1 = result["kpis"]["mau_final"]
    assert s1["services.focal.ad_load"]["S1"] == pytest.approx(1.0, abs=0.05)
    assert abs(s1["services.focal.personalization"]["S1"]) < 0.05
    assert result["warnings"]["mau_final"] == []
    assert (tmp_path / "out" / "figures" / "sensitivity-mau_final.png").exists()
    assert main(["sensitivity", str(tmp_path / "out"), "--method", "morris"]) == 2
    assert "--method: morris does not fit the lhs design" in capsys.readouterr().err


def test_a_small_design_warns_for_every_kpi_and_its_intervals_stay_in_0_1():
    """RBD-FAST at n = 48: intervals near +-1 for a strong and for a weak KPI alike. Each KPI gets the warning with
    the n that would do, and the reported bounds are clipped to [0, 1] (a share cannot be negative)."""
    from sim.analysis.sensitivity import clipped_bounds

    spec = toy_spec("lhs", 48, {"x1": (-PI, PI), "x2": (-PI, PI), "x3": (-PI, PI)})
    x = designs.sample(spec)
    names = ["x1", "x2", "x3"]
    for y in (ishigami(x), x[:, 0] + 0.1 * np.random.default_rng(1).normal(size=len(x))):
        si = analyze(spec, x, y, "rbd_fast", resamples=200)
        (warning,) = design_warnings("rbd_fast", si, names, 48, False)
        assert "design too small for rbd_fast indices (n = 48)" in warning and "About n = " in warning
        bounds = clipped_bounds("rbd_fast", si)
        assert np.all((bounds["S1_low"] >= 0) & (bounds["S1_high"] <= 1) & (bounds["S1_low"] <= bounds["S1_high"]))
        assert np.any(si["S1"] - si["S1_conf"] < 0)  # what the clipping is for
