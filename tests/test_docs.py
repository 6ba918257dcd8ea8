"""The documentation tells the truth about the code."""

from __future__ import annotations

import re

import pytest

from sim import docnumbers
from sim.docnumbers import DOCUMENTS, ROOT, stale_inputs, stale_quotes
from sim.docs import KPI_BEGIN, KPI_END, ODD, render
from sim.metrics import KPIS
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
    mechanisms = sorted(p.name for p in (ROOT / "sim" / "mechanics").glob("*.py") if p.stem not in ("__init__", "context"))
    assert "diffusion.py" in mechanisms
    for module in mechanisms:
        assert f"`sim/mechanics/{module}`" in text, f"docs/odd.md has no section on sim/mechanics/{module}"


def test_odd_sections_are_numbered_in_order():
    """Each heading's number follows the one before it (3.3.12 after 3.3.11, not after 3.4)."""
    numbers = [tuple(int(x) for x in m.group(1).split(".")) for m in re.finditer(r"^#+ (\d+(?:\.\d+)*)\.? ", ODD.read_text(), re.M)]
    assert len(numbers) > 20
    assert numbers == sorted(numbers), [b for a, b in zip(numbers, numbers[1:]) if b < a]


def test_every_kpi_of_the_registry_is_documented():
    """The ODD's table of outputs (section 5) is generated from the registry ``sim.metrics.KPIS``: every KPI with
    its unit and meaning, and current (a KPI added or its ``doc`` changed without `make docs` fails here)."""
    text = ODD.read_text()
    assert text == render(text), "docs/odd.md is stale: run `make docs`"
    table = text[text.index(KPI_BEGIN):text.index(KPI_END)]
    undocumented = [k.name for k in KPIS if not k.doc.strip() or f"| `{k.name}` | {k.unit} |" not in table]
    assert not undocumented, f"KPIs without a meaning in docs/odd.md section 5: {undocumented}"


def test_the_user_guide_names_only_real_columns():
    """The user guide's overview of timeseries.parquet names keys and columns of the registry, none stale."""
    guide = (ROOT / "docs" / "user-guide.md").read_text()
    contract = guide[guide.index("**`timeseries.parquet` columns.**"):guide.index("**`summary.json` KPIs**")]
    named = set(re.findall(r"`([a-z][a-z0-9_]*)`", contract))
    assert len(named) > 30
    unknown = named - {k.name for k in KPIS} - {"replicate", "date", "step", "service", "focal"}
    assert not unknown, f"docs/user-guide.md's timeseries columns name {sorted(unknown)}, not columns of sim/metrics.py KPIS"


def test_every_quoted_number_matches_its_generated_file():
    """A doc quotes a figure of the model only as a link to docs/numbers/<file>.json#<key> (or a block between
    markers): sim/docnumbers.py. Refresh with `python -m sim.docs` after the file's command wrote it."""
    stale = [line for rel in DOCUMENTS if (ROOT / rel).exists() for line in stale_quotes((ROOT / rel).read_text(), rel)]
    assert not stale, "\n".join(stale)


def test_generated_numbers_come_from_the_current_inputs():
    """A numbers file records the digests of the scenarios it ran: change one and its command must run again."""
    assert not stale_inputs(), "\n".join(stale_inputs())


def test_a_stale_or_unknown_quote_is_caught(tmp_path, monkeypatch):
    monkeypatch.setattr(docnumbers, "NUMBERS", tmp_path)
    docnumbers.write("t", "python make_t.py", {"mau": "815 M", "table": "| a |\n"})
    fresh = "MAU [815 M](numbers/t.json#mau).\n<!-- numbers/t.json#table -->\n| a |\n<!-- end numbers/t.json#table -->\n"
    assert stale_quotes(fresh) == [] and docnumbers.refresh(fresh) == fresh
    assert len(stale_quotes(fresh.replace("[815 M]", "[515 M]"))) == 1
    assert len(stale_quotes(fresh.replace("| a |\n<", "| b |\n<"))) == 1
    assert docnumbers.refresh(fresh.replace("[815 M]", "[515 M]")) == fresh
    with pytest.raises(docnumbers.NumbersError, match="no key 'premium'"):
        stale_quotes("[184 M](numbers/t.json#premium)")
    assert docnumbers.refresh("[184 M](numbers/t.json#premium)") == "[184 M](numbers/t.json#premium)"  # until written
