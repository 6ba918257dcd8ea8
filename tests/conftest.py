"""Shared fixtures, and hypothesis settings: derandomised under CI so a run is repeatable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI checks the same generated examples every time (a red CI must be reproducible);
# a developer's run explores new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def write_yaml(tmp_path):
    """Write text (or bytes) to a file in tmp_path and return its path."""
    def _write(content: str | bytes, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path
    return _write
