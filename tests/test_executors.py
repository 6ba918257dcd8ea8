"""One executor for every command: progress from workers, no orphans, Ctrl-C, a dying worker."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from rich.console import Console

import sim.commands.common
import sim.executors
from sim.cli import main
from sim.errors import ExecutorError
from sim.executors import LocalExecutor
from tests.helpers import ROOT

TINY = """
name: tiny
replicates: 3
time: {start: 2015-01, months: 8}
market: {population: 1.0e8, agents: 2500}
"""
# long enough to be interrupted mid-run (about a minute of work on one core)
LONG_RUN = ["--set", "market.agents=200000", "--set", "time.months=120", "--set", "replicates=4"]  # seconds per replicate


@pytest.mark.slow
def test_run_progress_bar_counts_every_step_under_one_and_two_workers(write_yaml, tmp_path, monkeypatch):
    scenario = write_yaml(TINY)
    outputs = {}
    for workers in ("1", "2"):
        screen = io.StringIO()
        monkeypatch.setattr(sim.commands.common, "console", Console(file=screen, force_terminal=True, width=120))
        out = tmp_path / f"w{workers}"
        assert main(["run", str(scenario), "--workers", workers, "--out", str(out)]) == 0
        assert "24/24" in screen.getvalue()  # 3 replicates x 8 steps, ticked from the workers
        outputs[workers] = (out / "timeseries.parquet").read_bytes()
    assert outputs["1"] == outputs["2"]


def test_a_worker_that_dies_has_its_runs_started_again(tmp_path):
    notices = []
    with LocalExecutor(n_workers=2, on_notice=notices.append) as ex:
        outcomes = list(ex.map_unordered(_square_or_die_once, [(i, str(tmp_path / "died")) for i in range(6)]))
    assert sorted(r for _, r, _ in outcomes) == [i * i for i in range(6)]
    assert all(e is None for _, _, e in outcomes)
    assert len(notices) == 1 and "worker process died" in notices[0]


def _square_or_die_once(task: tuple[int, str]) -> int:
    i, marker = task
    if i == 3 and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)  # the worker process dies mid-run, as if killed
    return i * i


@pytest.mark.parametrize("kind", ["run", "compare", "calibrate"])
@pytest.mark.parametrize(("options", "message"), [
    (["--scheduler", "tcp://localhost:8786"], "--scheduler: names a Dask scheduler; add --executor dask"),
    (["--executor", "dask", "--scheduler", "no-port"], "--scheduler: cannot connect to no-port"),
])
def test_every_command_refuses_a_bad_scheduler_with_exit_2(kind, options, message, write_yaml, tmp_path, capsys):
    target = {"run": ["run", str(write_yaml(TINY))], "compare": ["compare", str(write_yaml(TINY)), "--set", "services.focal.ad_load=3"],
              "calibrate": ["calibrate", str(ROOT / "scenarios/calibration/synthetic.yaml"), "--trials", "1"]}[kind]
    assert main([*target, *options, "--quiet", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.fixture(params=["silent", "garbage"])
def foreign_server(request):
    """The address of a server of another protocol: it accepts and says nothing, or answers in HTTP."""
    server = socket.create_server(("127.0.0.1", 0))
    held = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            if request.param == "garbage":
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")

    threading.Thread(target=serve, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in held:
        conn.close()


def test_a_server_of_another_protocol_is_refused_in_bounded_time(foreign_server, monkeypatch):
    """Dask's connect timeout does not cover a server that accepts and then stays silent (it waited for ever)."""
    monkeypatch.setattr(sim.executors, "CONNECT_SECONDS", 2)
    with pytest.raises(ExecutorError, match="--scheduler: (nothing at|what answered at|cannot connect to) tcp://127.0.0.1"):
        with sim.executors.DaskExecutor(foreign_server):
            pass


# ---------------------------------------------------------------- a killed or interrupted command


def start(*args: str) -> tuple[subprocess.Popen, list[psutil.Process]]:
    """``freemium-sim ARGS`` in a subprocess, once its two workers have started; (process, its children)."""
    # a shell starts a background job (``make test &``) with SIGINT ignored, which a child would
    # inherit: the command gets the default disposition, as from a terminal, whoever started pytest
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "sim.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 180  # a Dask cluster's first start on a cold, busy machine took over a minute
    # the resource tracker, two workers, and the fork server of a local pool
    expected = 3 if "dask" in args else 4
    while len(parent.children(recursive=True)) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0 if expected == 4 else 5.0)  # the workers are simulating (a Dask cluster takes longer to start)
    children = parent.children(recursive=True)
    assert len(children) >= expected, "the workers did not start"
    return proc, children


def assert_no_survivor(children: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(children, timeout=10)
    for p in alive:
        p.kill()
    assert not alive, f"orphans: {[p.cmdline() for p in alive]}"


def write_sweep(tmp_path: Path) -> Path:
    # a run takes seconds (with the compiled kernels a smaller one ends before the test interrupts it)
    (tmp_path / "base.yaml").write_text("name: tiny\nmarket: {agents: 300000}\ntime: {months: 120}\n")
    path = tmp_path / "sweep.yaml"
    path.write_text("name: tiny\nbase: base.yaml\nseed: 3\nreplicates: 2\ndesign: {kind: lhs, n: 6}\n"
                    "parameters: {services.focal.ad_load: {low: 1.0, high: 6.0}}\n"
                    "kpis: [{column: mau, agg: final}]\n")
    return path


def command(kind: str, tmp_path: Path) -> list[str]:
    """A command line of ``kind`` that runs long enough on two workers, writing to tmp_path/out."""
    if kind.startswith("run"):
        executor = ["--executor", "dask"] if kind == "run-dask" else []
        return ["run", str(ROOT / "scenarios/baseline.yaml"), *LONG_RUN, *executor, "--workers", "2",
                "--out", str(tmp_path / "out")]
    if kind == "sweep":
        return ["sweep", str(write_sweep(tmp_path)), "--workers", "2", "--out", str(tmp_path / "out")]
    return ["calibrate", str(ROOT / "scenarios/calibration/spotify.yaml"), "--trials", "3", "--replicates", "2",
            "--workers", "2", "--out", str(tmp_path / "out")]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["run", "sweep", "run-dask"])
def test_killing_the_command_leaves_no_worker_behind(kind, tmp_path):
    proc, children = start(*command(kind, tmp_path))
    proc.kill()  # SIGKILL: nothing of the command runs any more
    proc.wait()
    assert_no_survivor(children)


@pytest.mark.slow
def test_a_killed_dask_worker_prints_the_promised_warning_and_nothing_else(tmp_path):
    """The docs promise a warning when a worker dies and its runs start again; with Dask there was none, and
    the scheduler (in this process) could print its own "Couldn't gather keys" error."""
    proc, children = start("run", str(ROOT / "scenarios/baseline.yaml"), "--set", "market.agents=100000",
                           "--set", "time.months=120", "--set", "replicates=10", "--executor", "dask", "--workers", "2",
                           "--quiet", "--out", str(tmp_path / "out"))
    workers = [p for p in children if "--multiprocessing-fork" in " ".join(p.cmdline())]
    # killed once it simulates (a worker killed before it has a run tells of nothing): it starts its first run at
    # about 2 s of CPU and each of its five runs takes about 1 s, so at 5 s it is inside its third or fourth, with
    # runs left to do after the kill (6 runs killed at 3 s once printed nothing in a loaded full run)
    deadline = time.monotonic() + 120
    while sum(workers[0].cpu_times()[:2]) < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers[0].kill()
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    lines = stderr.replace("\n  ", " ").strip().splitlines()  # rich wraps a long line
    assert len(lines) == 1 and "a Dask worker died" in lines[0] and "runs again" in lines[0], stderr
    assert (tmp_path / "out" / "timeseries.parquet").exists()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["run", "sweep", "calibrate"])
def test_ctrl_c_exits_130_with_one_line_and_no_output(kind, tmp_path):
    proc, children = start(*command(kind, tmp_path))
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and stderr.rstrip().endswith("interrupted"), stderr
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")], "temporary folder left behind"
    assert_no_survivor(children)
