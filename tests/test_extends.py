"""`extends:` in scenario files: merge_scenarios semantics and the errors of a bad chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.scenario import ScenarioError, load_scenario, merge_scenarios

BASE = {
    "name": "base",
    "seed": 1,
    "services": {"focal": {"name": "S", "ad_load": 2.5, "plans": {"individual": {"price": 9.99}, "student": {"price": 4.99}}}},
    "regions": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}],
    "timeline": [{"at": "2016-01", "set": {"x": 1}}, {"at": "2020-01", "set": {"x": 2}}],
}


def test_mappings_merge_key_by_key():
    out = merge_scenarios(BASE, {"name": "child", "services": {"focal": {"ad_load": 5.0, "plans": {"duo": {"price": 12.99}}}}})
    assert out["name"] == "child"
    assert out["seed"] == 1
    assert out["services"]["focal"] == {"name": "S", "ad_load": 5.0, "plans": {
        "individual": {"price": 9.99}, "student": {"price": 4.99}, "duo": {"price": 12.99}}}


def test_null_removes_a_key_at_any_depth():
    out = merge_scenarios(BASE, {"seed": None, "services": {"focal": {"plans": {"student": None}}}})
    assert "seed" not in out
    assert out["services"]["focal"]["plans"] == {"individual": {"price": 9.99}}
    assert "absent" not in merge_scenarios(BASE, {"absent": None})  # removing a missing key is a no-op


def test_lists_and_values_replace():
    out = merge_scenarios(BASE, {"regions": [{"name": "world", "share": 1.0}], "seed": 7})
    assert out["regions"] == [{"name": "world", "share": 1.0}]
    assert out["seed"] == 7
    # a mapping replaces a plain value and the other way round
    assert merge_scenarios({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
    assert merge_scenarios({"a": {"b": 2}}, {"a": 3}) == {"a": 3}


def test_timeline_is_appended_after_the_base_and_ordered_by_date():
    child = [{"at": "2020-01", "set": {"x": 3}}, {"at": "2018-01", "set": {"y": 1}}]
    out = merge_scenarios(BASE, {"timeline": child})
    expected = sorted([*BASE["timeline"], *child], key=lambda ev: ev["at"])  # stable: same date keeps base first
    assert out["timeline"] == expected
    assert [ev["at"] for ev in out["timeline"]] == sorted(ev["at"] for ev in out["timeline"])
    assert merge_scenarios(BASE, {})["timeline"] == BASE["timeline"]
    assert merge_scenarios({"name": "no_timeline"}, {"timeline": child})["timeline"] == child


def test_inputs_are_not_modified():
    import copy

    before = copy.deepcopy(BASE)
    merge_scenarios(BASE, {"services": {"focal": {"plans": {"student": None}}}, "timeline": [{"at": "2021-01", "set": {}}]})
    assert BASE == before


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_same_date_child_event_wins_in_a_loaded_scenario(tmp_path: Path):
    _write(tmp_path, "base.yaml", "name: base\ntimeline:\n"
           "  - {at: 2020-01, set: {services.focal.ad_load: 3.0, services.focal.personalization: 0.2}}\n")
    child = _write(tmp_path, "child.yaml", "extends: base.yaml\nname: child\ntimeline:\n"
                   "  - {at: 2020-01, set: {services.focal.ad_load: 5.0}}\n")
    scenario = load_scenario(child)
    assert scenario.name == "child"
    assert [ev.set for ev in scenario.timeline] == [
        {"services.focal.ad_load": 3.0, "services.focal.personalization": 0.2}, {"services.focal.ad_load": 5.0}]


def test_extends_is_relative_to_the_file_and_chains(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    _write(tmp_path, "a.yaml", "name: a\nseed: 5\nreplicates: 2\n")
    _write(tmp_path / "sub", "b.yaml", "extends: ../a.yaml\nname: b\nseed: 6\n")
    c = _write(tmp_path, "c.yaml", "extends: sub/b.yaml\nname: c\n")
    scenario = load_scenario(c)
    assert (scenario.name, scenario.seed, scenario.replicates) == ("c", 6, 2)


def test_missing_base_file(tmp_path: Path):
    child = _write(tmp_path, "child.yaml", "extends: nowhere.yaml\nname: child\n")
    with pytest.raises(ScenarioError, match=r"child\.yaml: extends: .*nowhere\.yaml: file not found"):
        load_scenario(child)


def test_cycle(tmp_path: Path):
    a = _write(tmp_path, "a.yaml", "extends: b.yaml\nname: a\n")
    _write(tmp_path, "b.yaml", "extends: a.yaml\nname: b\n")
    with pytest.raises(ScenarioError, match=r"[ab]\.yaml: extends: .*leads back to itself \(a\.yaml -> b\.yaml -> a\.yaml\)") as err:
        load_scenario(a)
    assert "a.yaml" in str(err.value) and "b.yaml" in str(err.value)


def test_extends_itself(tmp_path: Path):
    path = _write(tmp_path, "self.yaml", "extends: self.yaml\nname: self\n")
    with pytest.raises(ScenarioError, match=r"self\.yaml: extends: .*leads back to itself \(self\.yaml -> self\.yaml\)"):
        load_scenario(path)


@pytest.mark.parametrize("value", ["3", "[base.yaml]", "{file: base.yaml}", "''", "null"])
def test_extends_must_be_a_path(tmp_path: Path, value: str):
    _write(tmp_path, "base.yaml", "name: base\n")
    path = _write(tmp_path, "child.yaml", f"extends: {value}\nname: child\n")
    with pytest.raises(ScenarioError, match=r"child\.yaml: extends: expected the path of a scenario file"):
        load_scenario(path)


def test_base_that_is_not_a_mapping(tmp_path: Path):
    _write(tmp_path, "base.yaml", "- just\n- a list\n")
    path = _write(tmp_path, "child.yaml", "extends: base.yaml\nname: child\n")
    with pytest.raises(ScenarioError, match=r"base\.yaml: \(top level\): expected a mapping"):
        load_scenario(path)
