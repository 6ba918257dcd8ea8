"""The dashboard's Solara page: readout, live controls, charts, network view and inspector.

The sidebar holds the run's controls (reset, play/pause, step, play interval, listeners),
the ghost switch, the CSV download and the live policy controls; the main area the
readout, the six charts, the colour keys and the network view with its inspector.
solara is imported only when the page is built (:func:`page_component`).
"""

from __future__ import annotations

import html
import os
from functools import cache
from typing import Any

import numpy as np

from sim.app.charts import MarketCharts, legend_html
from sim.app.controls import (PLAY_INTERVAL_MS, SCENARIO_ENV, live_widgets, load_dashboard_scenario, model_params, shown,
                              slider_defaults)
from sim.app.export import download_link, run_csv
from sim.app.live import DashboardModel
from sim.app.network_view import NetworkFigure, default_listener, describe_listener
from sim.model import MarketModel

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


def month_name(model: MarketModel) -> str:
    """The last month played, e.g. 'Dec 2015' ('the start' before the first)."""
    return f"{model.dates[model.t - 1]:%b %Y}" if model.t else "the start"


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

    base = load_dashboard_scenario(os.environ.get(SCENARIO_ENV) or None)
    params = model_params(base)
    listeners_spec = params["listeners"]

    def live_input(spec: dict[str, Any], value: Any, on_value: Any, classes: list[str]) -> None:
        """One input: a switch, a menu or a slider with its value written above it."""
        with solara.Column(gap="0px", classes=classes):
            if spec["type"] == "Checkbox":
                solara.Switch(label=spec["label"], value=value, on_value=on_value, color="primary")
            elif spec["type"] == "Select":
                solara.Select(label=spec["label"], values=spec["values"], value=value, on_value=on_value)
            else:
                solara.Text(f"{spec['label']}: {shown(value)}", style={"font-size": "18px"})
                slider = solara.SliderInt if spec["type"] == "SliderInt" else solara.SliderFloat
                slider("", value=value, min=spec["min"], max=spec["max"], step=spec["step"], on_value=on_value,
                       thumb_label=False)

    @solara.component
    def Controller(model: solara.Reactive[DashboardModel], tick: solara.Reactive[int]):
        """Reset, play/pause and step; the play interval; the listeners a Reset builds with."""
        playing = solara.use_reactive(False)
        interval = solara.use_reactive(PLAY_INTERVAL_MS)
        listeners = solara.use_reactive(listeners_spec["value"])
        tick.value  # noqa: B018: show this month after each step
        m = model.value
        at_end = m.t >= m.n_steps

        def play(cancel) -> None:
            while playing.value and not cancel.wait(interval.value / 1000):
                if m.t >= m.n_steps:
                    break
                m.step()
                tick.value += 1
            if m.t >= m.n_steps:
                playing.value = False  # the horizon's end: the button becomes ▶ again (disabled until Reset)

        solara.use_thread(play, dependencies=[playing.value, m], intrusive_cancel=False)

        def step() -> None:
            if not at_end:
                m.step()
                tick.value += 1

        def reset() -> None:
            playing.value = False
            model.value = DashboardModel(base, listeners=listeners.value)
            tick.value += 1

        with solara.Card("Run"):
            with solara.Row(justify="space-between"):
                solara.Button("Reset", color="primary", on_click=reset)
                solara.Button("❚❚" if playing.value else "▶", color="primary", disabled=at_end,
                              on_click=lambda: playing.set(not playing.value))
                solara.Button("Step", color="primary", disabled=playing.value or at_end, on_click=step)
            solara.Text(f"Month {m.t} of {m.n_steps}" + (": the end of the horizon, RESET to play again" if at_end else ""),
                        classes=["freemium-month"], style={"margin": "8px 0", "display": "block"})
            live_input({"type": "SliderInt", "label": "Play interval (ms)", "min": 0, "max": 500, "step": 10},
                       interval.value, interval.set, ["freemium-interval"])
            live_input(listeners_spec, listeners.value, listeners.set, ["freemium-listeners"])

    @solara.component
    def Export(model: DashboardModel, tick: int):
        """The run so far as CSV: a button makes the file, a link saves it (until the next month)."""
        made, set_made = solara.use_state((None, -1, ""))  # (model, month, link)

        def make() -> None:
            link = download_link(run_csv(model), f"freemium-sim-{base.name}-run.csv", "text/csv",
                                 f"Save the run to {month_name(model)} (CSV)", "freemium-download")
            set_made((model, model.t, link))

        solara.Button("Export this run (CSV)", outlined=True, classes=["freemium-export"], on_click=make)
        if made[0] is model and made[1] == model.t:
            solara.HTML(tag="div", unsafe_innerHTML=made[2], style="margin-top: 6px")

    @solara.component
    def LiveControls(model: DashboardModel, tick: solara.Reactive[int]):
        """The policy controls, acting on the running model from its next month on."""
        tick.value  # noqa: B018: show the model's values after each step (the timeline changes some too)
        specs = solara.use_memo(lambda: live_widgets(model), [model])
        values = model.settings()

        def request(name: str, value: Any) -> None:
            model.request(name, value)
            tick.value += 1  # show the waiting change at once, also while paused

        with solara.Card("Policies (live, from next month)"):
            for name, spec in specs.items():
                live_input(spec, values[name], lambda v, name=name: request(name, v),
                           ["freemium-live", f"freemium-live-{name}"])

    @solara.component
    def Views(model: DashboardModel, tick: int, ghost: bool):
        default = solara.use_memo(lambda: default_listener(model), [model])
        chosen, set_selected = solara.use_state(None)
        selected = default if chosen is None or chosen >= model.sample.index.size else chosen
        charts = solara.use_memo(lambda: MarketCharts(model), [model])
        network = solara.use_memo(lambda: NetworkFigure(model), [model])
        chart_pngs = solara.use_memo(lambda: charts.pngs(ghost), [model, model.t, tick, ghost])
        network_png = solara.use_memo(lambda: network.png(selected), [model, model.t, selected])
        solara.HTML(tag="div", unsafe_innerHTML=readout(model), classes=["freemium-readout"], style="font-size: 22px")
        legend = solara.use_memo(lambda: legend_html(model, ghost), [model, ghost])
        solara.HTML(tag="div", unsafe_innerHTML=html.escape(run_notes(model)), classes=["freemium-settings"],
                    style="font-size: 17px; color: #495057")
        with solara.GridFixed(columns=3, row_gap="0px", column_gap="8px"):
            for chart in chart_pngs:
                solara.Image(chart, width="100%", classes=["freemium-chart"])
        solara.HTML(tag="div", unsafe_innerHTML=legend, classes=["freemium-legend"],
                    style="font-size: 17px; margin-bottom: 12px")
        with solara.Columns([3, 2]):
            solara.Image(network_png, width="100%", classes=["freemium-network"])
            with solara.Column(style="padding-bottom: 48px"):
                solara.Text(f"Inspect listener no. {selected + 1} of {model.sample.index.size} (ringed):",
                            style={"font-size": "18px"})
                solara.SliderInt("", value=selected + 1, min=1, max=model.sample.index.size,
                                 on_value=lambda v: set_selected(v - 1))
                rows = describe_listener(model, int(model.sample.index[selected]))
                solara.HTML(tag="div", unsafe_innerHTML=listener_table(rows), classes=["freemium-listener"],
                            style="font-size: 18px")

    @solara.component
    def Page():
        model = solara.use_reactive(solara.use_memo(lambda: DashboardModel(**slider_defaults(params)), []))
        tick = solara.use_reactive(0)  # bumped after each step and reset: redraw then
        ghost = solara.use_reactive(True)
        m = model.value
        solara.Style(SIDEBAR_CSS)
        solara.Title(f"freemium-sim: {base.name}")
        with solara.AppBar():
            solara.AppBarTitle(f"freemium-sim: {base.name}")
        with solara.Sidebar():
            Controller(model, tick)
            with solara.Card("Compare and keep"):
                solara.Switch(label="Ghost: the market without your changes", value=ghost, color="primary",
                              classes=["freemium-ghost"])
                Export(m, tick.value)
            LiveControls(m, tick)
        Views(m, tick.value, ghost.value)

    return Page
