"""Every class of bad input: exit 2, one message naming the file and key path, no traceback, no output."""

from __future__ import annotations

import pytest

from sim.cli import main
from tests.helpers import run_cli

GOOD = "name: ok\nmarket: {agents: 500}\ntime: {months: 3}\n"

CASES = {
    "unknown_key": ("name: x\nservics: {}\n", ["servics", "did you mean 'services'"]),
    "nested_unknown_key": ("services:\n  focal: {name: S, ad_lod: 3}\n", ["services.focal.ad_lod", "did you mean 'ad_load'"]),
    "wrong_type": ("market: {agents: many}\n", ["market.agents", "integer"]),
    "out_of_range": ("services:\n  focal: {name: S, personalization: 1.5}\n", ["services.focal.personalization", "less than or equal to 1"]),
    "shares": ("segments:\n  - {name: a, share: 0.5}\n  - {name: b, share: 0.3}\n", ["segments", "sum to 1"]),
    "timeline_before": ("time: {start: 2015-01, months: 12}\ntimeline:\n  - {at: 2014-06, set: {services.focal.ad_load: 3}}\n",
                        ["timeline.0.at", "2014-06 is before the start 2015-01"]),
    "timeline_bad_path": ("timeline:\n  - {at: 2016-01, set: {services.focal.plans.individual.prise: 3}}\n",
                          ["timeline.0.set", "prise", "did you mean 'price'"]),
    "bad_date": ("time: {start: 2015-13}\n", ["time.start", "YYYY-MM"]),
    "bad_literal": ("time: {step: dya}\n", ["time.step", "'month' or 'week'"]),
    "empty": ("", ["empty"]),
    "only_comments": ("# nothing here\n", ["empty"]),
    "list_not_mapping": ("- a\n- b\n", ["(top level)", "mapping"]),
    "section_is_list": ("market: [1, 2]\n", ["market", "dictionary"]),
    "syntax": ("name: [unclosed\n", ["YAML error", "line"]),
    "python_tag": ("name: !!python/object/apply:os.system ['echo hacked']\n", ["!!python", "not allowed"]),
    "alias_bomb": ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                   "g: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n", ["alias bomb"]),
    "recursive_alias": ("a: &a [*a]\n", ["recursive alias"]),
    "initial_exceeds_aware": ("initial: {aware: 0.01, focal_free: 0.2}\n", ["initial", "must not exceed aware"]),
    "unknown_distribution": ("segments:\n  - {name: a, share: 1, wtp: {dist: gama, median: 1}}\n", ["segments.0.wtp", "unknown distribution"]),
    # keys a message could not show as written are quoted: a ':' would read as the end of the path
    "colon_key": ("market: {agents: 500, 'a:b': 1}\n", ["market.'a:b': unknown key"]),
    "empty_key": ("market: {agents: 500, '': 1}\n", ["market.'': unknown key"]),
    "control_key": ("market: {agents: 500, \"\\b\": 1}\n", ["market.'\\x08': unknown key"]),
    "ecosystem_shares_above_1": ("regions:\n  - {name: r, share: 1}\nmechanisms:\n  ecosystems:\n    shares:\n"
                                 "      r: {apple: 0.6, google: 0.5}\n",
                                 ["mechanisms.ecosystems.shares.r", "sum to at most 1"]),
    "ecosystem_unknown_region": ("regions:\n  - {name: r, share: 1}\nmechanisms:\n  ecosystems:\n    shares:\n"
                                 "      eu: {apple: 0.2}\n", ["mechanisms.ecosystems.shares.eu", "unknown region"]),
    "ecosystem_unknown": ("services:\n  focal: {name: S, ecosystem: nokia}\n", ["services.focal.ecosystem", "'apple'"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_scenario_exits_2_with_key_path(case, write_yaml, tmp_path, capsys):
    text, expected = CASES[case]
    path = write_yaml(text)
    out = tmp_path / "out"
    code = main(["run", str(path), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert str(path) in err.replace("\n", "")
    for fragment in expected:
        assert fragment in err.replace("\n", ""), err
    assert "Traceback" not in err
    assert not out.exists()
    assert not any(p.name.startswith(".out") for p in tmp_path.iterdir()), "temporary output left behind"


def test_undecodable_bytes(write_yaml, capsys):
    path = write_yaml(b"name: \xff\xfe\x00bad\n")
    assert main(["validate", str(path)]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_missing_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_python_tag_executes_nothing(write_yaml, tmp_path, capsys):
    marker = tmp_path / "pwned"
    path = write_yaml(f"name: !!python/object/apply:os.system ['touch {marker}']\n")
    assert main(["validate", str(path)]) == 2
    assert not marker.exists()


def test_unknown_set_path(write_yaml, tmp_path, capsys):
    path = write_yaml(GOOD)
    code = main(["run", str(path), "--set", "services.focal.plans.individual.prce=3", "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "did you mean 'price'" in err and not (tmp_path / "o").exists()


def test_bad_set_value(write_yaml, tmp_path, capsys):
    path = write_yaml(GOOD)
    assert main(["run", str(path), "--set", "services.focal.ad_load=-1", "--quiet", "--out", str(tmp_path / "o")]) == 2
    assert "services.focal.ad_load" in capsys.readouterr().err


def test_subprocess_exit_code_and_single_message(write_yaml):
    """As a user sees it: exit status 2, one short message, no traceback."""
    path = write_yaml("name: x\nmarket: {agnets: 5}\n")
    proc = run_cli("validate", str(path))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "market.agnets" in proc.stderr and "did you mean 'agents'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 3


def test_validate_good_file(write_yaml, capsys):
    assert main(["validate", str(write_yaml(GOOD))]) == 0
