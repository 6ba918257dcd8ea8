"""The step runs its mechanisms in the order ``docs/odd.md`` 1.3 lists, joined mechanisms included
(``sim.mechanics``: a module declaring ``RUNS_AFTER`` joins the step at that extension point)."""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from types import SimpleNamespace

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


@pytest.fixture
def extra_module(tmp_path, monkeypatch):
    """Write a module into the mechanics package for one test: ``extra_module(name, source)``."""
    written = []

    def write(name: str, source: str) -> None:
        (tmp_path / f"{name}.py").write_text(source)
        written.append(name)

    monkeypatch.setattr(mechanics, "__path__", [*mechanics.__path__, str(tmp_path)])
    mechanics.joined.cache_clear()
    yield write
    for name in written:
        sys.modules.pop(f"sim.mechanics.{name}", None)
    mechanics.joined.cache_clear()


def test_a_module_joining_an_unknown_point_is_named(extra_module):
    extra_module("zz_nowhere", 'RUNS_AFTER = "lunch"\n')
    with pytest.raises(mechanics.JoinError, match=r"sim/mechanics/zz_nowhere.py: RUNS_AFTER = 'lunch' .*allowed: listening"):
        mechanics.joined("listening")


def test_a_joined_module_without_a_schema_section_is_named(extra_module):
    extra_module("aa_orphan", 'RUNS_AFTER = "listening"\n\ndef step(cfg, ctx):\n    return cfg\n')
    ctx = SimpleNamespace(scenario=small_scenario(), results={})
    with pytest.raises(mechanics.JoinError, match=r"sim/mechanics/aa_orphan.py joins .* no section mechanisms.aa_orphan"):
        mechanics.run_after("listening", ctx)
    assert ctx.results == {}
