"""Reading a scenario file, which may start from another (``extends``), and merging the two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.scenario.errors import cut
from sim.scenario.paths import validate_scenario
from sim.scenario.schema import Scenario
from sim.yamlio import ScenarioError, path_exists, read_yaml

MAX_EXTENDS = 20  # files in one extends chain


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; every user error raises ScenarioError.

    A file may start from another with ``extends: other.yaml`` (path relative to the file):
    see :func:`merge_scenarios` for how the two combine.
    """
    return validate_scenario(_read_with_extends(Path(path), ()), str(path))


def _read_with_extends(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    data = read_yaml(path)
    if not isinstance(data, dict) or "extends" not in data:
        return data
    parent = data["extends"]
    if not isinstance(parent, str) or not parent:
        raise ScenarioError(f"{path}: extends: expected the path of a scenario file, got {cut(repr(parent))}")
    if len(chain) + 1 >= MAX_EXTENDS:
        raise ScenarioError(f"{path}: extends: a chain of more than {MAX_EXTENDS} files; start from a nearer base")
    base_path = (path.parent / parent).resolve()
    here = (*chain, path.resolve())
    if base_path in here:
        cycle = " -> ".join(p.name for p in (*here[here.index(base_path):], base_path))
        raise ScenarioError(f"{path}: extends: {cut(parent)} leads back to itself ({cycle})")
    if not path_exists(base_path):
        raise ScenarioError(f"{path}: extends: {cut(parent)}: file not found (looked for {base_path})")
    base = _read_with_extends(base_path, here)
    if not isinstance(base, dict):
        raise ScenarioError(f"{base_path}: (top level): expected a mapping of scenario keys, got {type(base).__name__}")
    child = {k: v for k, v in data.items() if k != "extends"}
    return merge_scenarios(base, child)


def merge_scenarios(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """A scenario mapping that is ``base`` changed by ``child``.

    JSON Merge Patch (RFC 7396) semantics, with one exception: mappings merge key by key
    (the child's values win, a ``null`` removes the key), lists and values are replaced,
    except ``timeline``, whose events are appended after the base's: events at the same
    date apply in order, so the child's win.
    """
    out = dict(base)
    for key, value in child.items():
        if key == "timeline" and isinstance(value, list) and isinstance(base.get("timeline"), list):
            # appended, then ordered by date; same-date events keep their order (the child's last)
            out[key] = sorted([*base["timeline"], *value], key=lambda ev: str(ev.get("at", "")) if isinstance(ev, dict) else "")
        else:
            out[key] = _merge_patch(base.get(key), value)
        if out[key] is None:
            del out[key]
    return out


def _merge_patch(base: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    out = dict(base) if isinstance(base, dict) else {}  # RFC 7396: a patch onto a non-mapping starts empty
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out
