"""Test helpers: small scenarios that run in a second, and a CLI runner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from sim.scenario import Scenario, apply_overrides, validate_scenario

ROOT = Path(__file__).resolve().parents[1]


def small_scenario(overrides: dict | None = None, **sections) -> Scenario:
    """A market of a few thousand listeners over two years, plus ``overrides`` by key path."""
    base = {"name": "small", "replicates": 2, "time": {"start": "2015-01", "months": 24},
            "market": {"population": 2.0e8, "agents": 3000}}
    base.update(sections)
    scenario = validate_scenario(base, "test")
    return apply_overrides(scenario, overrides) if overrides else scenario


def run_model(scenario: Scenario, seed: int):
    """A MarketModel of ``scenario`` and ``seed`` run to its horizon."""
    from sim.model import MarketModel

    model = MarketModel(scenario, seed)
    while model.running:
        model.step()
    return model


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``freemium-sim ARGS`` in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "sim.cli", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout)


class FixedDraws:
    """Step draws with chosen values per stream (n,), in place of :class:`sim.random.StepDraws` in kernel tests."""

    def __init__(self, **streams: np.ndarray):
        self.streams = streams

    def uniform(self, stream: str, idx: np.ndarray) -> np.ndarray:
        return self.streams[stream][idx]

    def below(self, stream: str, idx: np.ndarray, prob) -> np.ndarray:
        return idx[self.uniform(stream, idx) < prob]

    def below_by(self, stream: str, idx: np.ndarray, group: np.ndarray, prob: np.ndarray) -> np.ndarray:
        return self.below(stream, idx, prob[group[idx]])
