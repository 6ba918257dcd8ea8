"""Self-contained HTML pages: inline CSS, PNG figures embedded as base64
data URIs, no external URL, font or script, so a report is one file that
opens anywhere (mail attachment, offline laptop) and never changes after it
is written.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from sim.report.plotting import FigureFile

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       max-width: 1040px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
.meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6em 0 1.6em; font-size: 0.92em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td .sub { color: #666; font-size: 0.85em; }
table.wide { font-size: 0.85em; }
table.wide th, table.wide td { padding: 0.25em 0.45em; }
figure { margin: 1.5em 0 2.2em; }
figure img { width: 100%; max-width: 1000px; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.92em; margin-top: 0.3em; }
"""


def format_number(x: object) -> str:
    """A KPI value for a table: millions and billions abbreviated (M, bn),
    thousands separated, small values to 3 significant digits; NaN and None
    (no value: a KPI undefined in this run, an interval of one replicate) as
    'n/a'. Other non-numbers are shown as text."""
    if x is None:
        return "n/a"
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    if math.isnan(x):
        return "n/a"
    magnitude = abs(x)
    if magnitude >= 1e9:
        return f"{x / 1e9:,.3f} bn"
    if magnitude >= 1e6:
        return f"{x / 1e6:,.3f} M"
    if magnitude >= 1e3:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]],
          numeric: Sequence[bool] | None = None, wide: bool = False) -> str:
    """An HTML table; every cell is escaped. `numeric[i]` right-aligns
    column i and formats numbers with `format_number`; a tuple cell is
    shown as lines (a value over its interval, the second line smaller);
    a `wide` table (many columns) is set smaller and tighter."""
    numeric = numeric or [False] * len(headers)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)

    def cell(v: object, num: bool) -> str:
        if isinstance(v, tuple):
            first, *rest = (html.escape(format_number(x) if num else str(x)) for x in v)
            return (f'<td{" class=num" if num else ""}>{first}' + "".join(f'<br><span class="sub">{x}</span>' for x in rest)
                    + "</td>")
        return f'<td class="num">{html.escape(format_number(v))}</td>' if num else f"<td>{html.escape(str(v))}</td>"

    body = []
    for row in rows:
        cells = "".join(cell(v, num) for v, num in zip(row, numeric))
        body.append(f"<tr>{cells}</tr>")
    return f"<table{' class=wide' if wide else ''}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def png_data_uri(path: Path) -> str:
    """The PNG at `path` as a `data:image/png;base64,...` URI."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def figure_block(figure: FigureFile) -> str:
    """One embedded figure with its title (as alt text and heading) and caption."""
    title = html.escape(figure.title)
    return (
        f'<figure id="{html.escape(figure.name)}"><h3>{title}</h3>'
        f'<img alt="{title}" src="{png_data_uri(figure.path)}">'
        f"<figcaption>{html.escape(figure.caption)}</figcaption></figure>"
    )


def page(title: str, meta: str, body: str) -> str:
    """A complete HTML document: `title` as heading, `meta` (plain text) as a
    subtitle line, `body` (trusted HTML built by this module) below."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><p class=\"meta\">{html.escape(meta)}</p>"
        f"{body}</body></html>\n"
    )
