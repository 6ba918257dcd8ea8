"""Sweep files and their designs: sizes, bounds, and one clear message for each user mistake."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.scenario import ScenarioError
from sim.sweep import designs
from sim.sweep.spec import SweepSpec, load_sweep

PARAMS = {
    "services.focal.ad_load": {"low": 1.0, "high": 6.0},
    "services.focal.marketing_budget": {"low": 1e6, "high": 1e8, "distribution": "loguniform"},
    "services.focal.trial_months": {"low": 0, "high": 3},
    "services.focal.wrapped": {"levels": [True, False]},
}
KPIS = [{"column": "revenue_total_eur", "agg": "cumulative"}]


def write_sweep(tmp_path: Path, **changes) -> Path:
    """A valid sweep file over a tiny base scenario, with top-level keys replaced by ``changes``."""
    (tmp_path / "base.yaml").write_text("name: tiny\nmarket: {agents: 2000}\ntime: {months: 6}\n")
    sweep = {"base": "base.yaml", "seed": 7, "replicates": 2, "design": {"kind": "lhs", "n": 10},
             "parameters": PARAMS, "kpis": KPIS}
    sweep.update(changes)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in sweep.items() if v is not None}, sort_keys=False))
    return path


@pytest.mark.parametrize("design, expected", [
    ({"kind": "grid", "grid_levels": 3}, 3 * 3 * 3 * 2),
    ({"kind": "lhs", "n": 10}, 10),
    ({"kind": "sobol", "n": 8}, 8 * (4 + 2)),
    ({"kind": "sobol", "n": 8, "second_order": True}, 8 * (2 * 4 + 2)),
    ({"kind": "morris", "n": 5}, 5 * (4 + 1)),
])
def test_design_size_and_bounds(tmp_path, design, expected):
    sweep = load_sweep(write_sweep(tmp_path, design=design))
    d = designs.build(sweep)
    assert len(d.values) == len(d.x) == designs.expected_points(sweep.spec) == expected
    assert list(d.values.columns) == list(PARAMS)
    for path, p in PARAMS.items():
        col = d.values[path]
        if "levels" in p:
            assert set(col) <= set(p["levels"]) and col.nunique() == len(p["levels"])
        else:
            assert col.min() >= p["low"] and col.max() <= p["high"]
    assert d.values["services.focal.trial_months"].dtype == np.int64
    assert sweep.integer_parameters == {"services.focal.trial_months"}


def test_grid_is_the_product_of_levels(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, design={"kind": "grid", "grid_levels": 2}, parameters={
        "services.focal.plans.individual.price": {"levels": [7.99, 9.99, 11.99]},
        "services.focal.ad_load": {"low": 1.0, "high": 5.0}}))
    values = designs.build(sweep).values
    pairs = set(zip(values["services.focal.plans.individual.price"], values["services.focal.ad_load"]))
    assert pairs == {(p, a) for p in (7.99, 9.99, 11.99) for a in (1.0, 5.0)}


def test_samplers_are_seeded(tmp_path):
    a = designs.build(load_sweep(write_sweep(tmp_path, design={"kind": "sobol", "n": 4}))).x
    b = designs.build(load_sweep(write_sweep(tmp_path, design={"kind": "sobol", "n": 4}))).x
    c = designs.build(load_sweep(write_sweep(tmp_path, design={"kind": "sobol", "n": 4}, seed=8))).x
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_loguniform_spreads_over_decades(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, design={"kind": "lhs", "n": 400}))
    budget = designs.build(sweep).values["services.focal.marketing_budget"]
    # log-uniform on [1e6, 1e8]: half the points below the geometric middle 1e7
    assert abs((budget < 1e7).mean() - 0.5) < 0.05


def test_kpi_names_and_evaluation():
    import pandas as pd

    from sim.sweep.spec import KpiSpec

    focal = pd.DataFrame({"date": pd.date_range("2015-01-01", periods=4, freq="MS"), "mau": [1.0, 2.0, 3.0, 4.0]})
    assert KpiSpec(column="mau", agg="final").key == "mau_final"
    assert KpiSpec(column="mau", agg="final").evaluate(focal, 1.0) == 4.0
    assert KpiSpec(column="mau", agg="cumulative").evaluate(focal, 0.5) == 5.0
    windowed = KpiSpec(column="mau", agg="mean", window={"start": "2015-02", "end": "2015-03"})
    assert windowed.key == "mau_mean_2015-02_2015-03" and windowed.evaluate(focal, 1.0) == 2.5
    assert KpiSpec(column="mau", agg="mean").evaluate(focal, 1.0) == 2.5
    outside = KpiSpec(column="mau", agg="mean", window={"start": "2016-01", "end": "2016-02"})
    assert math.isnan(outside.evaluate(focal, 1.0))
    # a window applies to every aggregate: the last month in it, the sum over it
    window = {"start": "2015-02", "end": "2015-03"}
    assert KpiSpec(column="mau", agg="final", window=window).evaluate(focal, 1.0) == 3.0
    assert KpiSpec(column="mau", agg="cumulative", window=window).evaluate(focal, 1.0) == 5.0


@pytest.mark.parametrize("changes, expected", [
    ({"replicate": 3}, ["sweep.yaml", "replicate: unknown key", "did you mean 'replicates'"]),
    ({"design": {"kind": "sobol", "n": 12}}, ["design", "power of 2", "got 12", "8 or 16"]),
    ({"design": {"kind": "lhs"}}, ["design", "needs `n`"]),
    ({"design": {"kind": "taguchi", "n": 4}}, ["design.kind", "'grid', 'lhs', 'sobol' or 'morris'"]),
    ({"design": {"kind": "grid"}}, ["design", "grid_levels"]),
    ({"design": {"kind": "lhs", "n": 4, "second_order": True}}, ["design", "second_order", "sobol setting"]),
    ({"parameters": {"services.focal.ad_lod": {"low": 1, "high": 2}}},
     ["parameters.services.focal.ad_lod", "did you mean 'services.focal.ad_load'"]),
    ({"parameters": {"services.focal.ad_load": {"low": 1, "hihg": 2}}},
     ["parameters.services.focal.ad_load.hihg", "did you mean 'high'"]),
    ({"parameters": {"services.focal.ad_load": {"low": 1, "high": 99}}},
     ["parameters.services.focal.ad_load.high", "outside the allowed range [0, 30]"]),
    ({"parameters": {"services.focal.ad_load": {"low": 3, "high": 2}}},
     ["parameters.services.focal.ad_load", "low (3) must be below high (2)"]),
    ({"parameters": {"services.focal.data_policy": {"low": 0, "high": 1}}},
     ["parameters.services.focal.data_policy", "levels"]),
    ({"parameters": {"services.focal.data_policy": {"levels": ["opt_in", "opt_maybe"]}}},
     ["services.focal.data_policy", "opt_maybe"]),
    ({"kpis": [{"column": "revenue_totl_eur", "agg": "final"}]},
     ["kpis.0.column", "did you mean 'revenue_total_eur'"]),
    ({"kpis": [{"column": "mau", "agg": "median"}]}, ["kpis.0.agg", "'final', 'mean' or 'cumulative'"]),
    ({"kpis": [{"column": "mau", "agg": "final", "window": {"start": "2015-03", "end": "2015-02"}}]},
     ["kpis.0.window", "end (2015-02) is before start (2015-03)"]),
    ({"kpis": [{"column": "mau", "agg": "final"}, {"column": "mau", "agg": "final"}]}, ["repeated KPI name mau_final"]),
    ({"overrides": {"time.monhs": 3}}, ["overrides", "time.monhs", "did you mean 'months'"]),
    ({"base": "missing.yaml"}, ["base", "missing.yaml", "not found"]),
    ({"seed": None}, ["seed: required key missing"]),
])
def test_bad_sweep_file_names_the_key_path(tmp_path, changes, expected):
    with pytest.raises(ScenarioError) as err:
        load_sweep(write_sweep(tmp_path, **changes))
    message = str(err.value)
    assert message.startswith(str(tmp_path / "sweep.yaml")) and "\n" not in message
    for part in expected:
        assert part in message, message


@pytest.mark.parametrize("design", [{"kind": "morris", "n": 2}, {"kind": "grid", "grid_levels": 2}])
def test_resolved_spec_validates_again(tmp_path, design):
    """sensitivity rebuilds the spec from sweep.json; it must come back equal."""
    sweep = load_sweep(write_sweep(tmp_path, design=design))
    assert SweepSpec.model_validate(sweep.resolved()["sweep"]) == sweep.spec


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "scenarios" / "sweeps").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_ready_sweep_files_are_valid(path):
    """Every sweep file shipped in scenarios/sweeps/ validates against today's scenario schema."""
    sweep = load_sweep(path)
    d = designs.build(sweep)
    assert len(d.values) == designs.expected_points(sweep.spec) and sweep.spec.name == path.stem
