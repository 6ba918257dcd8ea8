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

if TYPE_CHECKING:
    from sim.app.live import DashboardModel


FONT = {"font.size": 15, "axes.titlesize": 17, "axes.labelsize": 15, "legend.fontsize": 14,
        "xtick.labelsize": 14, "ytick.labelsize": 14}  # readable on a projector from the back row
LADDER = ("prospect", "customer", "client", "supporter", "advocate")
LADDER_COLOURS = ("#dee2e6", "#a5d8ff", "#4dabf7", "#1971c2", "#0b3d91")
REVENUE_COLOURS = ("#2b8a3e", "#e67700")  # subscriptions, ads
NICE = np.array([1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0])


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
            ax.set_xlim(model.dates[0], model.dates[-1])
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

    def png(self, series: tuple[np.ndarray, ...], markers: tuple[tuple[int, str], ...] = ()) -> bytes:
        """The chart of ``series`` (each of shape (t,), the months so far), with a dashed line
        and its label at each ``(month index, label)`` of ``markers``, as PNG bytes."""
        ax, dates = self.ax, self.dates[: len(series[0])]
        for artist in self.data:
            artist.remove()
        if self.stacked:
            self.data = ax.stackplot(dates, *series, colors=self.colours)
            top = np.sum(series, axis=0).max(initial=0.0)
        else:
            self.data = [ax.plot(dates, y, color=c, lw=3)[0] for y, c in zip(series, self.colours)]
            top = np.nanmax(np.nan_to_num(series), initial=0.0)
        ax.set_ylim(0, self.top or nice_ceiling(1.05 * top))
        with rc_context(FONT):
            return self.frames.png(self.data, key=(ax.get_ylim(), markers), overlay=self._markers(markers))

    def _markers(self, markers: tuple[tuple[int, str], ...]) -> list:
        """The markers' artists, made again only when the markers change; an overlay of the
        frames, so a stacked area cannot hide them."""
        if markers != self.marked:
            for artist in self.marker_artists:
                artist.remove()
            self.marker_artists = [a for step, label in markers for a in self._marker(self.dates[step], label)]
            self.marked = markers
        return self.marker_artists

    def _marker(self, date: Any, label: str) -> list:
        """A live change: a thin line at its month, its label written up along the line."""
        ax = self.ax
        line = ax.axvline(date, color="#212529", lw=1.5, ls="--")
        text = ax.text(date, 0.97, f" {label} ", transform=ax.get_xaxis_transform(), rotation=90, ha="left",
                       va="top", fontsize=FONT["xtick.labelsize"],
                       bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1})
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

    def series(self) -> list[tuple[np.ndarray, ...]]:
        """What each chart plots, up to the current month: arrays of shape (t,), in the charts' units."""
        m, t = self.model, self.model.t
        rec = {name: np.nan_to_num(values[:t]) for name, values in m.records.items()}
        none = m.market_records["aware"][:t] + m.market_records["lapsed"][:t]
        users = (rec["premium_subscribers"][:, 0], rec["trial_users"][:, 0], rec["free_users"][:, 0],
                 *rec["mau"][:, 1:].T, none)
        return [tuple(u / 1e6 for u in users),
                (rec["revenue_subscription_eur"][:, 0] / 1e6, rec["revenue_ads_eur"][:, 0] / 1e6),
                tuple(100 * m.records["churn_premium_monthly"][:t].T),
                tuple(100 * rec["market_share"].T),
                tuple(100 * rec[f"loyalty_{r}"][:, 0] for r in LADDER),
                tuple(m.records["price_individual_eur"][:t].T)]

    def pngs(self) -> list[bytes]:
        """Every chart with the data up to the current month and the live changes so far, as PNG bytes."""
        markers = tuple((c.step, c.label(self.model.names)) for c in list(self.model.live_changes))
        return [panel.png(data, markers) for panel, data in zip(self.panels, self.series())]


def user_bands(model: MarketModel) -> list[str]:
    """Labels of the users chart's bands, bottom to top (a colour of :func:`categories` each)."""
    focal = model.services[0].name
    return [f"{focal} premium", f"{focal} trial", f"{focal} free", *[s.name for s in model.services[1:]],
            "aware, uses none"]


def legend_html(model: MarketModel) -> str:
    """The charts' colour keys as HTML: who (users chart and every line), revenue, loyalty ladder."""
    colour = dict(categories(model))

    def key(title: str, labels: list[str], colours: list[str]) -> str:
        items = "".join(f"<span style='margin-right:14px; white-space:nowrap'><span style='display:inline-block; "
                        f"width:14px; height:14px; background:{c}; margin-right:5px'></span>{html.escape(label)}</span>"
                        for label, c in zip(labels, colours))
        return f"<div><b>{html.escape(title)}:</b> {items}</div>"

    who = user_bands(model)
    return (key("Who (areas and lines)", who, [colour[u] for u in who])
            + key("Revenue", ["subscriptions", "ads"], list(REVENUE_COLOURS))
            + key("Loyalty ladder", list(LADDER), list(LADDER_COLOURS)))


