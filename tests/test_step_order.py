"""The step runs its mechanisms in the order ``docs/odd.md`` 1.3 lists, joined mechanisms included
(``sim.mechanics``: a module declaring ``RUNS_AFTER`` joins the step at that extension point)."""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys

import pytest

import sim.mechanics as mechanics
from sim.docs import ODD
from sim.model import MarketModel
from tests.helpers import small_scenario


def odd_order() -> list[str]:
    """The results named in ODD 1.3, in the order written: each as "`module.step` (`result`)"."""
    text = ODD.read_text()
    section = text[text.index("### 1.3 "):text.index("## 2. ")]
    return re.findall(r"`[\w.]+` \(`(\w+)`\)", section)


def test_a_step_stores_its_results_in_the_order_of_the_odd(monkeypatch):
    seen = []
    record = MarketModel.record
    monkeypatch.setattr(MarketModel, "record", lambda self, ctx: (seen.append(list(ctx.results)), record(self, ctx)))
    model = MarketModel(small_scenario({"time.months": 2, "market.agents": 500}), seed=1)
    model.step()
    model.step()
    assert len(seen) == 2 and seen[0] == seen[1]
    assert "podcasts" in seen[0] and len(seen[0]) >= 11
    assert seen[0] == odd_order()


def test_the_joined_mechanisms_are_the_modules_declaring_their_point():
    modules = [importlib.import_module(f"sim.mechanics.{m.name}") for m in pkgutil.iter_modules(mechanics.__path__)]
    declared = sorted(m.__name__.rsplit(".", 1)[1] for m in modules if getattr(m, "RUNS_AFTER", None) == "listening")
    names = [name for name, _ in mechanics.joined("listening")]
    assert "podcasts" in names and names == declared
    with pytest.raises(mechanics.JoinError, match="no extension point 'ads'.*allowed: listening"):
        mechanics.joined("ads")


def test_a_module_joining_an_unknown_point_is_named(tmp_path, monkeypatch):
    (tmp_path / "zz_nowhere.py").write_text('RUNS_AFTER = "lunch"\n')
    monkeypatch.setattr(mechanics, "__path__", [*mechanics.__path__, str(tmp_path)])
    mechanics.joined.cache_clear()
    try:
        with pytest.raises(mechanics.JoinError, match=r"sim/mechanics/zz_nowhere.py: RUNS_AFTER = 'lunch' .*allowed: listening"):
            mechanics.joined("listening")
    finally:
        sys.modules.pop("sim.mechanics.zz_nowhere", None)
        mechanics.joined.cache_clear()
