"""The market charts: six time panels redrawn cheaply while the model plays."""

from __future__ import annotations

import html
import io
from typing import TYPE_CHECKING, Any

import matplotlib.dates as mdates
import numpy as np
import PIL.Image
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.model import MarketModel
from sim.metrics import LOYALTY_STAGES

if TYPE_CHECKING:
    from sim.app.live import DashboardModel


FONT = {"font.size": 15, "axes.titlesize": 17, "axes.labelsize": 15, "legend.fontsize": 14,
        "xtick.labelsize": 14, "ytick.labelsize": 14}  # readable on a projector from the back row
LADDER = LOYALTY_STAGES  # prospect ... advocate, named once in sim.metrics
LADDER_COLOURS = ("#dee2e6", "#a5d8ff", "#4dabf7", "#1971c2", "#0b3d91")
REVENUE_COLOURS = ("#2b8a3e", "#e67700")  # subscriptions, ads
MIN_SUBSCRIBERS = 200  # simulated premium subscribers a rival needs: a 5 % churn rate then has a standard error of 1.5 points
SMOOTH_MONTHS = 3  # a rival's churn is shown as its mean over this many months
NICE = np.array([1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0])


def horizon(dates: Any) -> tuple[Any, Any]:
    """The x-axis limits of a chart over ``dates``: first to last, a month wide if there is only one."""
    return dates[0], dates[-1] if len(dates) > 1 else dates[0] + np.timedelta64(30, "D")


def nice_ceiling(x: float) -> float:
    """The smallest of 1, 1.5, 2, 3, 4, 5, 6, 8 times a power of ten that is >= ``x`` (1 if x <= 0).

    Axis tops move in these steps, so the axes (and their text, the slow part of a redraw)
    change only now and then while the data grow.
    """
    if not np.isfinite(x) or x <= 0:
        return 1.0
    power = 10.0 ** np.floor(np.log10(x))
    return float(NICE[np.searchsorted(NICE, x / power * (1 - 1e-12))] * power)


class Frames:
    """Renders a figure as PNG, redrawing its fixed parts (axes, ticks, labels) only when they change.

    Each frame restores the saved background and draws only ``dynamic`` artists over it
    (blitting): a redraw then costs the data, not the text. ``overlay`` artists (text that
    must stay on top of the data) are drawn once per ``key`` into a transparent layer that
    each frame lays over the data, so their text is not drawn again every frame either.
    """

    def __init__(self, fig: Figure):
        self.fig = fig
        self.canvas = FigureCanvasAgg(fig)
        self.background = None
        self.layer: tuple[np.ndarray, np.ndarray] | None = None  # (colour times alpha, alpha), (h, w, 3) and (h, w, 1)
        self.key: Any = None

    def png(self, dynamic: list, key: Any, overlay: list = ()) -> bytes:
        """PNG bytes of the figure; ``key`` identifies the fixed parts (e.g. the axis limits) and the overlay."""
        if key != self.key or self.background is None:
            for artist in [*dynamic, *overlay]:
                artist.set_visible(False)
            self.canvas.draw()
            self.background = self.canvas.copy_from_bbox(self.fig.bbox)
            for artist in [*dynamic, *overlay]:
                artist.set_visible(True)
            self.layer = self._layer(overlay)
            self.key = key
        else:
            self.canvas.restore_region(self.background)
        for artist in dynamic:
            self.fig.draw_artist(artist)
        rgb = np.asarray(self.canvas.buffer_rgba())[:, :, :3]
        if self.layer is not None:
            colour, alpha = self.layer
            rgb = (rgb * (1.0 - alpha) + colour + 0.5).astype(np.uint8)
        buf = io.BytesIO()
        PIL.Image.fromarray(rgb).save(buf, format="png", compress_level=1)
        return buf.getvalue()

    def _layer(self, overlay: list) -> tuple[np.ndarray, np.ndarray] | None:
        """The ``overlay`` artists alone on a transparent canvas; then the background again."""
        if not overlay:
            return None
        self.canvas.get_renderer().clear()  # Agg clears to transparent
        for artist in overlay:
            self.fig.draw_artist(artist)
        rgba = np.asarray(self.canvas.buffer_rgba(), dtype=np.float32)  # straight (not premultiplied) alpha
        alpha = rgba[:, :, 3:] / 255.0
        self.canvas.restore_region(self.background)
        return rgba[:, :, :3] * alpha, alpha


class TimePanel:
    """One market chart over time: a date axis over the whole horizon (it does not jump while
    playing), a unit on y, stacked areas or one line per series. Its own figure, so a change
    of its axis redraws only this chart."""

    def __init__(self, model: MarketModel, title: str, unit: str, colours: list[str], stacked: bool,
                 top: float | None = None):
        self.dates, self.colours, self.stacked, self.top = model.dates, colours, stacked, top
        with rc_context(FONT):
            self.fig = Figure(figsize=(5.2, 3.9), dpi=72)
            self.fig.subplots_adjust(left=0.17, right=0.97, bottom=0.1, top=0.9)
            ax = self.ax = self.fig.subplots()
            ax.set_xlim(*horizon(model.dates))
            ax.xaxis.set_major_locator(mdates.YearLocator(base=max(2, len(model.dates) // 48)))
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
            ax.set_title(title, loc="left")
            ax.set_ylabel(unit)
            ax.grid(alpha=0.3)
            ax.set_ylim(0, top or 1.0)
        self.frames = Frames(self.fig)
        self.data: list = []  # this frame's areas or lines
        self.marked: tuple[tuple[int, str], ...] = ()  # the markers drawn ...
        self.marker_artists: list = []  # ... by these artists

    def png(self, series: tuple[np.ndarray, ...], markers: tuple[tuple[int, str], ...] = (),
            ghost: tuple[np.ndarray, ...] | None = None) -> bytes:
        """The chart of ``series`` (each of shape (t,), the months so far), with a dashed line
        and its label at each ``(month index, label)`` of ``markers``, and ``ghost`` (the same
        series of the unchanged market) drawn faintly, as PNG bytes."""
        ax, dates = self.ax, self.dates[: len(series[0])]
        for artist in self.data:
            artist.remove()
        self.data = self._ghost(dates, ghost) if ghost is not None else []
        if self.stacked:
            self.data += ax.stackplot(dates, *series, colors=self.colours)
            top = max(np.sum(series, axis=0).max(initial=0.0), np.sum(ghost, axis=0).max(initial=0.0) if ghost else 0.0)
        else:
            # the first series (the focal service) is drawn last: on top of the rivals
            self.data += [ax.plot(dates, y, color=c, lw=3, zorder=3 if k == 0 else 2)[0]
                          for k, (y, c) in reversed(list(enumerate(zip(series, self.colours))))]
            top = max(np.nanmax(np.nan_to_num(series), initial=0.0),
                      np.nanmax(np.nan_to_num(ghost), initial=0.0) if ghost else 0.0)
        ax.set_ylim(0, self.top or nice_ceiling(1.05 * top))
        with rc_context(FONT):
            return self.frames.png(self.data, key=(ax.get_ylim(), markers), overlay=self._markers(markers))

    def _ghost(self, dates: Any, ghost: tuple[np.ndarray, ...]) -> list:
        """The unchanged market, faint: each line in its colour, light; a stack as the dashed tops of its bands."""
        if self.stacked:
            tops = np.cumsum(np.asarray(ghost), axis=0)
            return [self.ax.plot(dates, y, color="#212529", lw=1.3, ls=(0, (4, 3)), alpha=0.55, zorder=4)[0]
                    for y in tops]
        return [self.ax.plot(dates, y, color=c, lw=2.5, alpha=0.35, zorder=1)[0] for y, c in zip(ghost, self.colours)]

    def _markers(self, markers: tuple[tuple[int, str], ...]) -> list:
        """The markers' artists, made again only when the markers change; an overlay of the
        frames, so a stacked area cannot hide them."""
        if markers != self.marked:
            for artist in self.marker_artists:
                artist.remove()
            self.marker_artists = [a for k, (step, label) in enumerate(markers)
                                   for a in self._marker(self.dates[step], label, k)]
            self.marked = markers
        return self.marker_artists

    def _marker(self, date: Any, label: str, k: int) -> list:
        """A live change: a thin line at its month, its label small at the top edge, left of
        the line (the months after the change, where the response shows, stay clear; in the
        first quarter of the horizon, where there is no room on the left, right of it); the
        ``k``-th marker's label a row lower, so labels of nearby changes do not overlap."""
        ax = self.ax
        line = ax.axvline(date, color="#212529", lw=1.5, ls="--")
        left = (date - self.dates[0]) > 0.25 * (self.dates[-1] - self.dates[0])
        text = ax.text(date, 0.985 - 0.075 * (k % 4), f" {label} ", transform=ax.get_xaxis_transform(),
                       ha="right" if left else "left",
                       va="top", fontsize=11, color="#212529",
                       bbox={"fc": "white", "ec": "none", "alpha": 0.45, "pad": 0.5})
        return [line, text]


def categories(model: MarketModel) -> list[tuple[str, str]]:
    """(label, colour) of what a listener can be doing, in code order (see :func:`listener_codes`)."""
    focal, rivals = model.services[0].name, [s.name for s in model.services[1:]]
    rival_colours = ["#d6336c", "#7048e8", "#1c7ed6", "#e8590c", "#0ca678", "#862e9c", "#5c940d", "#c92a2a"]
    return [("unaware", "#f1f3f5"), ("aware, uses none", "#adb5bd"), ("lapsed", "#495057"),
            (f"{focal} free", "#8ce99a"), (f"{focal} trial", "#fab005"), (f"{focal} premium", "#2b8a3e"),
            *zip(rivals, rival_colours)]


class MarketCharts:
    """The market over time in six charts: users, revenue, churn, shares, loyalty ladder, prices.

    The colour keys are :func:`legend_html`: one for every chart instead of one per chart,
    drawn by the browser, not redrawn with the data.
    """

    def __init__(self, model: DashboardModel):
        self.model = model
        names = [s.name for s in model.services]
        colour = dict(categories(model))
        lines = [colour[f"{n} premium"] if k == 0 else colour[n] for k, n in enumerate(names)]
        users = [colour[u] for u in user_bands(model)]
        focal = names[0]
        self.panels = [
            TimePanel(model, "Users by tier and service", "millions of people", users, stacked=True),
            TimePanel(model, f"{focal} revenue", "million EUR / month", list(REVENUE_COLOURS), stacked=True),
            TimePanel(model, "Premium churn", "% of subscribers / month", lines, stacked=False),
            TimePanel(model, "Market share", "% of monthly active users", lines, stacked=False, top=100.0),
            TimePanel(model, f"Loyalty ladder, {focal}", "% of prospects + users", list(LADDER_COLOURS), stacked=True,
                      top=100.0),
            TimePanel(model, "Price, individual plan", "EUR / month", lines, stacked=False),
        ]
        if len(names) > 1:
            self.panels[2].ax.text(0.99, 0.985, f"rivals: {SMOOTH_MONTHS}-month mean;\nnot shown below "
                                   f"{MIN_SUBSCRIBERS} simulated\nsubscribers (too noisy)",
                                   transform=self.panels[2].ax.transAxes, ha="right", va="top", fontsize=10,
                                   color="#495057", linespacing=1.1)

    def pngs(self, ghost: bool = True) -> list[bytes]:
        """Every chart with the data up to the current month, the live changes so far and,
        if ``ghost``, the unchanged market faintly behind, as PNG bytes."""
        m = self.model
        markers = tuple((c.step, c.label(m.names)) for c in list(m.live_changes))
        shadows = series(m.ghost_now(), m.t) if ghost else [None] * len(self.panels)
        return [panel.png(data, markers, shadow) for panel, data, shadow in zip(self.panels, series(m, m.t), shadows)]


def series(m: MarketModel, t: int) -> list[tuple[np.ndarray, ...]]:
    """What each chart of :class:`MarketCharts` plots from model ``m``, months 0..t-1:
    arrays of shape (t,), in the charts' units."""
    rec = {name: np.nan_to_num(values[:t]) for name, values in m.records.items()}
    none = m.market_records["aware"][:t] + m.market_records["lapsed"][:t]
    users = (rec["premium_subscribers"][:, 0], rec["trial_users"][:, 0], rec["free_users"][:, 0],
             *rec["mau"][:, 1:].T, none)
    return [tuple(u / 1e6 for u in users),
            (rec["revenue_subscription_eur"][:, 0] / 1e6, rec["revenue_ads_eur"][:, 0] / 1e6),
            tuple(churn_shown(m, t).T),
            tuple(100 * rec["market_share"].T),
            tuple(100 * rec[f"loyalty_{r}"][:, 0] for r in LADDER),
            tuple(m.records["price_individual_eur"][:t].T)]


def churn_shown(m: MarketModel, t: int) -> np.ndarray:
    """Premium churn as the churn chart shows it, % per month, shape (t, services).

    The focal service's as simulated. A rival with a few hundred simulated subscribers
    loses a handful a month: its rate swings from 0 to 50 %, noise that hides the focal
    line. Rivals are shown as the mean over :data:`SMOOTH_MONTHS` months, and not at all
    while fewer than :data:`MIN_SUBSCRIBERS` simulated listeners subscribe.
    """
    churn = 100 * m.records["churn_premium_monthly"][:t].copy()
    simulated = np.nan_to_num(m.records["premium_subscribers"][:t]) / m.weight
    window = max(1, int(round(SMOOTH_MONTHS / m.dt)))
    rivals = churn[:, 1:]
    ok = np.isfinite(rivals)
    total = np.cumsum(np.where(ok, rivals, 0.0), axis=0)
    count = np.cumsum(ok, axis=0)
    total[window:] -= total[:-window].copy()
    count[window:] -= count[:-window].copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        churn[:, 1:] = np.where((count > 0) & (simulated[:, 1:] >= MIN_SUBSCRIBERS), total / np.maximum(count, 1), np.nan)
    return churn


def user_bands(model: MarketModel) -> list[str]:
    """Labels of the users chart's bands, bottom to top (a colour of :func:`categories` each)."""
    focal = model.services[0].name
    return [f"{focal} premium", f"{focal} trial", f"{focal} free", *[s.name for s in model.services[1:]],
            "aware, uses none"]


def legend_html(model: MarketModel, ghost: bool = False) -> str:
    """The charts' colour keys as HTML: who (users chart and every line), revenue, loyalty
    ladder, and what the ghost's faint lines are if it is shown."""
    colour = dict(categories(model))

    def key(title: str, labels: list[str], colours: list[str]) -> str:
        items = "".join(f"<span style='margin-right:14px; white-space:nowrap'><span style='display:inline-block; "
                        f"width:14px; height:14px; background:{c}; margin-right:5px'></span>{html.escape(label)}</span>"
                        for label, c in zip(labels, colours))
        return f"<div><b>{html.escape(title)}:</b> {items}</div>"

    who = user_bands(model)
    return (key("Who (areas and lines)", who, [colour[u] for u in who])
            + key("Revenue", ["subscriptions", "ads"], list(REVENUE_COLOURS))
            + key("Loyalty ladder", list(LADDER), list(LADDER_COLOURS))
            + ("<div><b>Ghost:</b> faint lines (dashed on areas) are the same market, same seed, "
               "without the live changes: the gap is their effect.</div>" if ghost else ""))


