"""Explaining a user's mistake: one message naming the file, the key path, what was wrong
and what is allowed, with a did-you-mean hint where a name was misspelt."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.scenario.fields import DISTRIBUTIONS, SAFE_NAME, did_you_mean
from sim.scenario.schema import Scenario, _child_model, _MappingOf
from sim.yamlio import ScenarioError


# pydantic's names of union members in a location: a distribution's kind, a sweep level's type
_UNION_TAGS = {"constant", "lognormal", "normal", "uniform", "bool", "int", "float", "str"}


def _format_loc(loc: tuple[Any, ...]) -> str:
    # drop pydantic's union tags ("lognormal", "function-before[...]") from the path
    parts = [_key(p) for p in loc if not (isinstance(p, str) and ("[" in p or p in _UNION_TAGS or p.startswith("constrained-")))]
    return ".".join(parts) or "(top level)"


def _key(part: Any) -> str:
    """One key of a path as the user wrote it; quoted when the message would not show it (empty, edged
    with spaces, or holding a control character) or would read its ':' as the end of the path. A key that is itself a dotted
    path (a sweep's parameter) stays as written."""
    text = cut(part, 40)
    if isinstance(part, str) and (not part or part != part.strip() or ":" in part or not part.isprintable()):
        return repr(text)
    return text


def _fields_at(loc: tuple[Any, ...], root: type[BaseModel]) -> list[str]:
    """Field names allowed at the parent of ``loc`` in the schema ``root`` (for did-you-mean hints)."""
    model: Any = root
    for part in loc[:-1]:
        if isinstance(model, _MappingOf):  # `part` is a mapping key
            model = model.item
            continue
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return []
        model = _child_model(model, part)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


MAX_SHOWN = 80  # characters of a user's value shown in a message


def cut(text: object, limit: int = MAX_SHOWN) -> str:
    """``text`` on one line, cut to ``limit`` characters with ``...``: a message stays readable
    whatever the user wrote (a 1.8 MB name is not echoed)."""
    s = str(text).replace("\r", "\\r").replace("\n", "\\n")
    return s if len(s) <= limit else s[:limit] + "..."


def explain_validation_error(err: ValidationError, source: str, root: type[BaseModel] | None = None) -> ScenarioError:
    """One message naming the file, the key path, what was wrong and what is allowed.

    Serves every user file validated by pydantic (scenarios, sweeps, calibrations):
    ``root`` is the schema the file was validated against (default: Scenario). An unknown
    key is reported first, with a did-you-mean hint: a misspelt key also makes the key it
    should have been "missing".
    """
    # an unknown key first (see above); then a non-finite number, which a union (a sweep's levels) would
    # otherwise report as "not a valid boolean"
    # a union member whose type the input is not (a number's "not a valid number" for a dated schedule) last:
    # the member the input chose names the month and the limit
    errors = sorted(err.errors(), key=lambda x: (x["type"] != "extra_forbidden", x["type"] != "finite_number",
                                                 isinstance(x.get("input"), (dict, list)) and x["type"].endswith(("_type", "_parsing"))))
    e = errors[0]
    loc = tuple(e["loc"])
    path = _format_loc(loc)
    text = cut(e["msg"].removeprefix("Value error, "), 300)
    if e["type"] == "extra_forbidden":
        allowed = _fields_at(loc, root or Scenario)
        msg = f"{path}: unknown key{did_you_mean(cut(loc[-1]), allowed)} (allowed here: {', '.join(allowed)})"
    elif e["type"] == "missing":
        msg = f"{path}: required key missing"
    elif e["type"] == "literal_error":
        options = re.findall(r"'([^']*)'", e.get("ctx", {}).get("expected", ""))
        msg = f"{path}: {text.lower()} (got {cut(repr(e.get('input')))}){did_you_mean(cut(e.get('input')), options)}"
    elif e["type"] == "union_tag_invalid":
        msg = f"{path}: unknown distribution {cut(repr(e.get('input', {}).get('dist')))} (allowed: {', '.join(DISTRIBUTIONS)})"
    elif e["type"] == "string_pattern_mismatch" and e.get("ctx", {}).get("pattern") == SAFE_NAME:
        msg = (f"{path}: {cut(repr(e.get('input')))} cannot name a folder: use letters, digits, '_', '-' and '.', "
               "starting with a letter, digit or '_', at most 100 characters")
    elif e["type"] == "value_error":
        msg = f"{path}: {text}" if loc else text
    else:
        msg = f"{path}: {text} (got {cut(repr(e.get('input')))})"
    more = len(errors) - 1
    return ScenarioError(f"{source}: {msg}" + (f" [and {more} more problem{'s' * (more > 1)}]" if more else ""))


def validate_scenario_data(data: dict[str, Any], source: str) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise explain_validation_error(err, source) from None
