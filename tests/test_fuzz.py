"""Fuzz: mutated scenario, sweep and calibration documents never end in a traceback.

Hypothesis starts from small valid documents and mutates them: values replaced by wrong
types, NaN and infinities, huge and negative numbers, impossible dates, long strings,
deep nesting; keys deleted, misspelt or added; and the YAML text itself (a repeated line,
a failing tag, a cut-off file). Every outcome must be either

- success: the document is valid, and then a tiny market runs from it (one replicate in
  process; the CLI's report rendering is left out to keep the test within its budget), or
- exit 2 from the command line with one message that names the file and then a key path
  (or the YAML line), of bounded length, and no file written anywhere.

Fixed example counts; derandomised under CI (tests/conftest.py's "ci" profile).
"""

from __future__ import annotations

import copy
import datetime
import math
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim.analysis.calibration import load_calibration, simulate_targets
from sim.cli import main
from sim.clock import Clock
from sim.runner import simulate
from sim.scenario import ScenarioError, load_scenario
from sim.sweep import designs
from sim.sweep.run import execute_run, pending_tasks
from sim.sweep.spec import load_sweep
from sim.sweep.store import part_schema
from sim.yamlio import MAX_MESSAGE_CHARS

SCENARIO: dict[str, Any] = {
    "name": "fuzz", "replicates": 1, "seed": 3,
    "time": {"start": "2015-01", "months": 3, "step": "month"},
    "market": {"population": 1.0e6, "agents": 200},
    "segments": [{"name": "a", "share": 0.6, "wtp": {"dist": "lognormal", "median": 3.0, "sigma": 0.5}},
                 {"name": "b", "share": 0.4, "student": True, "base_hours": {"dist": "normal", "mean": 10, "sd": 2, "low": 0}}],
    "network": {"kind": "small_world", "mean_degree": 4},
    "services": {"focal": {"name": "S", "ad_load": 2.0, "plans": {"individual": {"price": 9.99}, "duo": {"price": 12.99}}},
                 "competitors": [{"name": "C", "free_tier": False, "plans": {"individual": {"price": 9.99}}}]},
    "initial": {"aware": 0.3, "focal_free": 0.05, "focal_premium": 0.01, "competitor": 0.01},
    "mechanisms": {"ads": {"advertisers": 5}, "loyalty": {"customer_months": 2}},
    "timeline": [{"at": "2015-02", "set": {"services.focal.ad_load": 3.0}, "note": "more ads"},
                 {"at": "2015-03", "outage": {"service": "focal", "days": 1.0}}],
}
SWEEP: dict[str, Any] = {
    "name": "fuzzsweep", "base": "base.yaml", "seed": 1, "replicates": 1,
    "overrides": {"network.mean_degree": 2},
    "design": {"kind": "lhs", "n": 2},
    "parameters": {"services.focal.ad_load": {"low": 1.0, "high": 3.0},
                   "services.focal.data_policy": {"levels": ["opt_out", "opt_in"]}},
    "kpis": [{"column": "mau", "agg": "final"},
             {"column": "churn_premium_monthly", "agg": "mean", "window": {"start": "2015-02", "end": "2015-03"}}],
}
CALIBRATION: dict[str, Any] = {
    "name": "fuzzcal", "base": "base.yaml", "data": "data.csv", "seed": 1, "trials": 2, "replicates": 1,
    "check_replicates": 2, "overrides": {"market.agents": 150},
    "parameters": {"diffusion.q": {"low": 0.1, "high": 0.5, "distribution": "loguniform"}},
    "distance": "nrmse",
    "targets": {"mau": {"column": "mau", "periods": "quarterly"},
                "arpu": {"metric": "arpu", "column": "revenue_subscription_eur", "per": "premium_subscribers",
                         "agg": "mean", "scale": 1.0}},
}
DATA = ("period,metric,value,unit,source,note\n2015-Q1,mau,0.05,millions,fuzz,\n"
        "2015-Q1,arpu,6.5,EUR/month,fuzz,\"a, quoted note\"\n")

WEIRD = st.one_of(
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 0, -1, 1, 0.5, 2**31, 10**30, 1e308, -1e-300, "", None,
                     True, False, [], {}, "2015-02-30", "2015-13", "0000-00", "9999-12", datetime.date(2015, 2, 28),
                     "x" * 3000, "services", "é☃", "a\x00b", "../../etc", "nan", "inf", "1e999"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.text(max_size=12),
    st.recursive(st.none() | st.integers(-5, 5) | st.text(max_size=3),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                 max_leaves=20),
)
# "none" first and most often: hypothesis leans toward a list's first element
TEXT_EDITS = [*["none"] * 5, "duplicate_line", "failing_tag", "truncate"]


def key_paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a document's mappings and lists (the document itself excluded)."""
    out = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for k, v in items:
        out.append((*prefix, k))
        out += key_paths(v, (*prefix, k))
    return out


STRUCTURAL = ["perturb"] * 4 + ["replace", "replace", "delete", "rename", "add", "nest"]


def mutate(data: st.DataObject, doc: dict[str, Any], ops: list[str] = STRUCTURAL) -> dict[str, Any]:
    """Apply up to three mutations drawn from ``ops`` to a copy of ``doc``."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(0, 3), label="mutations")):
        paths = key_paths(doc)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        key = path[-1]
        op = data.draw(st.sampled_from(ops), label="op")
        value = parent[key]
        if op == "perturb":  # often still valid: exercises the runs (names and sections stay as they are)
            if isinstance(value, bool):
                parent[key] = not value
            elif isinstance(value, (int, float)):
                scaled = value * data.draw(st.floats(0, 2), label="factor")
                parent[key] = round(scaled) if isinstance(value, int) else scaled
        elif op == "replace":
            parent[key] = data.draw(WEIRD, label="value")
        elif op == "delete":
            del parent[key]
        elif op == "rename" and isinstance(parent, dict):
            parent[data.draw(st.sampled_from([f"{key}x", str(key)[:-1] or "k", str(key).upper(), "extends"]))] = parent.pop(key)
        elif op == "add" and isinstance(parent, dict):
            parent[data.draw(st.text(min_size=1, max_size=8), label="new key")] = data.draw(WEIRD, label="value")
        elif op == "nest":
            value = parent[key]
            for _ in range(data.draw(st.integers(1, 60), label="depth")):
                value = [value]
            parent[key] = value
    return doc


def render(data: st.DataObject, doc: dict[str, Any]) -> str:
    """The document as YAML, sometimes with an edit of the text itself."""
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    lines = text.splitlines(keepends=True)
    edit = data.draw(st.sampled_from(TEXT_EDITS), label="text edit")
    if edit == "duplicate_line":
        k = data.draw(st.integers(0, len(lines) - 1), label="line")
        lines.insert(k, lines[k])
    elif edit == "failing_tag":
        candidates = [k for k, line in enumerate(lines) if re.search(r": \S", line)]
        if candidates:
            k = data.draw(st.sampled_from(candidates), label="line")
            tag = data.draw(st.sampled_from(["!!int many", "!!timestamp 2015-02-30", "!!float x", "!!python/name:os.system",
                                             "!!binary '%%'", "!!set {a: 1}"]), label="tag")
            lines[k] = re.sub(r": \S.*$", f": {tag}", lines[k].rstrip("\n")) + "\n"
    elif edit == "truncate":
        text = "".join(lines)
        return text[: data.draw(st.integers(0, len(text)), label="cut")]
    return "".join(lines)


@contextmanager
def workdir():
    """A fresh folder that is also the current one (so a stray default results/ would be seen)."""
    before = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(before)


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def assert_refused(code: int, err: str, source: Path) -> None:
    """Exit 2, one message naming the file then a key path or the YAML line, bounded, no traceback."""
    flat = err.replace("\n", "")  # rich wraps a long line at the console's width
    assert code == 2, err
    assert "Traceback" not in err and flat.count("error:") == 1, err
    assert flat.startswith(f"error: {source}: "), err
    rest = flat[len(f"error: {source}: "):]
    # a key path (a key holding ':' is quoted) then ':'
    assert re.match(r"(YAML error|file is|not UTF-8|\(top level\)|(?:'[^']*'|\"[^\"]*\"|[^:]){1,120}:)", rest), err
    assert len(flat) <= len("error: ") + MAX_MESSAGE_CHARS + 3, len(flat)


def tiny_enough(scenario) -> bool:
    steps = Clock.of(scenario).n_steps
    return scenario.market.agents * steps <= 200_000 and scenario.network.mean_degree <= 50


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


@FUZZ
@given(data=st.data())
def test_fuzzed_scenario(data, capsys):
    text = render(data, mutate(data, SCENARIO))
    with workdir() as root:
        path = root / "scenario.yaml"
        path.write_text(text, encoding="utf-8")
        capsys.readouterr()
        code = main(["validate", str(path)])
        err = capsys.readouterr().err
        event("valid" if code == 0 else "refused")
        if code == 0:
            scenario = load_scenario(path)
            if tiny_enough(scenario):
                result = simulate(scenario, np.random.SeedSequence(scenario.seed))
                assert len(result.timeseries) == Clock.of(scenario).n_steps * (1 + len(scenario.services.competitors))
        else:
            assert_refused(code, err, path)
            out = root / "out"
            assert main(["run", str(path), "--out", str(out), "--quiet", "--workers", "1"]) == 2
            assert_refused(2, capsys.readouterr().err, path)
        assert files_under(root) == {"scenario.yaml"}


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_plausible_scenario_values_run(data):
    """Numbers scaled, switches flipped, optional keys removed: mostly valid documents, each run."""
    doc = mutate(data, SCENARIO, ops=["perturb", "perturb", "delete"])
    with workdir() as root:
        path = root / "scenario.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            event("refused")
            assert str(exc).startswith(f"{path}: ") and len(str(exc)) <= MAX_MESSAGE_CHARS + 3
            return
        event("valid")
        if tiny_enough(scenario):
            result = simulate(scenario, np.random.SeedSequence(scenario.seed))
            assert len(result.timeseries) == Clock.of(scenario).n_steps * (1 + len(scenario.services.competitors))


@FUZZ
@given(data=st.data())
def test_fuzzed_sweep(data, capsys):
    text = render(data, mutate(data, SWEEP))
    with workdir() as root:
        (root / "base.yaml").write_text(yaml.safe_dump(SCENARIO))
        path = root / "sweep.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            sweep = load_sweep(path)
            design = designs.build(sweep)
        except ScenarioError:
            event("refused")
            capsys.readouterr()
            code = main(["sweep", str(path), "--out", str(root / "out"), "--quiet", "--workers", "1"])
            assert_refused(code, capsys.readouterr().err, path)
        else:
            event("valid")
            kpis = [k.key for k in sweep.spec.kpis]
            task = pending_tasks(sweep, design, part_schema(kpis).empty_table().to_pandas(), False)[0]
            if tiny_enough(task.base):
                record = execute_run(task)
                # a design point's values were checked at load: a run either works or a bug is recorded
                assert record["status"] == "ok", record["error"]
        assert files_under(root) == {"base.yaml", "sweep.yaml"}


DATA_EDITS = st.sampled_from([*["none"] * 8, "drop_field", "extra_field", "value_inf", "value_nan", "value_text",
                              "value_zero", "empty", "header_only", "latin1"])


def edit_data(data: st.DataObject) -> bytes:
    lines = DATA.splitlines()
    edit = data.draw(DATA_EDITS, label="data edit")
    k = data.draw(st.integers(1, len(lines) - 1), label="data line")
    fields = lines[k].split(",", 5)
    if edit == "drop_field":
        lines[k] = ",".join(fields[:-2])
    elif edit == "extra_field":
        lines[k] += ",more"
    elif edit.startswith("value_"):
        fields[2] = {"value_inf": "inf", "value_nan": "NaN", "value_text": "many", "value_zero": "0"}[edit]
        lines[k] = ",".join(fields)
    elif edit == "empty":
        return b""
    elif edit == "header_only":
        return (lines[0] + "\n").encode()
    text = "\n".join(lines) + "\n"
    return text.encode("latin-1", "replace") + (b"\xe9\n" if edit == "latin1" else b"")


@FUZZ
@given(data=st.data())
def test_fuzzed_calibration(data, capsys):
    text = render(data, mutate(data, CALIBRATION))
    with workdir() as root:
        (root / "base.yaml").write_text(yaml.safe_dump(SCENARIO))
        (root / "data.csv").write_bytes(edit_data(data))
        path = root / "cal.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            cal = load_calibration(path)
        except ScenarioError:
            event("refused")
            capsys.readouterr()
            code = main(["calibrate", str(path), "--out", str(root / "out"), "--quiet", "--workers", "1"])
            assert_refused(code, capsys.readouterr().err, path)
        else:
            event("valid")
            if tiny_enough(cal.base):
                sims = simulate_targets(cal, {}, 1, cal.spec.seed)
                for t in cal.targets:
                    assert sims[t.name].shape == (1, len(t.observed))
                    assert not np.isinf(sims[t.name]).any()
        assert files_under(root) == {"base.yaml", "cal.yaml", "data.csv"}


def test_fuzz_documents_start_valid(tmp_path):
    """The unmutated documents are valid and run (else every mutation would only test refusals)."""
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(SCENARIO))
    (tmp_path / "data.csv").write_text(DATA)
    scenario = load_scenario(tmp_path / "base.yaml")
    assert not math.isnan(simulate(scenario, np.random.SeedSequence(1)).timeseries["mau"].iloc[-1])
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(SWEEP))
    assert len(designs.build(load_sweep(tmp_path / "sweep.yaml")).values) == 2
    (tmp_path / "cal.yaml").write_text(yaml.safe_dump(CALIBRATION))
    assert sorted(t.name for t in load_calibration(tmp_path / "cal.yaml").targets) == ["arpu", "mau"]
