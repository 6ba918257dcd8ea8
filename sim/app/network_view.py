"""The network view: sampled listeners on their friendship network, coloured by what each one does.

The sample and its layout are drawn from their own generator, never from the model's
streams; positions come from networkx's spring layout (Fruchterman-Reingold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from matplotlib import rc_context
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.agents.listeners import ListenerPopulation, Stage, State, Tier
from sim.agents.services import PLAN_NAMES
from sim.app.charts import FONT, Frames, categories
from sim.model import MarketModel


@dataclass(frozen=True)
class ListenerSample:
    """A fixed sample of listeners for the network view.

    ``index``: ndarray (m,), int64, the listeners (ids); ``xy``: ndarray (m, 2), float64, where
    each is drawn (in [-1, 1]); ``edges``: ndarray (e, 2), int64, friendships between
    sampled listeners as positions in ``index``.
    """

    index: np.ndarray
    xy: np.ndarray
    edges: np.ndarray


def snowball(friends: sp.csr_matrix, size: int, rng: np.random.Generator, among: np.ndarray | None = None) -> np.ndarray:
    """Listeners reached breadth-first from a random listener, restarting elsewhere when a
    component runs out: a connected-looking sample, so friendships show. Only listeners where
    ``among`` (bool, shape (n,), by id) is True are drawn (default: all). Ids, shape (min(size, eligible),)."""
    n = friends.shape[0]
    seen = np.zeros(n, bool) if among is None else ~np.asarray(among, bool)  # the ineligible count as seen
    size = min(size, int((~seen).sum()))
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


def listener_sample(friends: sp.csr_matrix, size: int, seed: int, among: np.ndarray | None = None) -> ListenerSample:
    """The network view's listeners, their friendships and fixed positions; drawn among the
    listeners where ``among`` is True (the dashboard: those in the market's reach at the start,
    since people out of reach have nothing to show yet).

    Drawn from its own generator (seeded by ``seed``), never from the model's streams, so
    the dashboard runs the very same market as ``freemium-sim run``.
    """
    rng = np.random.default_rng(seed)
    index = snowball(friends, size, rng, among)
    sub = sp.triu(friends[index][:, index], k=1).tocoo()
    edges = np.stack([sub.row, sub.col], axis=1).astype(np.int64)
    return ListenerSample(index, layout(index.size, edges, int(rng.integers(2**32))), edges)


def layout(m: int, edges: np.ndarray, seed: int) -> np.ndarray:
    """Positions of ``m`` nodes joined by ``edges`` (e, 2), ndarray (m, 2) in [-1, 1]:
    networkx's Fruchterman-Reingold spring layout, friends close, everyone apart."""
    import networkx as nx  # only the dashboard needs it

    graph = nx.Graph()
    graph.add_nodes_from(range(m))
    graph.add_edges_from(edges.tolist())
    pos = nx.spring_layout(graph, iterations=80, seed=seed, scale=1.0, center=(0.0, 0.0))
    xy = np.array([pos[i] for i in range(m)], dtype=np.float64).reshape(m, 2)
    return xy / max(np.abs(xy).max(initial=0.0), 1e-9)


def listener_codes(population: ListenerPopulation, index: np.ndarray) -> np.ndarray:
    """Category code (position in :func:`categories`) of each listener in ``index`` (ids), shape (m,)."""
    slot = population.slot_of[index]
    state, service, tier = population.state[slot], population.service[slot], population.tier[slot]
    code = np.select([state == State.UNAWARE, state == State.AWARE, state == State.LAPSED],
                     [0, 1, 2], default=0).astype(np.int64)
    focal = (state == State.USER) & (service == 0)
    code[focal] = 3 + np.select([tier[focal] == Tier.FREE, tier[focal] == Tier.TRIAL], [0, 1], default=2)
    rival = (state == State.USER) & (service > 0)
    code[rival] = 5 + service[rival]
    return code


def default_listener(model: MarketModel) -> int:
    """The sample member the inspector shows first: someone with a story, the focal
    premium subscriber with the longest tenure (else the user with the longest tenure)."""
    pop = model.population
    slot = pop.slot_of[model.sample.index]
    user = pop.state[slot] == State.USER
    premium = user & (pop.service[slot] == 0) & (pop.tier[slot] == Tier.PREMIUM)
    pool = premium if premium.any() else user
    if not pool.any():
        return 0
    return int(np.argmax(np.where(pool, pop.tenure[slot], -np.inf)))


def describe_listener(model: MarketModel, i: int) -> list[tuple[str, str]]:
    """Listener ``i``'s (an id) attributes and state as (what, value with unit) rows, for the inspector."""
    pop = model.population
    v = pop[i]
    friends = np.asarray(v.friends, dtype=np.int64)
    using = int(np.count_nonzero(pop.state[pop.slot_of[friends]] == State.USER))
    service = model.services[v.service].name if v.service >= 0 else "none"
    plan = PLAN_NAMES[v.plan] if v.plan >= 0 else "-"
    return [
        ("listener", f"#{i} ({v.segment_name}, {v.region_name})"),
        ("doing now", f"{v.state.lower()}, {service}, {v.tier.lower()}, plan {plan}"),
        ("with this service for", f"{v.tenure:.0f} months"),
        ("loyalty ladder", Stage(int(model.memory.stage[pop.slot_of[i]])).name.lower()),
        ("pays for premium up to", f"{v.wtp:.2f} EUR/month over free"),
        ("dislikes ads", f"{v.ad_sensitivity:.3f} EUR per ad-minute"),
        ("best other pastime", f"{v.outside_value:.2f} EUR/month"),
        ("listened this month", f"{v.hours:.1f} hours"),
        ("satisfaction", f"{v.satisfaction:.2f} (0..1)"),
        ("goodwill", f"{v.goodwill:+.2f} EUR/month"),
        ("listening data held", f"{v.data_depth:.0f} hours" + (" (privacy-sensitive)" if v.privacy_sensitive else "")),
        ("friends", f"{friends.size}, of whom {using} use a service"),
    ]


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

