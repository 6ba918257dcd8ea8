"""Output folders never destroy: real folders holding real files, every way a --out can be wrong.

Each refusal is exit 2 with one message, *before* anything is simulated (the simulation is
replaced by one that fails the test), and leaves every file as it was.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import sim.runner
from sim.cli import main
from sim.outputs import MARKER, clean_stale, write_marker
from sim.runner import write_outputs
from sim.scenario import apply_overrides, load_scenario
from tests.helpers import ROOT

TINY = "name: tiny\nreplicates: 1\ntime: {start: 2015-01, months: 3}\nmarket: {population: 1.0e6, agents: 200}\n"
SWEEP = """name: tinysweep
base: tiny.yaml
seed: 1
design: {kind: lhs, n: 2}
parameters:
  services.focal.ad_load: {low: 1.0, high: 3.0}
kpis:
  - {column: mau, agg: final}
"""


@pytest.fixture
def tiny(write_yaml):
    return write_yaml(TINY, "tiny.yaml")


@pytest.fixture
def no_simulation(monkeypatch):
    """Any simulation fails the test: a refusal must come before it."""
    def forbidden(*args, **kwargs):
        raise AssertionError("simulated before refusing the output folder")
    monkeypatch.setattr(sim.runner, "run_replicates", forbidden)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run(tiny: Path, out: Path | str, *extra: str) -> int:
    return main(["run", str(tiny), "--out", str(out), "--quiet", *extra])


def refused(capsys, *fragments: str) -> str:
    err = capsys.readouterr().err.replace("\n", "")
    assert "Traceback" not in err
    for f in fragments:
        assert f in err, err
    return err


def earlier_run(tiny: Path, out: Path, seed: int = 1) -> None:
    """Write a result of `run` into ``out`` the way `run` does, without its report (whose figures take seconds)."""
    scenario = apply_overrides(load_scenario(tiny), {"seed": seed})
    write_outputs(out, scenario, sim.runner.run_replicates(scenario, 1, seed, 1), seed, 0.0, ["test"])


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ---------------------------------------------------------------- refusals


def test_foreign_folder_refused_and_untouched(tiny, tmp_path, capsys, no_simulation):
    out = tmp_path / "mine"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("a week of work")
    (out / "sub" / "data.csv").write_text("1,2,3\n")
    before = snapshot(out)
    assert run(tiny, out) == 2
    refused(capsys, "did not write", "notes.txt")
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "tiny.yaml"], "nothing written beside it"


@pytest.mark.parametrize("out", [".", ".."])
def test_current_folder_and_its_parents_refused(out, tiny, tmp_path, capsys, monkeypatch, no_simulation):
    work = tmp_path / "work"
    work.mkdir()
    (work / "thesis.tex").write_text("chapter 1")
    monkeypatch.chdir(work)
    before = snapshot(tmp_path)
    assert run(tiny, out) == 2
    refused(capsys, "current folder")
    assert snapshot(tmp_path) == before


def test_file_refused_and_untouched(tiny, tmp_path, capsys, no_simulation):
    out = tmp_path / "report.pdf"
    out.write_bytes(b"%PDF precious")
    assert run(tiny, out) == 2
    refused(capsys, "is a file")
    assert out.read_bytes() == b"%PDF precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf", "tiny.yaml"]


def test_link_refused(tiny, tmp_path, capsys, no_simulation):
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    (tmp_path / "link").symlink_to(target)
    assert run(tiny, tmp_path / "link") == 2
    refused(capsys, "symbolic link")
    assert (target / "keep.txt").read_text() == "x"


def test_results_root_refused(tiny, tmp_path, capsys, monkeypatch, no_simulation):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results" / "old").mkdir(parents=True)
    (tmp_path / "results" / "old" / "summary.json").write_text("{}")
    before = snapshot(tmp_path / "results")
    assert run(tiny, "results") == 2
    refused(capsys, "results folder itself")
    assert snapshot(tmp_path / "results") == before


@pytest.mark.parametrize("name", [".", "..", ".hidden", "a/b", "../escape", "x" * 101])
def test_scenario_name_cannot_escape_or_equal_the_results_folder(name, write_yaml, tmp_path, capsys, monkeypatch,
                                                                  no_simulation):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    path = write_yaml(TINY.replace("name: tiny", f"name: '{name}'"), "bad.yaml")
    assert main(["run", str(path), "--quiet"]) == 2
    err = refused(capsys, "name")
    assert len(err) < 400
    assert list((tmp_path / "results").iterdir()) == []


def test_unwritable_place_refused_before_simulating(tiny, tmp_path, capsys, no_simulation):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    assert run(tiny, blocker / "sub" / "out") == 2
    refused(capsys, "is a file, so this folder cannot be made there")


def test_disk_space_checked_before_simulating(tiny, tmp_path, capsys, monkeypatch, no_simulation):
    import shutil

    import sim.outputs

    monkeypatch.setattr(sim.outputs.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    assert run(tiny, tmp_path / "out") == 2
    refused(capsys, "of disk", "1.0 kB free")
    assert not (tmp_path / "out").exists()


def test_memory_estimated_before_simulating(tiny, tmp_path, capsys, monkeypatch):
    import sim.resources

    monkeypatch.setattr(sim.resources, "available_memory", lambda: 1_000_000)
    assert run(tiny, tmp_path / "out", "--set", "market.agents=100000") == 2
    refused(capsys, "market.agents", "100,000 listeners", "of memory", "1.0 MB available")
    assert not (tmp_path / "out").exists()


def test_memory_refusal_says_how_many_listeners_would_fit(tiny, tmp_path, capsys, monkeypatch):
    import sim.resources

    big = apply_overrides(load_scenario(tiny), {"market.agents": 1_000_000})
    have = sim.resources.run_bytes(big, 1, 1) // 2
    monkeypatch.setattr(sim.resources, "available_memory", lambda: have)
    assert run(tiny, tmp_path / "out", "--set", "market.agents=1000000", "--replicates", "1", "--workers", "1") == 2
    err = capsys.readouterr().err
    fit = int(err.split("at most ")[1].split(" listeners")[0].replace(",", ""))
    assert 400_000 < fit < 500_000, err  # half the memory, less the fixed part
    assert sim.resources.run_bytes(apply_overrides(big, {"market.agents": fit}), 1, 1) <= have


# ---------------------------------------------------------------- what may be replaced


def test_earlier_result_is_replaced_whole(tiny, tmp_path):
    out = tmp_path / "res"
    assert run(tiny, out, "--seed", "1") == 0
    marker = json.loads((out / MARKER).read_text())
    assert marker["package"] == "freemium-sim" and marker["kind"] == "run"
    assert set(marker["files"]) == {p.relative_to(out).as_posix() for p in out.rglob("*")} - {MARKER}
    assert "figures" in marker["files"] and "report.html" in marker["files"]
    earlier_run(tiny, out, seed=2)
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2
    assert not (out / "report.html").exists(), "replaced whole, not merged"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res", "tiny.yaml"], "no temporary or old folder left"


def test_result_of_an_earlier_version_without_marker_is_replaced(tiny, tmp_path):
    out = tmp_path / "res"
    earlier_run(tiny, out)
    (out / MARKER).unlink()  # as written before the marker existed,
    (out / "regions.parquet").unlink()  # and before regions.parquet
    assert run(tiny, out, "--seed", "3") == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 3


def test_earlier_result_with_a_foreign_file_refused(tiny, tmp_path, capsys, no_simulation):
    out = tmp_path / "res"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"package": "freemium-sim"}))
    (out / "my-analysis.ipynb").write_text("{}")
    before = snapshot(out)
    assert run(tiny, out) == 2
    refused(capsys, "my-analysis.ipynb", "nothing was changed")
    assert snapshot(out) == before


def test_file_added_inside_an_earlier_result_refused(tiny, tmp_path, capsys):
    out = tmp_path / "res"
    assert run(tiny, out) == 0
    (out / "figures" / "my-annotated.png").write_bytes(b"mine")
    before = snapshot(out)
    assert run(tiny, out) == 2
    refused(capsys, "figures/my-annotated.png")
    assert snapshot(out) == before
    (out / MARKER).unlink()  # a result written before the marker: its figures/ holds only PNG files
    (out / "figures" / "my-annotated.png").unlink()
    (out / "figures" / "notes.txt").write_text("mine")
    assert run(tiny, out) == 2
    refused(capsys, "figures/notes.txt")


def test_sweep_and_run_folders_do_not_replace_each_other(tiny, tmp_path, write_yaml, capsys):
    sweep = write_yaml(SWEEP, "tinysweep.yaml")
    sweep_out, run_out = tmp_path / "sw", tmp_path / "res"
    assert main(["sweep", str(sweep), "--out", str(sweep_out), "--quiet", "--workers", "1"]) == 0
    assert json.loads((sweep_out / MARKER).read_text())["kind"] == "sweep"
    assert run(tiny, run_out) == 0
    before = snapshot(sweep_out), snapshot(run_out)
    capsys.readouterr()
    assert run(tiny, sweep_out) == 2
    refused(capsys, "holds a sweep result")
    assert main(["sweep", str(sweep), "--out", str(run_out), "--quiet", "--workers", "1"]) == 2
    refused(capsys, "holds a run result")
    assert (snapshot(sweep_out), snapshot(run_out)) == before


def test_sweep_into_a_foreign_folder_refused(tmp_path, write_yaml, capsys):
    write_yaml(TINY, "tiny.yaml")
    sweep = write_yaml(SWEEP, "tinysweep.yaml")
    out = tmp_path / "data"
    out.mkdir()
    (out / "field-notes.txt").write_text("x")
    assert main(["sweep", str(sweep), "--out", str(out), "--quiet", "--workers", "1"]) == 2
    refused(capsys, "field-notes.txt")
    assert sorted(p.name for p in out.iterdir()) == ["field-notes.txt"]


def test_compare_and_calibrate_refuse_a_foreign_folder(tiny, tmp_path, capsys, no_simulation):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main(["compare", str(tiny), "--set", "services.focal.ad_load=3", "--out", str(out), "--quiet"]) == 2
    refused(capsys, "keep.txt")
    cal = ROOT / "scenarios" / "calibration" / "synthetic.yaml"
    assert main(["calibrate", str(cal), "--out", str(out), "--quiet", "--trials", "1"]) == 2
    refused(capsys, "keep.txt")
    assert snapshot(out) == {"keep.txt": b"x"}


# ---------------------------------------------------------------- one writer at a time


HOLD = """
import sys, time
from pathlib import Path
from sim.outputs import writer_lock
with writer_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(120)
"""


def test_concurrent_writer_refused_and_dead_holder_taken_over(tiny, tmp_path, capsys):
    out = tmp_path / "res"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert run(tiny, out) == 2
        refused(capsys, "another freemium-sim process", f"pid {holder.pid}")
        assert not out.exists()
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # dies holding the lock: its file stays, the kernel drops the lock
        holder.wait()
    assert (tmp_path / ".res.lock").exists()
    assert run(tiny, out) == 0
    assert (out / "manifest.json").exists()
    assert not (tmp_path / ".res.lock").exists()


ORPHAN = """
import os, sys, time
from pathlib import Path
from sim.outputs import writer_lock
writer_lock(Path(sys.argv[1])).__enter__()
child = os.fork()  # as a worker pool does while the command holds its folder
if child == 0:
    time.sleep(60)
    os._exit(0)
print(child, flush=True)
os._exit(0)  # the command dies; its worker lives on
"""


def test_lock_is_not_kept_by_workers_of_a_dead_command(tmp_path):
    from sim.outputs import writer_lock

    out = tmp_path / "res"
    proc = subprocess.Popen([sys.executable, "-c", ORPHAN, str(out)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    orphan = int(proc.stdout.readline())
    proc.wait(timeout=30)
    proc.stdout.close()  # the orphan keeps its copy of the pipe: do not wait for its end
    try:
        with writer_lock(out):
            pass
    finally:
        os.kill(orphan, signal.SIGKILL)


@pytest.mark.slow  # two real processes racing (the lock itself is tested above, in-process)
def test_two_runs_at_once_never_both_succeed_silently(tiny, tmp_path):
    out = tmp_path / "res"
    cmd = [sys.executable, "-m", "sim.cli", "run", str(tiny), "--out", str(out), "--quiet", "--workers", "1"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    codes = sorted(p.wait(timeout=120) for p in procs)
    errors = [p.stderr.read() for p in procs]
    # serialised: either one was refused while the other wrote, or the second began after the first finished
    assert codes in ([0, 2], [0, 0]), errors
    if codes == [0, 2]:
        assert any("another freemium-sim process" in e for e in errors)
    assert all("Traceback" not in e for e in errors)
    assert (out / "manifest.json").exists()


# ---------------------------------------------------------------- leftovers and permissions


def test_stale_temporaries_of_dead_writers_cleaned(tiny, tmp_path):
    dead = dead_pid()
    stale = [tmp_path / f".res.tmp-{dead}-0123abcd", tmp_path / ".res.tmp-k2j_x9q0"]  # the second: older naming
    live = tmp_path / f".res.tmp-{os.getppid()}-0123abcd"
    other = tmp_path / f".other.tmp-{dead}-0123abcd"
    for d in (*stale, live, other):
        d.mkdir()
        (d / "timeseries.parquet").write_bytes(b"partial")
    assert run(tiny, tmp_path / "res") == 0
    assert not any(d.exists() for d in stale)
    assert live.exists() and other.exists(), "only dead writers' temporaries of this folder are removed"


def test_previous_result_moved_aside_by_a_dead_writer_is_put_back(tmp_path):
    dead = dead_pid()
    old = tmp_path / f".res.old-{dead}"
    old.mkdir()
    (old / "summary.json").write_text("{}")
    write_marker(old, "run")
    clean_stale(tmp_path / "res")
    assert (tmp_path / "res" / "summary.json").exists() and not old.exists()


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_result_folder_follows_the_umask(umask, tiny, tmp_path):
    previous = os.umask(umask)
    try:
        earlier_run(tiny, tmp_path / "res")
    finally:
        os.umask(previous)
    assert (tmp_path / "res").stat().st_mode & 0o777 == 0o777 & ~umask


def test_an_out_folder_with_bytes_that_are_not_utf8_is_refused_before_simulating(tiny, tmp_path, capsys, no_simulation):
    # it simulated, then failed with UnicodeEncodeError while writing
    out = os.fsdecode(os.fsencode(tmp_path) + b"/r\xe9sultats\xff")
    assert run(tiny, out) == 2
    refused(capsys, "--out: '", "\\xe9", "is not valid UTF-8")
    assert os.listdir(tmp_path) == ["tiny.yaml"]


def test_a_disk_that_fills_while_writing_is_one_line_exit_1_and_keeps_the_earlier_result(tiny, tmp_path, capsys, monkeypatch):
    out = tmp_path / "res"
    earlier_run(tiny, out, seed=2)
    before = snapshot(out)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "figures" / "x.png"))
    monkeypatch.setattr("matplotlib.figure.Figure.savefig", full)
    assert run(tiny, out, "--seed", "1") == 1
    err = refused(capsys, "No space left on device while writing", "an earlier result in the folder is unchanged")
    assert err.count("error:") == 1
    assert snapshot(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["res", "tiny.yaml"]
