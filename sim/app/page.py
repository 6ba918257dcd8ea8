"""The dashboard's Solara page: readout, live controls, charts, network view and inspector.

solara and mesa.visualization are imported only when the page is built (:func:`page_component`).
"""

from __future__ import annotations

import html
import os
from functools import cache
from typing import Any

import numpy as np

from sim.app.charts import MarketCharts, legend_html
from sim.app.controls import PLAY_INTERVAL_MS, SCENARIO_ENV, live_widgets, load_dashboard_scenario, model_params, shown, slider_defaults
from sim.app.live import DashboardModel
from sim.app.network_view import NetworkFigure, describe_listener
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

