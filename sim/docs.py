"""Generate the parameter tables of docs/odd.md from the scenario schema and its table of outputs from
the KPI registry (``sim.metrics.KPIS``), and put the current generated numbers into every doc
(``make docs``; ``sim/docnumbers.py`` says how docs quote them).

Each generated block sits between two markers in docs/odd.md; everything else in the file is
written by hand. A test checks that the committed files match the schema, the registry and the numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sim.metrics import KPIS
from sim.scenario import parameter_table

BEGIN = "<!-- BEGIN PARAMETERS: generated from sim/scenario/ by `make docs`; do not edit by hand -->"
END = "<!-- END PARAMETERS -->"
KPI_BEGIN = "<!-- BEGIN KPIS: generated from the registry KPIS of sim/metrics.py by `make docs`; do not edit by hand -->"
KPI_END = "<!-- END KPIS -->"
ODD = Path(__file__).resolve().parents[1] / "docs" / "odd.md"


def _cell(value) -> str:
    text = str(value)
    return (text if len(text) <= 60 else text[:57] + "...").replace("|", "\\|")


def parameter_markdown() -> str:
    """Every parameter as Markdown tables, one per top-level section."""
    out: list[str] = []
    section = None
    for p in parameter_table():
        parts = p.path.split(".")
        top = ("scenario" if p.path != "timeline" else "timeline") if len(parts) == 1 else ".".join(parts[:2] if parts[0] in ("services", "mechanisms") else parts[:1])
        if top != section:
            section = top
            out += ["", f"#### {section}", "", "| parameter | default | unit | range | description |", "|---|---|---|---|---|"]
        rng = "" if p.low is None and p.high is None else f"{'' if p.low is None else f'{p.low:g}'} .. {'' if p.high is None else f'{p.high:g}'}"
        out.append(f"| `{p.path}` | {_cell(p.default)} | {p.unit} | {rng} | {p.description} |")
    return "\n".join(out).strip() + "\n"


def kpi_markdown() -> str:
    """Every column of timeseries.parquet after its keys, in its order: unit, per service or market-wide,
    in summary.json or not, and what it means (the registry's ``doc``)."""
    out = ["| column | unit | per | summary | meaning |", "|---|---|---|---|---|"]
    for k in KPIS:
        out.append(f"| `{k.name}` | {k.unit} | {'market' if k.market else 'service'} | {'yes' if k.summary else ''} | {k.doc} |")
    return "\n".join(out) + "\n"


def _between(text: str, begin: str, end: str, block: str) -> str:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{block}{end}{tail}"


def render(text: str) -> str:
    """``text`` with the generated blocks between their markers replaced by the current tables."""
    return _between(_between(text, BEGIN, END, parameter_markdown()), KPI_BEGIN, KPI_END, kpi_markdown())


def main() -> int:
    from sim.atomic import write_atomic
    from sim.docnumbers import refresh_documents

    write_atomic(ODD, render(ODD.read_text()).encode())  # a crash leaves docs/odd.md as it was, never cut
    print(f"updated {ODD}")
    for path in refresh_documents():
        print(f"updated the generated numbers of {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
