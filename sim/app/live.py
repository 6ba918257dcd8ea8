"""The market as the dashboard runs it: a :class:`MarketModel` whose policies move live."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sim.app.controls import (CONTROL_BY_NAME, LIVE_CONTROLS, SAMPLE_SIZE, _names, configure, load_dashboard_scenario,
                              overrides, shown, slider_values, with_competitor)
from sim.agents.listeners import State
from sim.app.network_view import listener_sample
from sim.model import MarketModel
from sim.scenario import Scenario


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
        ``support_staff`` (agents), ``support_per_1000`` (agents per thousand paying subscribers),
        ``marketing_budget`` (million EUR/month), ``wrapped``
        (bool), ``competitor_strategy`` (static/match_price/defend_share),
        ``competitor_price`` (EUR/month), ``listeners`` (simulated listeners). A setting
        left out keeps the scenario's value. The page's Reset passes only the build-time
        ones (``listeners``); the page moves the others live with :meth:`request`.

    Attributes
    ----------
    start : Scenario
        The scenario this run started with (``scenario`` follows the live changes).
    live_changes : list of LiveChange
        The live changes applied so far, in order: the charts' markers.
    ghost : MarketModel
        The **ghost**: the same market without the live changes, built from ``start`` with
        the same seed (common random numbers: until the first change both are the same
        market, month for month). It advances only when asked (:meth:`ghost_now`), so a
        page with the ghost switched off does not pay for it.
    """

    # A slider dragged while playing sends values for several months in a row; moves of one
    # control this many months apart or less count as one change (one marker).
    MERGE_MONTHS = 2

    def __init__(self, scenario: Scenario | None = None, **kwargs: Any):
        base = with_competitor(scenario) if scenario is not None else load_dashboard_scenario()
        super().__init__(configure(base, kwargs))
        self.start = self.scenario
        self.names = _names(self.scenario)
        pop = self.population
        self.sample = listener_sample(pop.friends, SAMPLE_SIZE, self.scenario.seed,
                                      among=(pop.state != State.OUTSIDE)[pop.slot_of])  # by id, as the network
        self.live_changes: list[LiveChange] = []
        self._drag: tuple[LiveChange, int] | None = None  # the last move's marker and month
        # the page's callbacks run in the server's threads, the play loop in its own:
        # requests wait here until the next step applies them, between two months
        self._pending: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.ghost = MarketModel(self.start)
        self._ghost_lock = threading.Lock()  # two redraws at once must not both step it

    def ghost_now(self) -> MarketModel:
        """The ghost, advanced to this run's month (its timeline events apply, live changes do not)."""
        with self._ghost_lock:
            while self.ghost.t < self.t:
                self.ghost.step()
        return self.ghost

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

