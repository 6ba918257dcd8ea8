"""One display layer for KPI values, shared by the terminal and the HTML pages (JSON keeps raw numbers).

Values come formatted by :func:`sim.metrics.format_kpi` (people as whole numbers or M/bn,
shares and rates in %, money in M/bn); this module adds what tables need around it: the
unit column, signed differences and intervals.
"""

from __future__ import annotations

from sim.metrics import format_kpi, kpi_unit


def unit_label(name: str) -> str:
    """The unit column of a KPI table: shares shown as %."""
    return kpi_unit(name).replace("share", "%")


def format_change(value: float | None, name: str) -> str:
    """A difference with its sign (+1.2 M, -345,000; for shares +0.4%: percentage points)."""
    if value is None or value != value:
        return "n/a"
    return ("+" if value > 0 else "-" if value < 0 else "") + format_kpi(abs(value), name)


def format_interval(low: float | None, high: float | None, name: str, signed: bool = False) -> str:
    """``low .. high`` in the KPI's display, signed for differences; '-' without an interval."""
    if low is None or high is None:
        return "-"
    fmt = format_change if signed else format_kpi
    return f"{fmt(low, name)} .. {fmt(high, name)}"
