"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def write_yaml(tmp_path):
    """Write text (or bytes) to a file in tmp_path and return its path."""
    def _write(content: str | bytes, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path
    return _write
