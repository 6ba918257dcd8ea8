"""Introspection: every parameter with its value, unit, range and description; differences
between scenarios; the resolved scenario as YAML."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from sim.scenario.fields import Constant, Lognormal, Normal, Uniform
from sim.scenario.schema import Scenario


class ParamInfo(BaseModel):
    path: str
    default: Any
    unit: str
    description: str
    low: float | None = None
    high: float | None = None


def _walk(model: type[BaseModel], instance: BaseModel, prefix: str) -> list[ParamInfo]:
    rows: list[ParamInfo] = []
    for name, field in model.model_fields.items():
        value = getattr(instance, name)
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel) and not isinstance(value, (Constant, Lognormal, Normal, Uniform)):
            rows += _walk(type(value), value, path + ".")
            continue
        if isinstance(value, list) and value and isinstance(value[0], BaseModel):
            labels = [getattr(item, "name", None) or getattr(item, "at", None) or str(k) for k, item in enumerate(value)]
            for k, item in enumerate(value):
                # items are labelled by name (segments, services) or date (timeline), so that
                # inserting one item does not relabel the others; repeats get a counter
                label = labels[k] if labels.count(labels[k]) == 1 else f"{labels[k]}#{labels[:k].count(labels[k]) + 1}"
                rows += _walk(type(item), item, f"{path}.{label}.")
            continue
        if isinstance(value, dict) and value and isinstance(next(iter(value.values())), BaseModel):
            for k, item in value.items():
                rows += _walk(type(item), item, f"{path}.{k}.")
            continue
        low = high = None
        for m in field.metadata:
            low = getattr(m, "ge", getattr(m, "gt", low)) if low is None else low
            high = getattr(m, "le", getattr(m, "lt", high)) if high is None else high
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        shown = value.model_dump() if isinstance(value, BaseModel) else value
        rows.append(ParamInfo(path=path, default=shown, unit=str(extra.get("unit", "-")),
                              description=field.description or "", low=low, high=high))
    return rows


def parameter_table(scenario: Scenario | None = None) -> list[ParamInfo]:
    """Every parameter with its value (the defaults if no scenario), unit, range and description."""
    scenario = scenario or Scenario()
    return _walk(Scenario, scenario, "")


def parameter_index(scenario: Scenario) -> dict[str, ParamInfo]:
    """Every parameter a key path may name (sweeps, optimisation levers), by path: the scenario's own and each
    service's policy in every region, listed even where the scenario sets none (the service's own value then)."""
    from sim.scenario.schema import RegionalPolicy

    def filled(policy):
        return policy.model_copy(update={"regions": {r.name: policy.regions.get(r.name, RegionalPolicy())
                                                     for r in scenario.regions}})

    services = scenario.services.model_copy(update={"focal": filled(scenario.services.focal),
                                                    "competitors": [filled(c) for c in scenario.services.competitors]})
    return {p.path: p for p in parameter_table(scenario.model_copy(update={"services": services}))}


def parameter_differences(a: Scenario, b: Scenario) -> list[dict[str, Any]]:
    """Parameters whose value differs between A and B: ``{"path", "a", "b", "unit", "description"}``.

    A path only one side has (a plan, a competitor) shows None on the other side.
    """
    rows_a = {p.path: p for p in parameter_table(a)}
    rows_b = {p.path: p for p in parameter_table(b)}
    out = []
    for path in [*rows_a, *(p for p in rows_b if p not in rows_a)]:
        pa, pb = rows_a.get(path), rows_b.get(path)
        va, vb = (None if p is None else p.default for p in (pa, pb))
        if va != vb and path not in ("name", "description"):
            ref = pa or pb
            out.append({"path": path, "a": va, "b": vb, "unit": ref.unit, "description": ref.description})
    return out


def differences_from_defaults(scenario: Scenario) -> list[dict[str, Any]]:
    """What a scenario assumed: ``{"path", "value", "default", "unit", "description"}`` for every
    parameter that differs from the default scenario."""
    # items of the default lists that this scenario does not have (the default "world" region) are left out
    return [{"path": d["path"], "value": d["b"], "default": d["a"], "unit": d["unit"], "description": d["description"]}
            for d in parameter_differences(Scenario(), scenario) if d["b"] is not None]


def scenario_to_yaml(scenario: Scenario) -> str:
    """The resolved scenario, every default filled, as YAML text."""
    return "# Resolved scenario: every default filled in (generated by freemium-sim).\n" + yaml.safe_dump(
        scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
