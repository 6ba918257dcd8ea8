"""One display layer for KPI values, shared by the terminal and the HTML pages (JSON keeps raw numbers).

Values come formatted by :func:`sim.metrics.format_kpi` (people as whole numbers or M/bn,
shares and rates in %, money in M/bn); this module adds what tables need around it: the
unit column, signed differences and intervals, and :class:`RowScale` for a table row that must
read in one unit and scale (a comparison's KPI, its differences and their intervals).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


@dataclass(frozen=True)
class RowScale:
    """One unit and scale for every number of a table row (a KPI's values, differences and intervals).

    Shares and rates are in % (their differences in percentage points, ``pp``); people and money in
    units, M or bn as the row's largest magnitude asks; decimals enough for the smallest non-zero
    difference (or interval end) of the row to show two significant digits (at most 4), so a
    difference distinguishable from zero never prints as 0.
    """

    divisor: float
    unit: str  # the row's unit label, e.g. "M people", "%", "bn EUR"
    difference_unit: str  # the unit of its differences ("pp" for a share)
    decimals: int

    @classmethod
    def of(cls, name: str, values, differences=()) -> "RowScale":
        """The scale of a row of KPI ``name`` holding ``values`` and ``differences`` (None or NaN: none)."""
        def finite_of(xs):
            return np.abs(np.array([v for v in xs if v is not None and v == v], dtype=float))

        finite, precise = finite_of([*values, *differences]), finite_of(differences)
        precise = precise if (precise > 0).any() else finite
        unit = kpi_unit(name) or "-"
        if unit.startswith("share"):
            divisor, shown, diff = 0.01, "%" + unit[len("share"):], "pp"
        else:
            top = finite.max() if finite.size else 0.0
            divisor, word = next(((d, w) for d, w in ((1e9, "bn"), (1e6, "M")) if top >= d), (1.0, ""))
            shown = f"{word} {unit}".strip()
            diff = shown
        smallest = precise[precise > 0].min() / divisor if (precise > 0).any() else 1.0
        decimals = int(min(4, max(0, 1 - np.floor(np.log10(smallest)))))
        if not unit.startswith("share") and divisor == 1.0 and unit.startswith("people"):
            decimals = 0  # people are whole persons
        return cls(divisor, shown, diff, decimals)

    def value(self, v: float | None, signed: bool = False) -> str:
        """``v`` in the row's scale, with its sign for a difference; 'n/a' when undefined."""
        if v is None or v != v:
            return "n/a"
        text = f"{v / self.divisor:{'+' if signed else ''},.{self.decimals}f}"
        return text.replace("-", "−") if signed else text

    def interval(self, low: float | None, high: float | None) -> str:
        """A difference's interval ``low .. high`` in the row's scale; '-' without one."""
        return "-" if low is None or high is None else f"{self.value(low, True)} .. {self.value(high, True)}"
