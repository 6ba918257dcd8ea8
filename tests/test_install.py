"""Installs that run anywhere: the numba cache finds a writable folder, the prefetch hint has a
plain fallback, and the wheel runs from a read-only prefix for a user without a writable home."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import pytest
from numba import njit
from numba.core.caching import NullCache
from numba.core.dispatcher import Dispatcher

import sim
import sim.kernels
from tests.helpers import ROOT

def _prefetching():
    """A fresh (uncompiled) kernel that asks for a prefetch of a 1-d and a 2-d array."""
    @njit
    def f(i, a, b):
        sim.kernels.prefetch(i, a, b)
        return a[i] + b[i, 1]
    return f


def _compiled(fn) -> tuple[float, str]:
    a, b = np.arange(10.0), np.arange(30.0).reshape(10, 3)
    return fn(4, a, b), "".join(fn.inspect_llvm().values())


def test_prefetch_emits_the_llvm_hint():
    value, llvm = _compiled(_prefetching())
    assert value == 4.0 + 13.0 and "llvm.prefetch" in llvm


def test_prefetch_falls_back_to_nothing_where_numba_internals_fail(monkeypatch):
    # a numba whose internals moved: the kernel still compiles, without the hint, to the same value
    monkeypatch.setattr(sim.kernels, "cgutils", types.SimpleNamespace())
    value, llvm = _compiled(_prefetching())
    assert value == 4.0 + 13.0 and "llvm.prefetch" not in llvm


def test_prefetch_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("FREEMIUM_SIM_PREFETCH", "0")
    value, llvm = _compiled(_prefetching())
    assert value == 4.0 + 13.0 and "llvm.prefetch" not in llvm


def test_numba_cache_goes_to_the_user_cache_then_the_temporary_folder(monkeypatch, tmp_path):
    # a folder below a plain file cannot be made, even by root: the package's and then the user's cache are unwritable
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(sim.sys.modules["numba"].config, "CACHE_DIR", "")
    monkeypatch.setattr(sim, "__file__", str(blocked / "sim" / "__init__.py"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    version = sim.VERSION_PREFIX + sim.kernel_fingerprint()
    assert sim.numba_cache_dir() == str(tmp_path / "cache" / "freemium-sim" / "numba" / version)
    assert sim.sys.modules["numba"].config.CACHE_DIR == os.environ["NUMBA_CACHE_DIR"]

    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    private = tmp_path / "tmp" / f"freemium-sim-{os.getuid()}"
    assert sim.numba_cache_dir() == str(private / "numba" / version) == os.environ["NUMBA_CACHE_DIR"]
    assert stat.S_IMODE(private.stat().st_mode) == 0o700  # numba's cache files are pickles: nobody else may write them


def test_numba_cache_refuses_a_temporary_folder_others_can_write(monkeypatch, tmp_path, capsys):
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(sim, "__file__", str(blocked / "sim" / "__init__.py"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    planted = tmp_path / f"freemium-sim-{os.getuid()}"
    planted.mkdir(mode=0o777)
    planted.chmod(0o777)
    monkeypatch.delenv("FREEMIUM_SIM_UNCACHED", raising=False)
    # the uncached mode changes numba's dispatcher for the whole process: restored after this test
    monkeypatch.setattr(Dispatcher, "enable_caching", Dispatcher.enable_caching)
    assert sim.numba_cache_dir() is None and "NUMBA_CACHE_DIR" not in os.environ
    assert "without a cache" in capsys.readouterr().err
    assert sim.numba_cache_dir() is None and not capsys.readouterr().err  # said once
    assert isinstance(njit(cache=True)(lambda x: x + 1)._cache, NullCache)


def test_the_kernels_of_the_users_numba_folder_are_kept_per_version_and_a_worker_keeps_its_parents(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(sim.sys.modules["numba"].config, "CACHE_DIR", str(tmp_path))
    folder = sim.numba_cache_dir()
    assert folder == str(tmp_path / (sim.VERSION_PREFIX + sim.kernel_fingerprint())) == os.environ["NUMBA_CACHE_DIR"]
    assert sim.numba_cache_dir() == folder  # a process started by this one: the same folder, not one inside it


def test_only_the_two_latest_other_versions_of_the_kernels_stay(tmp_path):
    versions = [tmp_path / f"{sim.VERSION_PREFIX}{k:016x}" for k in range(5)]
    for age, v in enumerate(versions):
        v.mkdir()
        os.utime(v, (1e9 - age, 1e9 - age))  # version 0 the latest
    mine = tmp_path / "freemium-sim-kernels-mine"  # not a version folder of the package: never touched
    mine.mkdir()
    sim._prune_versions(str(versions[4]))  # in use: kept, however old
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (versions[0], versions[1], versions[4], mine))


def test_no_kernel_compiles_from_the_folders_left_out_of_the_fingerprint():
    """The modules of sim.NO_KERNELS may change without recompiling: nothing a compiled module imports, directly or
    through other modules, is among them (else an edit there would leave a kernel stale, as below)."""
    from tests.test_imports import SIM, import_graph, module_name

    graph = import_graph()
    compiled = [module_name(p) for p in SIM.rglob("*.py") if "@njit" in p.read_text() or "@intrinsic" in p.read_text()]
    reached, todo = set(), list(compiled)
    while todo:
        if (m := todo.pop()) not in reached:
            reached.add(m)
            todo.extend(graph[m])
    left_out = {f"sim.{name.removesuffix('.py')}" for name in sim.NO_KERNELS}
    assert compiled and not {m for m in reached if m in left_out or m.rsplit(".", 1)[0] in left_out}, sorted(reached)


PROBE = ("import numpy as np, sim\n"
         "from sim.mechanics.tastes import service_keys, tastes\n"
         "print(list(tastes(service_keys(np.uint64(7), 3), np.arange(4), np.array([0, 1, 2, 0]), 1.0)))\n")


def test_an_edit_to_a_helper_a_kernel_inlines_from_another_module_recompiles_the_kernel(tmp_path):
    """numba checks only a kernel's own file: the tastes' kernel (sim/mechanics/tastes.py) inlines the draws of
    sim/random.py, so halving every draw there left its cached kernel giving the old tastes (seen before the
    kernels were kept per version). An edit where no kernel compiles from keeps the version."""
    shutil.copytree(ROOT / "sim", tmp_path / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)

    def probe() -> str:
        return subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=tmp_path, capture_output=True, text=True,
                              check=True).stdout

    before = probe()
    source = tmp_path / "sim" / "random.py"
    text = source.read_text()
    assert "_TO_UNIT = 1.0 / " in text
    source.write_text(text.replace("_TO_UNIT = 1.0 / ", "_TO_UNIT = 0.5 / "))
    assert probe() != before
    versions = {p.name for p in (tmp_path / "sim" / "__pycache__").iterdir() if p.name.startswith(sim.VERSION_PREFIX)}
    cli = tmp_path / "sim" / "cli.py"
    cli.write_text(cli.read_text() + "\n# an edit above the model\n")
    probe()
    assert {p.name for p in (tmp_path / "sim" / "__pycache__").iterdir() if p.name.startswith(sim.VERSION_PREFIX)} == versions


def test_matplotlib_config_goes_to_the_user_cache_where_its_own_folder_is_not_writable(monkeypatch, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocked))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert sim.matplotlib_config_dir() == str(tmp_path / "cache" / "freemium-sim" / "matplotlib") == os.environ["MPLCONFIGDIR"]
    monkeypatch.delenv("MPLCONFIGDIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert sim.matplotlib_config_dir() is None and "MPLCONFIGDIR" not in os.environ


def _unprivileged() -> list[str]:
    """The prefix of a command that runs without the power to write what its permissions forbid: none for a
    plain user; for root (CI) ``setpriv`` dropping every capability, so root obeys the permission bits."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux): cannot make a folder read-only for this user")
    return [setpriv, "--bounding-set=-all", "--inh-caps=-all"]


@pytest.mark.slow
def test_with_no_writable_cache_folder_the_kernels_run_uncached_and_one_line_says_so(tmp_path):
    """Every candidate refused: the package read-only, a home that cannot be written, and in the
    temporary folder a private folder others can write. A small run compiles its kernels without a
    cache (numba would otherwise raise "no locator available"), says so in one line, and writes no cache."""
    user = _unprivileged()
    pkg, home, tmp, run = (tmp_path / d for d in ("pkg", "home", "tmp", "run"))
    for d in (home, tmp, run):
        d.mkdir()
    shutil.copytree(ROOT / "sim", pkg / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    planted = tmp / f"freemium-sim-{os.getuid()}"
    planted.mkdir()
    planted.chmod(0o777)
    try:
        for p in [pkg, *pkg.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        home.chmod(0o555)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(tmp),
               "PYTHONPATH": str(pkg), "LANG": "C.UTF-8"}
        done = subprocess.run([*user, sys.executable, "-m", "sim.cli", "run", str(ROOT / "scenarios" / "baseline.yaml"),
                               "--out", "out", "--set", "market.agents=400", "--set", "time.months=2",
                               "--set", "replicates=1", "--set", "network.mean_degree=4"],
                              env=env, cwd=run, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
        said = [line for line in done.stderr.splitlines() if "compiled kernels" in line]
        assert len(said) == 1 and "without a cache" in said[0] and "NUMBA_CACHE_DIR" in said[0], done.stderr[-3000:]
        assert not [line for line in done.stderr.splitlines() if "atplotlib" in line], done.stderr[-3000:]
        assert any((run / "out").rglob("timeseries*")), list((run / "out").rglob("*"))
        assert not [p for p in tmp_path.rglob("*") if p.suffix in (".nbi", ".nbc")]
    finally:
        for p in [tmp_path, *tmp_path.rglob("*")]:
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)


@pytest.mark.slow
def test_the_wheel_runs_from_a_read_only_prefix_without_a_writable_home():
    """Build the wheel, install it into a read-only folder, and run a small model as a user whose
    home cannot be written: the kernels compile and cache in the temporary folder."""
    user = _unprivileged()
    work = Path(tempfile.mkdtemp(prefix="freemium-ro-"))
    try:
        src, wheels, prefix, home, tmp, run = (work / d for d in ("src", "wheels", "prefix", "home", "tmp", "run"))
        for d in (src, home, tmp, run):
            d.mkdir()
        shutil.copytree(ROOT / "sim", src / "sim", ignore=shutil.ignore_patterns("__pycache__"))
        for f in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / f, src / f)
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "--quiet"]
        subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(src)],
                       check=True, capture_output=True, cwd=work, timeout=300)
        wheel = next(wheels.glob("freemium_sim-*.whl"))
        subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(prefix), str(wheel)],
                       check=True, capture_output=True, cwd=work, timeout=300)
        shutil.copy(ROOT / "scenarios" / "baseline.yaml", run / "baseline.yaml")
        for p in [prefix, *prefix.rglob("*")]:  # read-only, for its owner too
            p.chmod(0o555 if p.is_dir() else 0o444)
        home.chmod(0o555)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(tmp),
               "PYTHONPATH": str(prefix), "LANG": "C.UTF-8"}
        where = subprocess.run([*user, sys.executable, "-c", "import sim; print(sim.__file__)"], env=env, cwd=run,
                               capture_output=True, text=True, timeout=120)
        assert where.returncode == 0 and where.stdout.startswith(str(prefix)), where.stderr
        done = subprocess.run([*user, sys.executable, "-m", "sim.cli", "run", "baseline.yaml", "--out", "out", "--set", "market.agents=400",
                               "--set", "time.months=2", "--set", "replicates=1", "--set", "network.mean_degree=4"],
                              env=env, cwd=run, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        assert not [line for line in done.stderr.splitlines() if "arning" in line or "atplotlib" in line], done.stderr[-3000:]
        assert (run / "out" / "timeseries.csv").exists() or any((run / "out").rglob("timeseries*")), list((run / "out").rglob("*"))
        cache = tmp / f"freemium-sim-{os.getuid()}" / "numba"
        assert any(cache.rglob("*.nbi")), "no kernel cached in the temporary folder"
        assert not any(prefix.rglob("*.nbi"))
    finally:
        for p in [work, *work.rglob("*")]:
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)
        shutil.rmtree(work, ignore_errors=True)
