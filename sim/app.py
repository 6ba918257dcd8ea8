"""The teaching dashboard: a live classroom demo of freemium dynamics on Mesa's SolaraViz.

``freemium-sim dashboard [SCENARIO.yaml]`` starts a Solara server. The sidebar is Mesa's
SolaraViz (play, step, reset, play interval, render interval, model parameters). Below
it, the **policy controls** (the focal service's price, ad load, personalisation, trial,
support staff, marketing budget and Wrapped; a competitor's strategy and price) act
**live**: a move is handed to the running model (:meth:`DashboardModel.request`), which
applies it with :meth:`MarketModel.set_policy` at the start of its next month, as a
timeline event would, and the charts mark the month with a dashed line and a label such
as "ad load 2.5→5". Only what the model is built with, the number of simulated listeners,
is a SolaraViz model parameter, applied on **Reset**: each reset builds a new
:class:`DashboardModel` from the base scenario with the scenario's seed, and the live
controls return to the scenario's values. Names, units and ranges of the controls come
from the scenario schema (:func:`sim.scenario.parameter_table`).

The main area shows a text readout of this month's KPIs, the live changes, the market
over time (six charts, each redrawing only its data: see :class:`Frames`), and 300
listeners drawn on their friendship network, coloured by what each one chose, with an
inspector showing one listener's attributes (``population[i]``).

SolaraViz's own component grid is not used: it loads vue-grid-layout from a CDN, which a
classroom without internet cannot reach; the views are laid out below it instead.
Importing this module stays cheap (the CLI imports it for every command): solara and
mesa.visualization are imported only when the page is built, on first access of ``Page``.
"""

from __future__ import annotations

import html
import io
import os
import sys
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, get_args

import matplotlib.dates as mdates
import numpy as np
import PIL.Image
import scipy.sparse as sp
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.agents.listeners import ListenerPopulation, State, Tier
from sim.agents.services import PLAN_NAMES
from sim.mechanics.loyalty import Stage
from sim.model import MarketModel
from sim.scenario import ParamInfo, Scenario, ServicePolicy, apply_overrides, load_scenario, parameter_table

SCENARIO_ENV = "FREEMIUM_SIM_DASHBOARD_SCENARIO"  # the CLI hands the scenario path to the server through it
DEFAULT_SCENARIO = Path("scenarios/baseline.yaml")
# The live view must stay fluid (>= 5 months/s, see benchmarks/dashboard.py); beyond
# 50,000 listeners a month takes too long for a classroom, below 2,000 the noise hides the story.
LISTENER_LIMITS = (2_000, 50_000)
DEFAULT_LISTENERS = 20_000
SAMPLE_SIZE = 300  # listeners drawn in the network view: enough to see patterns, few enough to see each one
PLAY_INTERVAL_MS = 20  # pause between months while playing; the redraw, not this pause, sets the pace
# Solara's sidebar is a Vuetify 3 navigation drawer of width "min-content", which Vuetify's
# layout reads as NaN px: the page then lies under the sidebar. Make room for it, as
# Vuetify does for a drawer of a known width (overlaid, as meant, below 960 px wide).
SIDEBAR_CSS = """
@media (min-width: 960px) {
  div:has(> div > nav.v-navigation-drawer--active) > main { padding-left: 400px !important; }
  div:has(> div > nav.v-navigation-drawer--active) > header {
    left: 400px !important; width: calc(100% - 400px) !important;
  }
  nav.v-navigation-drawer--active { width: 400px !important; }
}
"""
# Added when a scenario has no competitor, so the competitor controls mean something:
# a premium-only rival (no free tier) priced a little above the focal service.
DEFAULT_COMPETITOR = {"name": "Apple Music", "free_tier": False, "personalization": 0.4, "content_value": 9.0,
                      "plans": {"individual": {"price": 10.99}, "student": {"price": 5.99},
                                "family": {"price": 16.99, "seats": 6}},
                      "trial_months": 3, "marketing_budget": 10e6, "support_staff": 150}


# ---------------------------------------------------------------- controls: sliders <-> scenario key paths


@dataclass(frozen=True)
class Control:
    """One dashboard input and the scenario key path it sets.

    ``path`` may name ``{competitor}``, ``{focal_plan}`` and ``{competitor_plan}`` (the
    headline plans), filled from the scenario. The slider's range is the schema's, except
    that ``span`` caps its top at ``span`` times the scenario's value (where the schema
    allows far more than a class would try) and ``limits`` replaces it outright. The
    slider shows the value divided by ``scale`` (1e6: millions). A ``live`` control acts on
    the running model from the next month on (:meth:`DashboardModel.request`); the others
    are SolaraViz model parameters, applied when Reset builds a new model. ``short`` names
    the control on the charts' markers of live changes.
    """

    name: str
    path: str
    label: str
    short: str
    step: float | None = None
    span: float | None = None
    limits: tuple[float, float] | None = None
    scale: float = 1.0
    live: bool = True


CONTROLS = (
    Control("price", "services.focal.plans.{focal_plan}.price", "Price, {focal_plan} plan", "price", step=0.5, span=3),
    Control("ad_load", "services.focal.ad_load", "Ad load", "ad load", step=0.5),
    Control("personalization", "services.focal.personalization", "Personalisation", "personalisation", step=0.05),
    Control("trial_months", "services.focal.trial_months", "Free trial", "trial", step=1),
    Control("support_staff", "services.focal.support_staff", "Support staff", "support", step=10, span=4),
    Control("marketing_budget", "services.focal.marketing_budget", "Marketing budget", "marketing", step=1, span=3,
            scale=1e6),
    Control("wrapped", "services.focal.wrapped", "Wrapped in December", "Wrapped"),
    Control("competitor_strategy", "services.competitors.{competitor}.strategy", "{competitor}: strategy",
            "{competitor}"),
    Control("competitor_price", "services.competitors.{competitor}.plans.{competitor_plan}.price",
            "{competitor}: price", "{competitor} price", step=0.5, span=3),
    # the population is drawn when the model is built: it can only change on Reset
    Control("listeners", "market.agents", "Simulated", "listeners", step=1000, limits=LISTENER_LIMITS, live=False),
)
CONTROL_BY_NAME = {c.name: c for c in CONTROLS}
LIVE_CONTROLS = tuple(c.name for c in CONTROLS if c.live)


def _headline_plan(policy: ServicePolicy) -> str:
    return "individual" if "individual" in policy.plans else next(iter(policy.plans))


def _names(scenario: Scenario) -> dict[str, str]:
    """What the ``{...}`` fields of the control paths and labels stand for in this scenario."""
    rival = scenario.services.competitors[0]
    return {"competitor": rival.name, "focal_plan": _headline_plan(scenario.services.focal),
            "competitor_plan": _headline_plan(rival)}


def with_competitor(scenario: Scenario) -> Scenario:
    """The scenario, with :data:`DEFAULT_COMPETITOR` added if it has no competitor."""
    if scenario.services.competitors:
        return scenario
    data = scenario.model_dump(mode="python")
    data["services"]["competitors"] = [DEFAULT_COMPETITOR]
    return Scenario.model_validate(data)


def load_dashboard_scenario(path: str | Path | None = None) -> Scenario:
    """The dashboard's base scenario: ``path``, else ``scenarios/baseline.yaml`` if it exists,
    else the schema defaults; always with at least one competitor."""
    if path is None and DEFAULT_SCENARIO.exists():
        path = DEFAULT_SCENARIO
    return with_competitor(load_scenario(path) if path is not None else Scenario())


def widget(control: Control, info: ParamInfo, names: dict[str, str]) -> dict[str, Any]:
    """The input of one control in SolaraViz's format (type, label with unit, value, range and
    step): a model parameter, or the spec of a live control on the page."""
    label = control.label.format(**names)
    if isinstance(info.default, bool):
        return {"type": "Checkbox", "label": label, "value": info.default}
    if isinstance(info.default, str):
        field = control.path.rsplit(".", 1)[-1]
        return {"type": "Select", "label": label, "value": info.default,
                "values": list(get_args(ServicePolicy.model_fields[field].annotation))}
    unit = info.unit if control.scale == 1 else f"million {info.unit}"
    value = info.default / control.scale
    low, high = (np.asarray(control.limits or (info.low, info.high), dtype=float)) / control.scale
    if control.span is not None:
        high = min(high, control.span * max(value, 1.0))
    value = float(np.clip(value, low, high))
    low += (value - low) % control.step  # the slider's grid passes through the value: 9.99 stays 9.99, a step up is 10.49
    high = low + control.step * np.ceil((high - low) / control.step - 1e-9)
    cast = int if isinstance(info.default, int) else float
    return {"type": "SliderInt" if cast is int else "SliderFloat", "label": f"{label} ({unit})", "value": cast(value),
            "min": cast(round(low, 6)), "max": cast(round(high, 6)), "step": cast(control.step)}


def widgets(scenario: Scenario, names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The inputs of the controls ``names`` (see :func:`widget`), valued and ranged from ``scenario``."""
    table = {p.path: p for p in parameter_table(scenario)}
    fields = _names(scenario)
    return {n: widget(CONTROL_BY_NAME[n], table[CONTROL_BY_NAME[n].path.format(**fields)], fields) for n in names}


def model_params(scenario: Scenario) -> dict[str, Any]:
    """SolaraViz ``model_params``: the base scenario (fixed) and the build-time controls
    (the live ones act on the running model instead, see :func:`live_widgets`)."""
    params: dict[str, Any] = {"scenario": scenario}
    # a classroom run is smaller than a study's
    small = apply_overrides(scenario, {"market.agents": min(scenario.market.agents, DEFAULT_LISTENERS)})
    params.update(widgets(small, tuple(c.name for c in CONTROLS if not c.live)))
    return params


def live_widgets(model: DashboardModel) -> dict[str, dict[str, Any]]:
    """The live controls' inputs, ranged from the scenario this run started with (so a range
    does not shift as its value moves); their ``value`` is the run's start value."""
    return widgets(model.start, LIVE_CONTROLS)


def slider_defaults(params: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments SolaraViz passes to the model before any slider moves."""
    return {k: (v["value"] if isinstance(v, dict) else v) for k, v in params.items()}


def overrides(scenario: Scenario, settings: dict[str, Any]) -> dict[str, Any]:
    """Scenario key path -> value (in the scenario's units) of the dashboard settings
    (control name -> slider value)."""
    unknown = set(settings) - set(CONTROL_BY_NAME)
    if unknown:
        raise TypeError(f"unknown dashboard setting(s): {', '.join(sorted(unknown))} (known: {', '.join(CONTROL_BY_NAME)})")
    names = _names(scenario)
    paths = {}
    for name, value in settings.items():
        c = CONTROL_BY_NAME[name]
        paths[c.path.format(**names)] = value * c.scale if c.scale != 1 else value
    return paths


def configure(scenario: Scenario, settings: dict[str, Any]) -> Scenario:
    """The scenario with the dashboard settings (control name -> slider value) applied."""
    return apply_overrides(scenario, overrides(scenario, settings), source="dashboard")


def slider_values(scenario: Scenario, names: tuple[str, ...] = LIVE_CONTROLS) -> dict[str, Any]:
    """Control name -> its value in ``scenario``, in the slider's units (e.g. million EUR/month)."""
    table = {p.path: p.default for p in parameter_table(scenario)}
    fields = _names(scenario)
    values = {}
    for n in names:
        c = CONTROL_BY_NAME[n]
        value = table[c.path.format(**fields)]
        values[n] = value / c.scale if c.scale != 1 else value
    return values


def shown(value: Any) -> str:
    """A slider value as a marker shows it: 2.5, 9.99, 18, on, match_price."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


@dataclass
class LiveChange:
    """A live control move as the model applied it: at the start of ``step`` (0-based month
    index), control ``name`` went from ``old`` to ``new`` (slider units)."""

    step: int
    name: str
    old: Any
    new: Any

    def label(self, names: dict[str, str]) -> str:
        """The marker's text, e.g. ``ad load 2.5→5``."""
        return f"{CONTROL_BY_NAME[self.name].short.format(**names)} {shown(self.old)}→{shown(self.new)}"


class DashboardModel(MarketModel):
    """The market as the dashboard runs it: a base scenario plus the controls' settings,
    with live policy changes while it runs.

    Parameters
    ----------
    scenario : Scenario, optional
        Base scenario; default :func:`load_dashboard_scenario`. A competitor is added if it has none.
    **kwargs
        Start settings by control name (:data:`CONTROLS`): ``price`` (EUR/month),
        ``ad_load`` (ad-min/hour), ``personalization`` (0..1), ``trial_months`` (months),
        ``support_staff`` (agents), ``marketing_budget`` (million EUR/month), ``wrapped``
        (bool), ``competitor_strategy`` (static/match_price/defend_share),
        ``competitor_price`` (EUR/month), ``listeners`` (simulated listeners). A setting
        left out keeps the scenario's value. SolaraViz's Reset passes only the build-time
        ones (``listeners``); the page moves the others live with :meth:`request`. (Mesa
        checks that a model taking unlisted keywords names them ``kwargs``.)

    Attributes
    ----------
    start : Scenario
        The scenario this run started with (``scenario`` follows the live changes).
    live_changes : list of LiveChange
        The live changes applied so far, in order: the charts' markers.
    """

    # A slider dragged while playing sends values for several months in a row; moves of one
    # control this many months apart or less count as one change (one marker).
    MERGE_MONTHS = 2

    def __init__(self, scenario: Scenario | None = None, **kwargs: Any):
        base = with_competitor(scenario) if scenario is not None else load_dashboard_scenario()
        super().__init__(configure(base, kwargs))
        self.start = self.scenario
        self.names = _names(self.scenario)
        self.sample = listener_sample(self.population.friends, SAMPLE_SIZE, self.scenario.seed)
        self.live_changes: list[LiveChange] = []
        self._drag: tuple[LiveChange, int] | None = None  # the last move's marker and month
        # the page's callbacks run in the server's threads, the play loop in its own:
        # requests wait here until the next step applies them, between two months
        self._pending: dict[str, Any] = {}
        self._lock = threading.Lock()

    def request(self, name: str, value: Any) -> None:
        """Set live control ``name`` to ``value`` (slider units) from the next month on.

        Thread-safe; a later request for the same control before that month replaces this one.
        """
        if name not in LIVE_CONTROLS:
            raise TypeError(f"{name!r} is not a live control (live: {', '.join(LIVE_CONTROLS)})")
        with self._lock:
            self._pending[name] = value

    def settings(self) -> dict[str, Any]:
        """Live control name -> value in slider units: the requested one if a request waits,
        else the current one."""
        with self._lock:
            pending = dict(self._pending)
        return {**slider_values(self.scenario), **pending}

    def pending(self) -> list[LiveChange]:
        """The requested changes the next step will apply (``step`` = that month)."""
        with self._lock:
            return self._changes(dict(self._pending))

    def step(self) -> None:
        """Apply the waiting live changes (with :meth:`MarketModel.set_policy`, as a timeline
        event would), then advance one month."""
        if self.t < self.n_steps:
            self._apply_requests()
        super().step()

    def _changes(self, requested: dict[str, Any]) -> list[LiveChange]:
        if not requested:  # the usual month: skip reading the scenario's parameter table
            return []
        now = slider_values(self.scenario, tuple(requested))
        return [LiveChange(self.t, n, now[n], v) for n, v in requested.items() if v != now[n]]

    def _apply_requests(self) -> None:
        with self._lock:
            requested, self._pending = self._pending, {}
        changes = self._changes(requested)
        if changes:
            self.set_policy(overrides(self.scenario, {c.name: c.new for c in changes}), source="dashboard")
        for change in changes:
            self._record(change)

    def _record(self, change: LiveChange) -> None:
        drag = self._drag
        if drag is not None and drag[0].name == change.name and change.step - drag[1] <= self.MERGE_MONTHS:
            marker = drag[0]
            marker.new = change.new  # one drag, one marker, at the month it began
            if marker.new == marker.old:  # dragged back to where it was: nothing to mark
                self.live_changes.remove(marker)
                self._drag = None
                return
        else:
            marker = change
            self.live_changes.append(marker)
        self._drag = (marker, change.step)


# ---------------------------------------------------------------- the agent view's data


@dataclass(frozen=True)
class ListenerSample:
    """A fixed sample of listeners for the network view.

    ``index``: ndarray (m,), int64, the listeners; ``xy``: ndarray (m, 2), float64, where
    each is drawn (in [-1, 1]); ``edges``: ndarray (e, 2), int64, friendships between
    sampled listeners as positions in ``index``.
    """

    index: np.ndarray
    xy: np.ndarray
    edges: np.ndarray


def snowball(friends: sp.csr_matrix, size: int, rng: np.random.Generator) -> np.ndarray:
    """Listeners reached breadth-first from a random listener, restarting elsewhere when a
    component runs out: a connected-looking sample, so friendships show. Shape (min(size, n),)."""
    n = friends.shape[0]
    size = min(size, n)
    seen = np.zeros(n, bool)
    order: list[int] = []
    frontier: list[int] = []
    while len(order) < size:
        if not frontier:
            start = int(rng.choice(np.flatnonzero(~seen)))
            seen[start] = True
            frontier = [start]
        node = frontier.pop(0)
        order.append(node)
        nbrs = friends.indices[friends.indptr[node]:friends.indptr[node + 1]]
        new = rng.permutation(nbrs[~seen[nbrs]])
        seen[new] = True
        frontier.extend(int(x) for x in new)
    return np.asarray(order, dtype=np.int64)


def spring_layout(m: int, edges: np.ndarray, rng: np.random.Generator, iterations: int = 80) -> np.ndarray:
    """Fruchterman-Reingold positions of ``m`` nodes, ndarray (m, 2) scaled into [-1, 1].

    Friends attract, everyone repels, and a weak pull to the centre keeps listeners
    without friends in the sample on screen.
    """
    pos = rng.uniform(-1.0, 1.0, (m, 2))
    adj = np.zeros((m, m))
    adj[edges[:, 0], edges[:, 1]] = adj[edges[:, 1], edges[:, 0]] = 1.0
    k = np.sqrt(4.0 / max(m, 1))  # ideal distance for m nodes in a 2 x 2 square
    temperature = 0.2
    for _ in range(iterations):
        sq = (pos**2).sum(axis=1)
        dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * pos @ pos.T, 1e-4))
        force = k * k / dist**2 - adj * dist / k  # along pos_i - pos_j, per unit of that vector
        np.fill_diagonal(force, 0.0)
        move = pos * force.sum(axis=1, keepdims=True) - force @ pos - 0.1 * pos * np.sqrt(sq)[:, None] / k
        length = np.maximum(np.linalg.norm(move, axis=1, keepdims=True), 1e-9)
        pos += move / length * np.minimum(length, temperature)
        temperature *= 0.95
    pos -= pos.mean(axis=0)
    return pos / max(np.abs(pos).max(), 1e-9)


def listener_sample(friends: sp.csr_matrix, size: int, seed: int) -> ListenerSample:
    """The network view's listeners, their friendships and fixed positions.

    Drawn from its own generator (seeded by ``seed``), never from the model's streams, so
    the dashboard runs the very same market as ``freemium-sim run``.
    """
    rng = np.random.default_rng(seed)
    index = snowball(friends, size, rng)
    sub = sp.triu(friends[index][:, index], k=1).tocoo()
    edges = np.stack([sub.row, sub.col], axis=1).astype(np.int64)
    return ListenerSample(index, spring_layout(index.size, edges, rng), edges)


def categories(model: MarketModel) -> list[tuple[str, str]]:
    """(label, colour) of what a listener can be doing, in code order (see :func:`listener_codes`)."""
    focal, rivals = model.services[0].name, [s.name for s in model.services[1:]]
    rival_colours = ["#d6336c", "#7048e8", "#1c7ed6", "#e8590c", "#0ca678", "#862e9c", "#5c940d", "#c92a2a"]
    return [("unaware", "#f1f3f5"), ("aware, uses none", "#adb5bd"), ("lapsed", "#495057"),
            (f"{focal} free", "#8ce99a"), (f"{focal} trial", "#fab005"), (f"{focal} premium", "#2b8a3e"),
            *((r, rival_colours[k % len(rival_colours)]) for k, r in enumerate(rivals))]  # entrants can make more than 8


def listener_codes(population: ListenerPopulation, index: np.ndarray) -> np.ndarray:
    """Category code (position in :func:`categories`) of each listener in ``index``, shape (m,)."""
    state, service, tier = population.state[index], population.service[index], population.tier[index]
    code = np.select([state == State.UNAWARE, state == State.AWARE, state == State.LAPSED],
                     [0, 1, 2], default=0).astype(np.int64)
    focal = (state == State.USER) & (service == 0)
    code[focal] = 3 + np.select([tier[focal] == Tier.FREE, tier[focal] == Tier.TRIAL], [0, 1], default=2)
    rival = (state == State.USER) & (service > 0)
    code[rival] = 5 + service[rival]
    return code


def describe_listener(model: MarketModel, i: int) -> list[tuple[str, str]]:
    """One listener's attributes and state as (what, value with unit) rows, for the inspector."""
    v = model.population[i]
    friends = np.asarray(v.friends, dtype=np.int64)
    using = int(np.count_nonzero(model.population.state[friends] == State.USER))
    service = model.services[v.service].name if v.service >= 0 else "none"
    plan = PLAN_NAMES[v.plan] if v.plan >= 0 else "-"
    return [
        ("listener", f"#{i} ({v.segment_name}, {v.region_name})"),
        ("doing now", f"{v.state.lower()}, {service}, {v.tier.lower()}, plan {plan}"),
        ("with this service for", f"{v.tenure:.0f} months"),
        ("loyalty ladder", Stage(int(model.stage[i])).name.lower()),
        ("pays for premium up to", f"{v.wtp:.2f} EUR/month over free"),
        ("dislikes ads", f"{v.ad_sensitivity:.3f} EUR per ad-minute"),
        ("best other pastime", f"{v.outside_value:.2f} EUR/month"),
        ("listened this month", f"{v.hours:.1f} hours"),
        ("satisfaction", f"{v.satisfaction:.2f} (0..1)"),
        ("goodwill", f"{v.goodwill:+.2f} EUR/month"),
        ("listening data held", f"{v.data_depth:.0f} hours" + (" (privacy-sensitive)" if v.privacy_sensitive else "")),
        ("friends", f"{friends.size}, of whom {using} use a service"),
    ]


# ---------------------------------------------------------------- the figures

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


class NetworkFigure:
    """The sampled listeners on their friendship network, coloured by what each one does now.

    Positions, friendships and the legend are drawn once per model; :meth:`png` recolours
    the listeners, rings the inspected one and updates the date.
    """

    def __init__(self, model: MarketModel):
        self.model = model
        self.cats = categories(model)
        s = model.sample
        with rc_context(FONT):
            self.fig = Figure(figsize=(8, 8.6), dpi=72)
            self.fig.subplots_adjust(left=0.01, right=0.99, bottom=0.17, top=0.94)
            ax = self.fig.subplots()
            ax.add_collection(LineCollection(s.xy[s.edges], colors="#ced4da", linewidths=0.6, zorder=1))
            self.nodes = ax.scatter(s.xy[:, 0], s.xy[:, 1], s=60, edgecolors="#495057", linewidths=0.5, zorder=2)
            self.ring = ax.scatter([0.0], [0.0], s=420, facecolors="none", edgecolors="black", linewidths=2.5, zorder=3)
            ax.legend([Line2D([], [], ls="", marker="o", ms=11, color=c, mec="#495057") for _, c in self.cats],
                      [label for label, _ in self.cats], loc="upper center", bbox_to_anchor=(0.5, 0.0),
                      ncol=2, frameon=False)
            ax.set_xlim(-1.08, 1.08)
            ax.set_ylim(-1.08, 1.08)
            ax.set_axis_off()
            self.title = self.fig.text(0.01, 0.99, "", va="top", fontsize=FONT["axes.titlesize"])
        self.frames = Frames(self.fig)

    def png(self, selected: int) -> bytes:
        """The network now, with sample member ``selected`` ringed, as PNG bytes."""
        m, s = self.model, self.model.sample
        self.nodes.set_facecolors([self.cats[c][1] for c in listener_codes(m.population, s.index)])
        self.ring.set_offsets(s.xy[selected : selected + 1])
        when = m.dates[m.t - 1].strftime("%B %Y") if m.t else "start"
        self.title.set_text(f"{s.index.size} listeners and their friends, {when}")
        with rc_context(FONT):
            return self.frames.png([self.nodes, self.ring, self.title], key=None)


def readout(model: MarketModel) -> str:
    """This month's headline KPIs of the focal service, one line of HTML."""
    name = html.escape(model.services[0].name)
    if model.t == 0:
        return f"<b>{model.dates[0]:%B %Y}</b>: not started yet. Press STEP or ▶."
    r = {kpi: np.nan_to_num(values[model.t - 1, 0]) for kpi, values in model.records.items()}
    return (f"<b>{model.dates[model.t - 1]:%B %Y}</b> · {name}: premium <b>{r['premium_subscribers'] / 1e6:,.1f} M</b>, "
            f"free <b>{r['free_users'] / 1e6:,.1f} M</b> people · revenue <b>{r['revenue_subscription_eur'] / 1e6:,.1f}</b> "
            f"subscriptions + <b>{r['revenue_ads_eur'] / 1e6:,.1f}</b> ads, million EUR/month · "
            f"premium churn <b>{100 * r['churn_premium_monthly']:.2f} %</b>/month")


def run_notes(model: DashboardModel) -> str:
    """What changed this run's policies and what will, as one line of text: the live changes
    so far, those waiting for the next month, the scenario's own timeline events, and the
    number of simulated listeners (set at Reset)."""
    def month(step: int) -> str:
        return f"{model.dates[step]:%b %Y}"

    done = "; ".join(f"{month(c.step)} {c.label(model.names)}" for c in list(model.live_changes)) or "none yet"
    notes = [f"Live changes: {done}."]
    waiting = model.pending() if model.t < model.n_steps else []
    if waiting:
        notes.append(f"Next month ({month(model.t)}): {'; '.join(c.label(model.names) for c in waiting)}.")
    later = ", ".join(ev.at for ev in model.scenario.timeline if ev.set)
    if later:
        notes.append(f"The scenario's timeline also changes policies ({later}).")
    notes.append(f"Simulated {model.population.n:,} listeners, {model.weight:,.0f} people each (set at RESET).")
    return " ".join(notes)


def listener_table(rows: list[tuple[str, str]]) -> str:
    """The inspector's (what, value) rows as an HTML table."""
    body = "".join(f"<tr><td style='padding:2px 12px 2px 0'>{html.escape(a)}</td><td><b>{html.escape(b)}</b></td></tr>"
                   for a, b in rows)
    return f"<table>{body}</table>"


# ---------------------------------------------------------------- the Solara page


@cache
def page_component():
    """The dashboard's Solara page component for the scenario named by ``$FREEMIUM_SIM_DASHBOARD_SCENARIO``."""
    import solara
    from mesa.visualization import SolaraViz
    from mesa.visualization.utils import force_update, update_counter

    base = load_dashboard_scenario(os.environ.get(SCENARIO_ENV) or None)
    params = model_params(base)

    def live_input(spec: dict[str, Any], value: Any, on_value: Any) -> None:
        """One live control's input: a switch, a menu or a slider with its value written above it."""
        if spec["type"] == "Checkbox":
            solara.Switch(label=spec["label"], value=value, on_value=on_value)
        elif spec["type"] == "Select":
            solara.Select(label=spec["label"], values=spec["values"], value=value, on_value=on_value)
        else:
            solara.Text(f"{spec['label']}: {shown(value)}", style={"font-size": "18px"})
            slider = solara.SliderInt if spec["type"] == "SliderInt" else solara.SliderFloat
            slider("", value=value, min=spec["min"], max=spec["max"], step=spec["step"], on_value=on_value,
                   thumb_label=False)

    @solara.component
    def LiveControls(model: DashboardModel):
        """The policy controls, acting on the running model from its next month on."""
        update_counter.get()  # show the model's values after each step (the timeline changes some too)
        specs = solara.use_memo(lambda: live_widgets(model), [model])
        values = model.settings()

        def request(name: str, value: Any) -> None:
            model.request(name, value)
            force_update()  # show the waiting change at once, also while paused

        # in the sidebar, by Play and Step: the teacher's side; the main area stays the class's
        with solara.Sidebar(), solara.Card("Policies (live, from next month)"):
            for name, spec in specs.items():
                with solara.Column(gap="0px", classes=["freemium-live", f"freemium-live-{name}"]):
                    live_input(spec, values[name], lambda v, name=name: request(name, v))

    @solara.component
    def Views(model: DashboardModel):
        update_counter.get()  # SolaraViz bumps it after each step and reset: redraw then
        selected, set_selected = solara.use_state(0)
        charts = solara.use_memo(lambda: MarketCharts(model), [model])
        network = solara.use_memo(lambda: NetworkFigure(model), [model])
        chart_pngs = solara.use_memo(charts.pngs, [model, model.t])
        network_png = solara.use_memo(lambda: network.png(selected), [model, model.t, selected])
        solara.HTML(tag="div", unsafe_innerHTML=readout(model), classes=["freemium-readout"], style="font-size: 22px")
        legend = solara.use_memo(lambda: legend_html(model), [model])
        solara.HTML(tag="div", unsafe_innerHTML=html.escape(run_notes(model)), classes=["freemium-settings"],
                    style="font-size: 17px; color: #495057")
        LiveControls(model)  # from here, a level below SolaraViz: the sidebar lists it after SolaraViz's cards
        with solara.GridFixed(columns=3, row_gap="0px", column_gap="8px"):
            for chart in chart_pngs:
                solara.Image(chart, width="100%", classes=["freemium-chart"])
        solara.HTML(tag="div", unsafe_innerHTML=legend, style="font-size: 17px; margin-bottom: 12px")
        with solara.Columns([3, 2]):
            solara.Image(network_png, width="100%", classes=["freemium-network"])
            with solara.Column():
                solara.Text(f"Inspect listener no. {selected + 1} of {model.sample.index.size} (ringed):",
                            style={"font-size": "18px"})
                solara.SliderInt("", value=selected + 1, min=1, max=model.sample.index.size,
                                 on_value=lambda v: set_selected(v - 1))
                rows = describe_listener(model, int(model.sample.index[selected]))
                solara.HTML(tag="div", unsafe_innerHTML=listener_table(rows), classes=["freemium-listener"],
                            style="font-size: 18px")

    @solara.component
    def Page():
        first = solara.use_memo(lambda: DashboardModel(**slider_defaults(params)), [])
        model = solara.use_reactive(first)
        solara.Style(SIDEBAR_CSS)
        SolaraViz(model, components=[], model_params=params, name=f"freemium-sim: {base.name}",
                  play_interval=PLAY_INTERVAL_MS)
        Views(model.value)

    return Page


def __getattr__(name: str) -> Any:
    # `solara run sim.app` looks up `Page`; building it on first access keeps `import sim.app`
    # free of solara and mesa.visualization
    if name == "Page":
        return page_component()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------- the command


def server_command(host: str, port: int) -> list[str]:
    """The command line of the Solara server: production mode (no reloader), no browser opened."""
    return [sys.executable, "-m", "solara", "run", "sim.app", "--host", host, "--port", str(port),
            "--production", "--no-open", "--log-level", "warning"]


def server_env(scenario_path: str | Path | None) -> dict[str, str]:
    """The server's environment: the scenario, and nothing fetched from the internet.

    Font Awesome is the only asset solara's page loads from its CDN; the dashboard uses no icons.
    """
    env = dict(os.environ, SOLARA_ASSETS_FONTAWESOME_ENABLED="false", MPLBACKEND="agg")
    if scenario_path is not None:
        env[SCENARIO_ENV] = str(Path(scenario_path).resolve())
    return env
