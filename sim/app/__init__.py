"""The teaching dashboard: a live classroom demo of freemium dynamics on Solara.

``freemium-sim dashboard [SCENARIO.yaml]`` starts a Solara server. The sidebar has the
run's controls (reset, play/pause, step, play interval, the number of simulated
listeners), the ghost switch and the CSV export, and the **policy controls** (the focal
service's price, ad load, personalisation, trial, support staff and staffing rule, marketing budget and
Wrapped; a competitor's strategy and price), which act **live**: a move is handed to the
running model (:meth:`DashboardModel.request`), which applies it with
:meth:`MarketModel.set_policy` at the start of its next month, as a timeline event would,
and the charts mark the month with a dashed line and a label such as "ad load 2.5→5".
Only what the model is built with, the number of simulated listeners, applies on
**Reset**: each reset builds a new :class:`DashboardModel` from the base scenario with
the scenario's seed, and the live controls return to the scenario's values. The
**ghost**, the same market without the live changes (same seed), is drawn faintly on
every chart.

The package, one part per module:

- :mod:`sim.app.controls`: the controls and the scenario key paths they set;
- :mod:`sim.app.live`: :class:`DashboardModel`, the live model wrapper;
- :mod:`sim.app.network_view`: the listeners on their friendship network (networkx layout);
- :mod:`sim.app.charts`: the market over time;
- :mod:`sim.app.export`: the class's run as CSV;
- :mod:`sim.app.page`: the Solara page;
- :mod:`sim.app.server`: the offline Solara server settings (the commands are in :mod:`sim.commands`).

Mesa's SolaraViz is not used: its component grid loads vue-grid-layout from a CDN, which a
classroom without internet cannot reach, its play button stayed a greyed pause at the
horizon's end, and its sliders showed no values. Importing ``sim.app`` stays cheap: each name below is imported from its module on first use,
and solara only when the page is built (``solara run sim.app`` looks up ``Page``).
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "controls": ("Control", "CONTROLS", "CONTROL_BY_NAME", "LIVE_CONTROLS", "DEFAULT_COMPETITOR", "DEFAULT_LISTENERS",
                 "DEFAULT_SCENARIO", "LISTENER_LIMITS", "PLAY_INTERVAL_MS", "SAMPLE_SIZE", "SCENARIO_ENV", "_names",
                 "configure", "live_widgets", "load_dashboard_scenario", "model_params", "overrides", "shown",
                 "slider_defaults", "slider_values", "widget", "widgets", "with_competitor"),
    "live": ("DashboardModel", "LiveChange"),
    "network_view": ("ListenerSample", "NetworkFigure", "default_listener", "describe_listener", "layout", "listener_codes",
                     "listener_sample", "snowball"),
    "charts": ("FONT", "Frames", "MarketCharts", "TimePanel", "categories", "churn_shown", "legend_html", "nice_ceiling",
               "series", "user_bands"),
    "export": ("download_link", "policy_changes", "run_csv"),
    "page": ("listener_table", "page_component", "readout", "run_notes"),
    "server": ("check_address", "server_command", "server_env"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name == "Page":  # built on first access, so that `import sim.app` stays free of solara
        return importlib.import_module("sim.app.page").page_component()
    if name in _HOME:
        return getattr(importlib.import_module(f"sim.app.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
