"""The arms of a comparison: scenario A, and B, C, ... built from files and ``--set``.

Two rules keep a comparison honest:

- **Size and sampling apply to every arm.** ``market.agents``, ``replicates``, ``seed``
  and ``time.months`` (and ``--replicates``/``--seed``) change how a scenario is run, not
  what it assumes; set on one side only, they would compare two model sizes. Every other
  ``--set`` defines the what-if and applies to B (and C, ...), never to A.
- **A value the user set is never silently undone.** ``--from YYYY-MM`` turns the
  what-if's values into a timeline event at that month (appended after the scenario's
  own events, so it wins within its month); a *later* timeline event of the scenario
  that sets the same key path overwrites it, and :func:`overwrite_warnings` says so.

:func:`folder_name` names a what-if's output folder after what it changes, with a
short hash of everything that determines its numbers, so two what-ifs never share one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from sim.scenario import (YEAR_MONTH, Scenario, ScenarioError, apply_overrides, load_scenario,
                          parse_set_options)

#: ``--set`` keys that size or sample the run: they apply to A and to every other arm.
SIZE_KEYS = ("market.agents", "replicates", "seed", "time.months")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Arms:
    """The scenarios of one comparison, A first, and what the user should know about them.

    scenarios: A, B, C, ... (each with A's seed and replicates: the pairing needs the
    same streams); files: the file each came from; whatif: the ``--set`` values that
    define B (and C, ...); warnings: plain-text sentences (timeline overwrites).
    """

    scenarios: list[Scenario]
    files: list[str]
    whatif: dict[str, Any]
    start: str | None
    warnings: list[str]

    @property
    def labels(self) -> list[str]:
        return list(LETTERS[: len(self.scenarios)])


def split_sets(sets: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``--set`` strings -> (size/sampling overrides for every arm, what-if overrides)."""
    parsed = parse_set_options(sets)
    shared = {k: v for k, v in parsed.items() if k in SIZE_KEYS}
    return shared, {k: v for k, v in parsed.items() if k not in SIZE_KEYS}


def check_month(text: str, flag: str, scenario: Scenario) -> str:
    """A ``YYYY-MM`` flag value inside the scenario's horizon, else ScenarioError."""
    from sim.clock import Clock

    if not isinstance(text, str) or not YEAR_MONTH.match(text):
        raise ScenarioError(f"{flag}: expected a calendar month YYYY-MM, got {text!r}")
    months = [f"{d:%Y-%m}" for d in Clock.of(scenario).dates]
    if text not in months:
        raise ScenarioError(f"{flag}: {text} is outside the horizon {months[0]} to {months[-1]}")
    return text


def _overlaps(a: str, b: str) -> bool:
    """Two key paths touch the same value: equal, or one is a section holding the other."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def overwrite_warnings(scenario: Scenario, whatif: dict[str, Any], start: str | None, label: str) -> list[str]:
    """Sentences naming each timeline event that overwrites a what-if value after it took effect.

    The what-if applies from the first month (``start`` None) or from ``start``; an event
    of the scenario in that month or later (strictly later with ``start``, where the
    what-if's own event comes last in its month) that sets an overlapping key path
    replaces the user's value from its month on.
    """
    out = []
    for ev in scenario.timeline:
        if not ev.set or (start is not None and ev.at <= start):
            continue
        for path, value in whatif.items():
            # an event that sets the very value the user chose changes nothing
            hits = [k for k in ev.set if _overlaps(k, path) and not (k == path and ev.set[k] == value)]
            if hits:
                note = f" ({ev.note})" if ev.note else ""
                sets = ", ".join(f"{k}={ev.set[k]}" for k in hits)
                out.append(f"{label}: your {path}={value} is overwritten from {ev.at} by the scenario's "
                           f"timeline event{note}, which sets {sets}; use --from after {ev.at}, or edit the "
                           "timeline, to keep it")
    return out


def values_at(scenario: Scenario, month: str) -> dict[str, Any]:
    """Every parameter's value (key path -> value) in effect in ``month``: the scenario with its
    timeline events up to that month applied, in order."""
    from sim.scenario import parameter_index

    current = scenario
    for ev in scenario.timeline:
        if ev.set and ev.at <= month:
            current = apply_overrides(current, ev.set, source=f"timeline {ev.at}", check_timeline=False)
    return {path: p.default for path, p in parameter_index(current).items()}  # each regional value too


def with_event(scenario: Scenario, whatif: dict[str, Any], start: str, source: str,
               note: str = "what-if (--from)") -> Scenario:
    """The scenario with ``whatif`` as a timeline event at ``start`` (appended: it wins in its month)."""
    # the values are checked now, against the scenario, so a bad path fails before any run
    apply_overrides(scenario, whatif, source=source)
    data = scenario.model_dump(mode="python")
    data["timeline"] = [*data["timeline"], {"at": start, "set": dict(whatif), "note": note}]
    return Scenario.model_validate(data)


def build_arms(files: list[str], sets: list[str], start: str | None = None, replicates: int | None = None,
               seed: int | None = None) -> Arms:
    """Load A (``files[0]``) and the other arms; see the module docstring for the rules.

    With one file, B is A with the what-if ``--set`` values (named ``<A>-variant``);
    with several, each further file is an arm and the what-if values apply to each.
    Raises ScenarioError for a bad file, key path or month, and when B would equal A
    by construction (one file and no what-if).
    """
    if len(files) > len(LETTERS):
        raise ScenarioError(f"compare: at most {len(LETTERS)} scenarios (got {len(files)})")
    shared, whatif = split_sets(sets)
    if replicates is not None:
        shared["replicates"] = replicates
    if seed is not None:
        shared["seed"] = seed

    def load(path: str) -> Scenario:
        s = load_scenario(path)
        return apply_overrides(s, shared, source=f"{path}: --set") if shared else s

    a = load(files[0])
    if start is not None:
        check_month(start, "--from", a)
        if not whatif:
            raise ScenarioError("--from: dates the --set values that define B; give at least one "
                                f"(size and sampling settings, {', '.join(SIZE_KEYS)}, apply to both sides)")
    if len(files) == 1:
        if not whatif:
            raise ScenarioError(f"compare: {files[0]}: give a second scenario file, or --set overrides that make "
                                f"B from A (size and sampling settings, {', '.join(SIZE_KEYS)}, apply to both "
                                "sides and do not make a B)")
        others = [(files[0], a.model_copy(update={"name": f"{a.name}-variant"}))]
    else:
        others = [(f, load(f)) for f in files[1:]]
    arms, warnings = [a], []
    for (path, s), label in zip(others, LETTERS[1:]):
        values = {k: v for k, v in whatif.items() if k != "name"}  # a name is not a policy
        if values:
            warnings += overwrite_warnings(s, values, start, label)
            s = (with_event(s, values, start, f"{path}: --set") if start is not None
                 else apply_overrides(s, values, source=f"{path}: --set"))
        if "name" in whatif:
            s = apply_overrides(s, {"name": whatif["name"]}, source=f"{path}: --set")
        # the pairing needs A's streams, whatever the files say
        arms.append(s.model_copy(update={"seed": a.seed, "replicates": a.replicates}))
    return Arms(arms, list(files) if len(files) > 1 else [files[0], files[0]], whatif, start, warnings)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "", text.replace("=", "")).strip(".-")


def folder_name(arms: Arms, window: str | None = None) -> str:
    """``compare-<A>-vs-<what changes>-<hash>``: the what-if's values (last key of each path)
    or the other scenarios' names, then 8 hex digits of every arm's resolved scenario and the
    window, so a different what-if never lands in the same folder."""
    a = arms.scenarios[0]
    if arms.whatif:
        what = "_".join(_slug(f"{k.rsplit('.', 1)[-1]}{v}") for k, v in arms.whatif.items())
        what += f"_from{arms.start}" if arms.start else ""
        if len(arms.scenarios) > 2 or arms.files[1] != arms.files[0]:
            what = "-".join(s.name for s in arms.scenarios[1:]) + "_" + what
    else:
        what = "-".join(s.name for s in arms.scenarios[1:])
    digest = hashlib.sha256(json.dumps([s.model_dump(mode="json") for s in arms.scenarios] + [window],
                                       sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"compare-{a.name}-vs-{what[:80]}-{digest}"
