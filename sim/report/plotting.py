"""Plotting primitives shared by the run report and `compare`.

Everything here draws on matplotlib's non-interactive Agg backend: the report
is written by batch runs and worker processes that have no display.

The one idea repeated everywhere is the *replicate band*: a scenario run with R
replicates gives R values of a series at each date; we draw their median as a
line and the 5-95% range across replicates as a shaded band, so a reader sees
both the expected path and the Monte-Carlo spread around it.
"""

from __future__ import annotations

import io

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402  (backend must be chosen first)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

#: Width of every figure in inches; at DPI this is 1000 px, the width the
#: HTML report shows figures at, so text is drawn at its intended size.
FIG_WIDTH_IN = 10.0
DPI = 100
BAND_QUANTILES = (0.05, 0.5, 0.95)
NOT_APPLICABLE = "not applicable"
#: Panel scales: people -> millions of people, EUR -> EUR millions, fraction -> %.
MILLION = 1e-6
PERCENT = 100.0


@dataclass(frozen=True)
class Panel:
    """One subplot of a banded time-series figure.

    column: the timeseries column drawn; label: y-axis label with its unit;
    scale: factor from the column's unit to the axis unit (1e-6 for people ->
    millions, 100 for a 0-1 fraction -> %).
    """

    column: str
    label: str
    scale: float = 1.0


@dataclass(frozen=True)
class FigureFile:
    """A figure written to disk: file stem, PNG path, title and a one-line
    caption saying how to read it (shown under the figure in the HTML)."""

    name: str
    path: Path
    title: str
    caption: str


def new_figure(n_rows: int, title: str, row_height_in: float = 2.6) -> tuple[Figure, list[Axes]]:
    """A figure 1000 px wide with `n_rows` stacked subplots sharing the x axis.

    Constrained layout keeps labels from overlapping and leaves room for a
    legend placed outside the axes (`fig.legend(loc="outside right upper")`).
    """
    fig, axes = plt.subplots(
        n_rows,
        1,
        figsize=(FIG_WIDTH_IN, 1.0 + row_height_in * n_rows),
        sharex=True,
        squeeze=False,
        layout="constrained",
        dpi=DPI,
    )
    fig.suptitle(title, fontsize=13, fontweight="bold")
    return fig, list(axes[:, 0])


def format_date_axis(ax: Axes, dates: pd.Series) -> None:
    """Calendar ticks on the x axis spanning `dates` (the run's months), kept
    readable from 1 to 20 years: the auto locator picks months, quarters or
    years, the concise formatter writes each year once. The limits are set
    from the data so a panel with nothing drawn still shows the run's dates."""
    ax.set_xlim(dates.min(), dates.max())
    locator = mdates.AutoDateLocator(minticks=4, maxticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("Date (month)")


def mark_not_applicable(ax: Axes, why: str = "") -> None:
    """Write 'not applicable' in an axes that has no data to draw (for example
    the ad market of a scenario without a free tier), instead of an empty
    plot or a crash."""
    text = NOT_APPLICABLE + (f"\n({why})" if why else "")
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
            fontsize=12, color="0.4")
    ax.set_yticks([])


def has_data(frame: pd.DataFrame, column: str) -> bool:
    """True when `column` exists in `frame` and holds at least one finite value."""
    return column in frame and bool(np.isfinite(frame[column].to_numpy(dtype=float)).any())


def replicate_quantiles(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Median and 5-95% band of `column` across replicates at each date.

    frame: rows of one series (one service, one scenario), with `date` and
    `replicate` columns. Returns a DataFrame indexed by date with columns
    `p05, p50, p95` in the column's own unit; NaN values (an undefined rate in
    a month) are skipped.
    """
    q = frame.groupby("date")[column].quantile(list(BAND_QUANTILES)).unstack()
    q.columns = ["p05", "p50", "p95"]
    return q


def plot_band(ax: Axes, frame: pd.DataFrame, column: str, scale: float,
              label: str, color: str | None = None, linestyle: str = "-") -> bool:
    """Draw the median line and the 5-95% replicate band of one series.

    Returns False (drawing nothing) when the series has no finite value, so
    the caller can mark the axes not applicable.
    """
    if not has_data(frame, column):
        return False
    q = replicate_quantiles(frame, column) * scale
    (line,) = ax.plot(q.index, q["p50"], label=label, color=color, linestyle=linestyle, lw=1.8)
    ax.fill_between(q.index, q["p05"], q["p95"], color=line.get_color(), alpha=0.2, lw=0)
    return True


def group_colors(labels: list[str]) -> dict[str, str]:
    """A fixed colour per series label (service or scenario), so the same
    service has the same colour in every figure of a report."""
    palette = plt.get_cmap("tab10").colors
    return {label: matplotlib.colors.to_hex(palette[i % len(palette)])
            for i, label in enumerate(labels)}


def draw_banded_panels(axes: list[Axes], frame: pd.DataFrame, panels: list[Panel],
                       group: str, order: list[str], colors: dict[str, str] | None = None) -> None:
    """Fill each axes with one panel: a median line + band per group value.

    frame: long timeseries (replicate x date x group); group: the column whose
    values become lines (`service` in a report, `scenario` in a comparison);
    order: those values in legend order; colors: each value's colour (default:
    the palette in that order). A panel with no finite data for any group is
    marked not applicable.
    """
    colors = colors or group_colors(order)
    for ax, panel in zip(axes, panels):
        drawn = [plot_band(ax, frame[frame[group] == g], panel.column, panel.scale,
                           label=g, color=colors[g]) for g in order]
        if not any(drawn):
            mark_not_applicable(ax)
        ax.set_ylabel(panel.label)
        ax.grid(alpha=0.3)


def banded_figure(frame: pd.DataFrame, panels: list[Panel], group: str,
                  order: list[str], title: str, colors: dict[str, str] | None = None,
                  window: dict | None = None) -> Figure:
    """A figure of stacked panels sharing one date axis, each panel a set of
    replicate bands (one per value of `group`, in `colors`), with one legend
    outside the data (on the right, or below when there are many or long
    labels); a `window` ({"start", "end"} months) is shaded."""
    fig, axes = new_figure(len(panels), title)
    draw_banded_panels(axes, frame, panels, group, order, colors)
    format_date_axis(axes[-1], frame["date"])
    if window is not None:
        for ax in axes:
            ax.axvspan(pd.Timestamp(window["start"]), pd.Timestamp(window["end"]), color="0.92", zorder=0)
    below = len(order) > 3 or max((len(x) for x in order), default=0) > 24
    add_outside_legend(fig, axes, below=below)
    return fig


def add_outside_legend(fig: Figure, axes: list[Axes], title: str | None = None, below: bool = False) -> None:
    """One legend for the whole figure, to the right of the axes (or `below` them, in columns),
    listing each label once even when it appears in several panels."""
    handles: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center" if below else "outside right upper",
                   ncols=min(3, len(handles)) if below else 1, title=title, frameon=False)


def plot_stack(ax: Axes, frame: pd.DataFrame, columns: list[str], labels: list[str],
               scale: float) -> bool:
    """Stacked areas of the replicate mean of several columns of one series.

    The mean (not the median) is stacked because means of parts add up to the
    mean of the whole, so the top of the stack is the mean total. Columns with
    no finite value are left out; returns False when none is left.
    """
    kept = [(c, lbl) for c, lbl in zip(columns, labels) if has_data(frame, c)]
    if not kept:
        return False
    means = frame.groupby("date")[[c for c, _ in kept]].mean().fillna(0.0) * scale
    ax.stackplot(means.index, *(means[c] for c, _ in kept), labels=[lbl for _, lbl in kept],
                 alpha=0.85)
    return True


def save_figure(fig: Figure, fig_dir: Path, name: str, title: str, caption: str) -> FigureFile:
    """Write `fig` to `fig_dir/<name>.png`, close it (figures are large and a
    report makes many) and return its FigureFile."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    path = fig_dir / f"{name}.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return FigureFile(name=name, path=path, title=title, caption=caption)


def png_bytes(fig: Figure) -> bytes:
    """`fig` as PNG bytes (tight layout), closed: for figures written atomically with their data."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


@dataclass(frozen=True)
class ForestPanel:
    """One panel of a forest grid: a KPI's differences, one row per label, in the unit ``title`` names.

    estimate, low, high: arrays (n_labels,), NaN where undefined; highlight: bool (n_labels,), drawn filled
    (an interval that excludes zero) or hollow; colors: one per label.
    """

    title: str
    labels: list[str]
    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    highlight: np.ndarray
    colors: list[str]


def forest_grid(panels: list[ForestPanel], title: str, columns: int = 3) -> Figure:
    """Small multiples of forest plots, ``columns`` panels a row, each on its own x scale with a line at
    zero; a panel without an interval (one replicate) says 'not applicable'."""
    n = max(len(panels), 1)
    cols = min(columns, n)
    rows = -(-n // cols)
    labels = max((len(p.labels) for p in panels), default=1)
    fig, axes = plt.subplots(rows, cols, figsize=(FIG_WIDTH_IN, 0.9 + rows * (0.9 + 0.28 * labels)), squeeze=False,
                             layout="constrained", dpi=DPI)
    fig.suptitle(title, fontsize=12, fontweight="bold")
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, p in zip(axes.flat, panels):
        y = np.arange(len(p.labels))[::-1]  # first label on top
        ax.axvline(0.0, color="k", lw=0.8)
        ax.hlines(y, p.low, p.high, colors=p.colors, lw=2)
        ax.scatter(p.estimate, y, s=30, zorder=3, edgecolors=p.colors,
                   facecolors=[c if h else "white" for c, h in zip(p.colors, p.highlight)])
        ax.set_yticks(y, p.labels, fontsize=8)
        ax.set_ylim(-0.7, len(p.labels) - 0.3)
        ax.set_title(p.title, fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
        if not np.isfinite(p.low).any():
            mark_not_applicable(ax, "no interval: more than one replicate is needed")
    return fig
