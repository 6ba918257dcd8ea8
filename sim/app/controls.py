"""The dashboard's controls: each slider or switch and the scenario key path it sets.

Names, units and ranges come from the scenario schema (:func:`sim.scenario.parameter_table`);
this module turns slider values into scenario overrides and back. No solara here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import numpy as np

from sim.scenario import ParamInfo, Scenario, ServicePolicy, apply_overrides, load_scenario, parameter_table

if TYPE_CHECKING:
    from sim.app.live import DashboardModel

SCENARIO_ENV = "FREEMIUM_SIM_DASHBOARD_SCENARIO"  # the CLI hands the scenario path to the server through it
DEFAULT_SCENARIO = Path("scenarios/baseline.yaml")
# The live view must stay fluid (>= 5 months/s, see benchmarks/dashboard.py); beyond
# 50,000 listeners a month takes too long for a classroom, below 2,000 the noise hides the story.
LISTENER_LIMITS = (2_000, 50_000)
DEFAULT_LISTENERS = 20_000
SAMPLE_SIZE = 300  # listeners drawn in the network view: enough to see patterns, few enough to see each one
PLAY_INTERVAL_MS = 20  # pause between months while playing; the redraw, not this pause, sets the pace
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
    are model parameters, applied when Reset builds a new model. ``short`` names
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
    Control("support_per_1000", "services.focal.support_per_1000", "Support rule", "support rule",
            step=0.005, limits=(0.0, 0.2)),
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
    """The scenario, with :data:`DEFAULT_COMPETITOR` added if it has no competitor (renamed "Rival 1", ...
    where a service of the scenario already bears its name)."""
    if scenario.services.competitors:
        return scenario
    data = scenario.model_dump(mode="python")
    taken = {scenario.services.focal.name} | {ev.enter.name for ev in scenario.timeline if getattr(ev, "enter", None)}
    name = next(n for n in (DEFAULT_COMPETITOR["name"], *(f"Rival {k}" for k in range(1, len(taken) + 2))) if n not in taken)
    data["services"]["competitors"] = [{**DEFAULT_COMPETITOR, "name": name}]  # a focal service may bear its name
    return Scenario.model_validate(data)


def load_dashboard_scenario(path: str | Path | None = None) -> Scenario:
    """The dashboard's base scenario: ``path``, else ``scenarios/baseline.yaml`` if it exists,
    else the schema defaults; always with at least one competitor."""
    if path is None and DEFAULT_SCENARIO.exists():
        path = DEFAULT_SCENARIO
    return with_competitor(load_scenario(path) if path is not None else Scenario())


def widget(control: Control, info: ParamInfo, names: dict[str, str]) -> dict[str, Any]:
    """The input of one control (type, label with unit, value, range and
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
    # the slider's grid passes through the value: 9.99 stays 9.99, a step up is 10.49; an
    # offset within rounding of a whole step is none (0.6 % 0.05 is 0.0499...: the slider
    # stopped at 0.05 and personalisation 0 could not be set)
    offset = (value - low) % control.step
    low += 0.0 if min(offset, control.step - offset) < 1e-9 * control.step else offset
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
    """The model parameters: the base scenario (fixed) and the build-time controls
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
    """The keyword arguments the page builds its first model with, before any slider moves."""
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
    """A slider value as a marker shows it: 2.5, 9.99, 18, 20,000, on, match_price."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:g}" if isinstance(value, float) else str(value)

