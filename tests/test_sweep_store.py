"""The sweep store: atomic parts, consolidation, refusing a folder made by another sweep."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sim.errors import LockError
from sim.scenario import ScenarioError
from sim.sweep.store import SweepStore, run_id

DESIGN = pd.DataFrame({"services.focal.ad_load": [1.0, 2.0, 3.0], "services.focal.wrapped": [True, False, True]},
                      index=pd.RangeIndex(3, name="point"))
RESOLVED = {"sweep": {"name": "t", "seed": 1}, "integer_parameters": [], "base_scenario": {"time": {"months": 6}}}


def record(point: int, replicate: int, value: float, status: str = "ok") -> dict:
    return {"run_id": run_id(point, replicate, 3, 2), "point": point, "replicate": replicate, "mau_final": value,
            "status": status, "error": None if status == "ok" else "ValueError: boom", "seconds": 0.1}


def test_run_ids_are_stable_and_sort_like_point_then_replicate():
    assert run_id(12, 3, 100, 5) == "p00012-r03"
    ids = [run_id(p, r, 123456, 150) for p in (2, 10, 100000) for r in (1, 20)]
    assert ids == sorted(ids) and ids[0] == "p000002-r001"


def test_parts_consolidate_into_one_row_per_run(tmp_path):
    store = SweepStore(tmp_path, ["mau_final"])
    store.prepare(RESOLVED, DESIGN)
    store.write_part(record(1, 0, 5.0))
    store.write_part(record(0, 1, math.nan, "failed"))
    store.write_part(record(0, 0, 3.0))
    (store.parts / ".p00002-r00.parquet.dead.tmp").write_bytes(b"half a file")  # a writer killed mid-write
    runs = store.consolidate(DESIGN)
    assert list(runs["run_id"]) == ["p00000-r00", "p00000-r01", "p00001-r00"]
    assert list(runs.columns) == ["run_id", "point", "replicate", "services.focal.ad_load", "services.focal.wrapped",
                                  "mau_final", "status", "error", "seconds"]
    assert list(runs["services.focal.ad_load"]) == [1.0, 1.0, 2.0]
    assert list(runs["status"]) == ["ok", "failed", "ok"] and runs["error"].iloc[1] == "ValueError: boom"
    pd.testing.assert_frame_equal(pd.read_parquet(store.runs_path), runs)
    # rerunning a failed run replaces its record
    store.write_part(record(0, 1, 4.0))
    assert list(store.consolidate(DESIGN)["status"]) == ["ok", "ok", "ok"]


def test_prepare_cleans_temporaries_and_accepts_the_same_sweep(tmp_path):
    store = SweepStore(tmp_path, ["mau_final"])
    store.prepare(RESOLVED, DESIGN)
    stale = [store.parts / ".p00000-r00.parquet.x.tmp", tmp_path / ".runs.parquet.y.tmp"]
    for path in stale:
        path.write_bytes(b"")
    SweepStore(tmp_path, ["mau_final"]).prepare(RESOLVED, DESIGN)
    assert not any(path.exists() for path in stale)


def test_prepare_refuses_a_folder_of_another_sweep(tmp_path):
    SweepStore(tmp_path, ["mau_final"]).prepare(RESOLVED, DESIGN)
    changed = {**RESOLVED, "base_scenario": {"time": {"months": 12}}}
    with pytest.raises(ScenarioError, match=r"different sweep \(changed: base_scenario.time.months\)"):
        SweepStore(tmp_path, ["mau_final"]).prepare(changed, DESIGN)
    with pytest.raises(ScenarioError, match="design points differ"):
        SweepStore(tmp_path, ["mau_final"]).prepare(RESOLVED, DESIGN.assign(**{"services.focal.ad_load": 9.0}))


def test_one_writer_per_folder(tmp_path):
    store = SweepStore(tmp_path, ["mau_final"])
    with store.locked():
        with pytest.raises(LockError, match="another freemium-sim sweep is writing to this folder"):
            with SweepStore(tmp_path, ["mau_final"]).locked():
                pass
    with SweepStore(tmp_path, ["mau_final"]).locked():  # released on exit
        pass


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
@pytest.mark.parametrize("what", ["stored run", "design", "runs table"])
def test_a_damaged_file_is_named_with_what_to_move_aside(tmp_path, what, damage):
    store = SweepStore(tmp_path, ["mau_final"])
    store.prepare(RESOLVED, DESIGN)
    store.write_part(record(0, 0, 3.0))
    store.write_part(record(1, 0, 5.0))
    store.consolidate(DESIGN)
    path = {"stored run": store.parts / "p00001-r00.parquet", "design": store.design_path, "runs table": store.runs_path}[what]
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00\xff" * 300, "empty": b""}[damage])
    read = {"stored run": lambda: store.consolidate(DESIGN), "design": lambda: store.prepare(RESOLVED, DESIGN),
            "runs table": store.read_runs}[what]
    with pytest.raises(ScenarioError, match=f"{path.name}: a damaged {what} .*; move it aside: "):
        read()
    assert path.read_bytes() != data and path.exists()  # never replaced behind the user's back


def test_a_damaged_design_moved_aside_is_written_again(tmp_path):
    store = SweepStore(tmp_path, ["mau_final"])
    store.prepare(RESOLVED, DESIGN)
    store.design_path.rename(tmp_path / "design.parquet.damaged")
    SweepStore(tmp_path, ["mau_final"]).prepare(RESOLVED, DESIGN)
    assert store.design_path.exists()


@pytest.mark.parametrize("content", [b'{"sweep": {"na', b"\xff\xfe", b"[1, 2]"])
def test_a_damaged_sweep_json_is_one_line(tmp_path, content):
    store = SweepStore(tmp_path, ["mau_final"])
    store.prepare(RESOLVED, DESIGN)
    store.spec_path.write_bytes(content)
    with pytest.raises(ScenarioError, match="sweep.json: (damaged|not a sweep's description)"):
        SweepStore(tmp_path, ["mau_final"]).prepare(RESOLVED, DESIGN)
