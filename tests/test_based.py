"""One loader for "a base scenario plus overrides" (``sim.scenario.based``): sweeps, optimisations and
calibrations (and the backtests, which read a calibration) read their base the same way and refuse the
same mistakes with the same message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sim.analysis.calibration import load_calibration
from sim.analysis.optimize_spec import load_optimization
from sim.scenario import BasedOn, ScenarioError, apply_overrides, load_scenario
from sim.sweep.spec import load_sweep

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
KINDS = {  # the ready file of each kind, its loader, the field of the key paths it varies
    "sweep": (SCENARIOS / "sweeps" / "smoke.yaml", load_sweep, "parameters"),
    "optimisation": (SCENARIOS / "optimize" / "price_ads.yaml", load_optimization, "levers"),
    "calibration": (SCENARIOS / "calibration" / "spotify.yaml", load_calibration, "parameters"),
}


def _copy(kind: str, tmp_path: Path, **changes) -> Path:
    """The ready file of ``kind`` written into ``tmp_path`` with ``changes``; its relative paths made absolute."""
    path, _, _ = KINDS[kind]
    data = yaml.safe_load(path.read_text())
    for key in ("base", "data"):
        if key in data:
            data[key] = str((path.parent / data[key]).resolve())
    data.update(changes)
    out = tmp_path / f"{kind}.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_reads_its_base_with_its_overrides(kind):
    path, load, _ = KINDS[kind]
    loaded = load(path)
    assert isinstance(loaded, BasedOn)
    written = yaml.safe_load(path.read_text())
    assert loaded.base_path == path.parent / written["base"]
    assert loaded.scenario == load_scenario(loaded.base_path)
    assert loaded.base == apply_overrides(loaded.scenario, written.get("overrides") or {})


@pytest.mark.parametrize("kind", KINDS)
def test_a_varied_key_that_is_also_overridden_is_refused_alike(kind, tmp_path):
    path, load, varied = KINDS[kind]
    data = yaml.safe_load(path.read_text())
    key, spec = next(iter(data[varied].items()))
    value = spec["levels"][0] if "levels" in spec else spec["low"]
    bad = _copy(kind, tmp_path, overrides={**(data.get("overrides") or {}), key: value})
    with pytest.raises(ScenarioError) as err:
        load(bad)
    assert str(bad) in str(err.value)
    assert f"{key} is both in `{varied}` and overridden; keep it in `{varied}` only" in str(err.value)


@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_base_names_the_file_and_the_key(kind, tmp_path):
    _, load, _ = KINDS[kind]
    bad = _copy(kind, tmp_path, base="nowhere.yaml")
    with pytest.raises(ScenarioError, match=f"base: scenario file .*nowhere.yaml not found \\(the path is relative to the {kind} file\\)"):
        load(bad)
