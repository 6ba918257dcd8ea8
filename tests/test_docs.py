"""The documentation tells the truth about the code."""

from __future__ import annotations

from sim.docs import ODD, render
from sim.scenario import parameter_table


def test_odd_parameter_tables_match_the_schema():
    text = ODD.read_text()
    assert text == render(text), "docs/odd.md is stale: run `make docs`"
    for p in parameter_table():
        assert f"`{p.path}`" in text


def test_odd_has_the_three_parts_and_every_mechanism():
    text = ODD.read_text()
    for heading in ("## 1. Overview", "## 2. Design concepts", "## 3. Details"):
        assert heading in text
    for module in ("diffusion.py", "choice.py", "personalization.py", "listening.py", "ads.py",
                   "service_quality.py", "campaigns.py", "loyalty.py"):
        assert module in text
