"""Reading user YAML safely: one clear message for every way a file can be bad.

Only ``yaml.safe_load`` semantics are used (no Python tags, nothing executed). Before
constructing Python objects the node graph is composed and its *expanded* size is
measured, so an alias bomb ("billion laughs") is rejected with bounded memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sim.errors import UserError

MAX_FILE_BYTES = 2_000_000
MAX_EXPANDED_NODES = 200_000


class ScenarioError(UserError):
    """A mistake in a scenario, sweep or calibration file or a flag. ``str(error)`` is the whole message; the CLI exits 2."""


def _expanded_size(node: yaml.Node, source: str) -> int:
    """Number of nodes after expanding aliases, with memo so shared subtrees cost once to measure."""
    memo: dict[int, int] = {}
    active: set[int] = set()

    def size(n: yaml.Node) -> int:
        key = id(n)
        if key in memo:
            return memo[key]
        if key in active:
            raise ScenarioError(f"{source}: (top level): recursive alias; a YAML node may not contain itself")
        active.add(key)
        if isinstance(n, yaml.SequenceNode):
            total = 1 + sum(size(c) for c in n.value)
        elif isinstance(n, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in n.value)
        else:
            total = 1
        active.discard(key)
        if total > MAX_EXPANDED_NODES:
            raise ScenarioError(f"{source}: (top level): the document expands to more than {MAX_EXPANDED_NODES:,} "
                                "values (an alias bomb?); scenarios are small mappings")
        memo[key] = total
        return total

    return size(node)


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file safely; raise ScenarioError naming the file for any problem."""
    p = Path(path)
    source = str(path)
    if not p.exists():
        raise ScenarioError(f"{source}: file not found")
    if p.is_dir():
        raise ScenarioError(f"{source}: is a folder, expected a YAML file")
    raw = p.read_bytes()
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(f"{source}: file is {len(raw):,} bytes; scenario files are limited to {MAX_FILE_BYTES:,}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{source}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    if not text.strip() or all(line.strip().startswith("#") or not line.strip() for line in text.splitlines()):
        raise ScenarioError(f"{source}: file is empty; expected a mapping of scenario keys")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            raise ScenarioError(f"{source}: file is empty; expected a mapping of scenario keys")
        _expanded_size(node, source)
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        if "could not determine a constructor" in str(exc):
            problem = f"{problem.split(' for the tag')[0]}; tags like !!python/... are not allowed"
        raise ScenarioError(f"{source}: YAML error{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: YAML error: {exc}") from None
