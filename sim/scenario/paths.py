"""Override paths: ``--set`` and timeline values at dotted key paths (``services.focal.ad_load``)."""

from __future__ import annotations

from typing import Any

from sim.scenario.errors import cut, did_you_mean, validate_scenario_data
from sim.scenario.fields import DISTRIBUTIONS, Constant
from sim.scenario.schema import _DIST, RegionalPolicy, Scenario, TimelineEvent, _MappingOf, _allowed_keys, _child_model
from sim.yamlio import ScenarioError, load_yaml_text


# Key paths read once, when the market is set up: a timeline event setting them would change
# nothing during the run (or break the arrays built from them), so it is refused at load.
FROZEN_DURING_RUN = ("name", "description", "seed", "replicates", "time", "market", "segments", "regions", "network",
                     "initial", "timeline", "mechanisms.personalization.genres", "mechanisms.ads.advertisers",
                     "mechanisms.ads.total_budget", "mechanisms.ads.initial_streaming_share")


def validate_scenario(data: Any, source: str) -> Scenario:
    """Validate a mapping into a Scenario, raising ScenarioError naming `source` and the key path.

    Every timeline event's ``set`` is tried on the scenario, so a bad key path or value
    fails here, at load, not months into a run. Each event is tried on the scenario
    without its timeline, so validation time grows linearly with the number of events.
    """
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: (top level): expected a mapping of scenario keys, got {type(data).__name__}")
    scenario = validate_scenario_data(data, source)
    names = [s.name for s in scenario.services.all()]
    # the entrants stay, so that a path may name one (services.competitors.<entrant>...)
    bare = scenario.model_copy(update={"timeline": [TimelineEvent(at=ev.at, enter=ev.enter) for ev in scenario.timeline if ev.enter]})
    tried: set[str] = set()  # events repeat the same changes (a price path): each distinct one is tried once
    for k, ev in enumerate(scenario.timeline):
        if ev.set and repr(ev.set) not in tried:
            where = f"{source}: timeline.{k}.set"
            frozen = next((path for path in ev.set if _is_frozen(path)), None)
            if frozen is not None:
                raise ScenarioError(f"{where}.{cut(frozen)}: cannot change during a run (it is read once, when the "
                                    "market is set up); set it in the scenario itself")
            changed = apply_overrides(bare, ev.set, source=where, check_timeline=False)
            tried.add(repr(ev.set))
            if [s.name for s in changed.services.all()] != names:
                raise ScenarioError(f"{where}: a timeline event cannot add, remove or rename services "
                                    f"(the market has {', '.join(names)} throughout)")
    return scenario


def _is_frozen(path: str) -> bool:
    return any(path == p or path.startswith(p + ".") for p in FROZEN_DURING_RUN)


def _resolve(container: Any, key: str, where: str, source: str) -> Any:
    if isinstance(container, list):
        if key.isdigit() and int(key) < len(container):
            return int(key)
        names = [str(c.get("name")) for c in container if isinstance(c, dict)]
        if key in names:
            return names.index(key)
        dates = [str(c.get("at")) for c in container if isinstance(c, dict)]
        if dates.count(key) == 1:  # a timeline event by its date, as `params` labels it
            return dates.index(key)
        raise ScenarioError(f"{source}: {where}{cut(key)}: no such item (use an index 0..{len(container) - 1}"
                            + (f" or a name: {', '.join(names)})" if names else ")"))
    return key


def apply_overrides(scenario: Scenario, overrides: dict[str, Any], source: str = "--set",
                    check_timeline: bool = True) -> Scenario:
    """A new Scenario with values replaced at dotted key paths.

    Paths name fields (``services.focal.ad_load``); list items are addressed by index or
    name (``services.competitors.Apple Music.plans.individual.price``). An unknown path
    raises ScenarioError with a did-you-mean hint; the result is validated again (its
    timeline events too, unless ``check_timeline`` is false).
    """
    data = scenario.model_dump(mode="python")
    for path, value in overrides.items():
        parts = _entrant_path(data, path.split("."))
        node: Any = data
        model: Any = Scenario
        for depth, part in enumerate(parts):
            where = ".".join(parts[:depth]) + ("." if depth else "")
            key = _resolve(node, part, where, source)
            if model is _DIST and isinstance(node, dict):
                model = DISTRIBUTIONS.get(node.get("dist"), Constant)
            if isinstance(node, dict):
                # a service's regional policy is keyed by the scenario's regions, listed or not yet
                allowed = ([str(r.get("name")) for r in data.get("regions") or []]
                           if isinstance(model, _MappingOf) and model.item is RegionalPolicy else _allowed_keys(model, node))
                if key not in allowed:
                    raise ScenarioError(f"{source}: {cut(path)}: unknown key '{cut(part)}' at '{cut(where) or '(top level)'}'"
                                        f"{did_you_mean(cut(part), allowed)} (allowed: {', '.join(allowed)})")
                model = _child_model(model, key)
            if depth == len(parts) - 1:
                node[key] = value
            else:
                if isinstance(node, dict) and node.get(key) is None:
                    node[key] = {}
                node = node[key]
                if not isinstance(node, (dict, list)):
                    raise ScenarioError(f"{source}: {cut(path)}: '{cut(part)}' is a value, not a section")
    return validate_scenario(data, source) if check_timeline else validate_scenario_data(data, source)


def _entrant_path(data: dict[str, Any], parts: list[str]) -> list[str]:
    """``services.competitors.<entrant>.<rest>`` as the path of the entrant's definition, ``timeline.<k>.enter.<rest>``:
    a service entering the market is a competitor like the others once it is there."""
    if len(parts) < 4 or parts[:2] != ["services", "competitors"]:
        return parts
    if parts[2] in [str(c.get("name")) for c in data["services"]["competitors"]]:
        return parts
    for k, ev in enumerate(data.get("timeline") or []):
        if isinstance(ev, dict) and isinstance(ev.get("enter"), dict) and ev["enter"].get("name") == parts[2]:
            return ["timeline", str(k), "enter", *parts[3:]]
    return parts


def parse_set_options(items: list[str] | None, source: str = "--set") -> dict[str, Any]:
    """Parse ``KEY.PATH=VALUE`` strings; values are YAML scalars (``10.99``, ``true``, ``[1, 2]``)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ScenarioError(f"{source}: '{cut(item)}': expected KEY.PATH=VALUE")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = load_yaml_text(raw, source) if raw.strip() else ""
        except ScenarioError:  # not YAML (or an impossible date): the text itself, which validation then judges
            out[key.strip()] = raw
    return out
