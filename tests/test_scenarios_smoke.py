"""Smoke tests of the scenario library in scenarios/*.yaml.

Every scenario file (new ones included, through the glob):
- opens with a comment block that states the question it answers;
- passes ``freemium-sim validate`` (exit 0);
- runs its whole horizon, timeline events included, on a small population;
- differs from baseline.yaml in exactly the key paths it writes (an ``extends: baseline.yaml``
  file declares its change by writing it: no list to keep here; a STANDALONE copy's change is
  declared in EXPECTED_CHANGES), so that ``compare baseline X`` answers its question and nothing else;
- with the same seed, reproduces the baseline month for month until its first change;
- is written as ``extends: baseline.yaml`` plus its change (except STANDALONE), so the
  library follows the baseline when it is recalibrated instead of holding stale copies.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.runner import replicate_seeds, simulate
from sim.scenario import apply_overrides, load_scenario, read_yaml

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
FILES = sorted(SCENARIOS.glob("*.yaml"))
BASELINE = SCENARIOS / "baseline.yaml"
# Small but complete: 2,000 listeners over the full horizon take ~0.3 s, and every timeline
# event (most scenarios act from 2020-01) is exercised; a 6-month run would drop them all.
SMALL = {"market.agents": 2000, "replicates": 1}
# Library files that are complete copies and not `extends: baseline.yaml`, each with the
# reason (its opening comment must say why too). Appending timeline events cannot remove
# one of the baseline's, and a timeline `set` cannot delete a plan.
STANDALONE = {
    "baseline": "the base of the library",
    "family_plan_launch": "removes the baseline's 2016-05 family-plan event",
}

# What a STANDALONE scenario changes relative to the baseline, as key paths of the resolved scenario
# (an `extends` file's change is what it writes: :func:`written_changes`). Timeline changes are
# "timeline.<YYYY-MM>.<set key path>" (or ".outage"): an event added, removed, or whose value at that key differs.
P = "services.focal.plans"
EXPECTED_CHANGES: dict[str, set[str]] = {
    "family_plan_launch": {f"{P}.family.{k}" for k in ("price", "seats", "users_per_account", "hassle")}
    | {f"timeline.2016-05.{P}.family", f"timeline.2020-01.{P}.family"},
}


def _flatten(node, prefix: str = "") -> dict[str, object]:
    """Leaf values by dotted key path; list items are keyed by their `name` when they have one."""
    if isinstance(node, dict):
        out: dict[str, object] = {}
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    if isinstance(node, list) and node and all(isinstance(x, dict) and "name" in x for x in node):
        return _flatten({x["name"]: x for x in node}, prefix)
    if isinstance(node, list):
        return _flatten({str(i): x for i, x in enumerate(node)}, prefix)
    return {prefix.rstrip("."): node}


def _timeline_by_date(events: list[dict]) -> dict[str, dict[str, str]]:
    """Per date, the merged `set` values and outages (as canonical JSON), notes dropped."""
    out: dict[str, dict[str, str]] = {}
    for ev in events:
        slot = out.setdefault(ev["at"], {})
        for key, value in (ev.get("set") or {}).items():
            slot[key] = json.dumps(value, sort_keys=True)
        if ev.get("outage"):
            slot["outage"] = slot.get("outage", "") + json.dumps(ev["outage"], sort_keys=True)
    return out


def changed_paths(base: dict, other: dict) -> set[str]:
    """Key paths at which two resolved scenarios (``model_dump(mode="json")``) differ."""
    skip = {"name", "description", "timeline"}
    fb = _flatten({k: v for k, v in base.items() if k not in skip})
    fo = _flatten({k: v for k, v in other.items() if k not in skip})
    paths = {p for p in fb.keys() | fo.keys() if fb.get(p, "<absent>") != fo.get(p, "<absent>")}
    tb, to = _timeline_by_date(base["timeline"]), _timeline_by_date(other["timeline"])
    for at in tb.keys() | to.keys():
        b, o = tb.get(at, {}), to.get(at, {})
        paths |= {f"timeline.{at}.{k}" for k in b.keys() | o.keys() if b.get(k) != o.get(k)}
    return paths


def written_changes(path: Path) -> set[str]:
    """The key paths a scenario file changes: those it writes besides ``extends``, ``name`` and
    ``description`` (timeline events as "timeline.<at>.<set key path>" or "timeline.<at>.outage"), or
    its EXPECTED_CHANGES when it is a STANDALONE copy."""
    if path.stem in EXPECTED_CHANGES:
        return EXPECTED_CHANGES[path.stem]
    data = read_yaml(path)
    paths = set(_flatten({k: v for k, v in data.items() if k not in {"extends", "name", "description", "timeline"}}))
    for ev in data.get("timeline") or []:
        paths |= {f"timeline.{ev['at']}.{key}" for key in ev.get("set") or {}}
        paths |= {f"timeline.{ev['at']}.outage"} if ev.get("outage") else set()
    return paths


@lru_cache(maxsize=None)
def _run(path: Path) -> pd.DataFrame:
    scenario = apply_overrides(load_scenario(path), SMALL)
    return simulate(scenario, replicate_seeds(scenario.seed, 1)[0]).timeseries


def _resolved(path: Path) -> dict:
    return load_scenario(path).model_dump(mode="json")


def _ids(files):
    return [f.stem for f in files]


def test_library_is_there():
    names = {f.stem for f in FILES}
    assert "baseline" in names
    assert set(EXPECTED_CHANGES) | set(STANDALONE) <= names, f"missing scenario files: {sorted(set(EXPECTED_CHANGES) - names)}"
    assert set(EXPECTED_CHANGES) == set(STANDALONE) - {"baseline"}, "declare a change for the standalone copies only"


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_opens_with_a_question(path: Path):
    lines = path.read_text().splitlines()
    block = []
    for line in lines:
        if not line.startswith("#"):
            break
        block.append(line.lstrip("#").strip())
    assert block, f"{path.name} must open with a comment block"
    text = " ".join(block)
    assert re.search(r"question[^?]*\?", text, re.IGNORECASE), f"{path.name}: the opening comment must state the question it answers"


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_validates(path: Path, capsys):
    assert main(["validate", str(path)]) == 0
    assert "valid scenario" in capsys.readouterr().out


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_runs(path: Path):
    scenario = load_scenario(path)
    ts = _run(path)
    n_services = len(scenario.all_services())  # entrants have rows (no users) before they enter
    assert len(ts) == scenario.time.months * n_services
    assert ts["date"].nunique() == scenario.time.months
    focal = ts[ts["focal"]]
    for col in ("mau", "premium_subscribers", "revenue_total_eur", "revenue_subscription_eur"):
        values = focal[col].to_numpy()
        assert np.all(np.isfinite(values)) and np.all(values >= 0), col
    assert focal["mau"].iloc[-1] > 0


@pytest.mark.parametrize("path", [f for f in FILES if f != BASELINE], ids=_ids([f for f in FILES if f != BASELINE]))
def test_differs_from_baseline_only_in_its_change(path: Path):
    assert load_scenario(path).name == path.stem, "the scenario name should be the file name (it names the output folder)"
    got, want = changed_paths(_resolved(BASELINE), _resolved(path)), written_changes(path)
    assert want, f"{path.name} changes nothing"
    assert got == want, (f"{path.name} differs from baseline.yaml at paths it does not write {sorted(got - want)}; "
                         f"writes values the baseline already has {sorted(want - got)}")


@pytest.mark.parametrize("path", [f for f in FILES if f != BASELINE], ids=_ids([f for f in FILES if f != BASELINE]))
def test_same_history_as_baseline_before_its_change(path: Path):
    """Common random numbers: same seed and same policies give the same months, exactly."""
    changes = changed_paths(_resolved(BASELINE), _resolved(path))
    if not all(p.startswith("timeline.") for p in changes):
        pytest.skip(f"{path.name} changes the market from the first month")
    first = min(p.split(".")[1] for p in changes)
    base, other = _run(BASELINE), _run(path)
    cut = pd.Timestamp(first + "-01")
    before_b, before_o = base[base["date"] < cut], other[other["date"] < cut]
    assert len(before_b) > 0
    pd.testing.assert_frame_equal(before_b.reset_index(drop=True), before_o.reset_index(drop=True))
    after_b, after_o = base[base["date"] >= cut], other[other["date"] >= cut]
    focal_b, focal_o = after_b[after_b["focal"]], after_o[after_o["focal"]]
    assert not focal_b[["mau", "premium_subscribers", "revenue_total_eur"]].reset_index(drop=True).equals(
        focal_o[["mau", "premium_subscribers", "revenue_total_eur"]].reset_index(drop=True)), \
        f"{path.name}: its change at {first} had no effect at all on the focal service"


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_extends_the_baseline(path: Path):
    """No stale copies: a library scenario is `extends: baseline.yaml` plus its change."""
    data = read_yaml(path)
    if path.stem in STANDALONE:
        assert "extends" not in data, f"{path.name} now extends a file: drop it from STANDALONE"
        if path != BASELINE:
            comment = " ".join(line for line in path.read_text().splitlines() if line.startswith("#"))
            assert "extends" in comment, f"{path.name}: its opening comment must say why it cannot use `extends`"
        return
    assert data.get("extends") == "baseline.yaml", (
        f"{path.name}: write it as `extends: baseline.yaml` plus only its change (see docs/user-guide.md, "
        f"'Extending another file'), or add it to STANDALONE with the reason")
