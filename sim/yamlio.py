"""Reading user files safely: one clear message for every way a file can be bad.

Only regular files are read, and only up to a size limit (a device such as ``/dev/zero``
or a FIFO is refused before it is opened). YAML is read with ``yaml.SafeLoader``
semantics only (no Python tags, nothing executed), by a subclass that is stricter still:
a key repeated in one mapping and a value whose tag cannot be constructed (``2015-02-30``,
``!!int x``) are errors with their line. Before Python objects are constructed the node
graph's *expanded* size and depth are measured, so an alias bomb ("billion laughs") or a
document nested deeper than ``MAX_DEPTH`` is refused with bounded memory and stack.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from sim.errors import UserError

MAX_FILE_BYTES = 2_000_000
MAX_EXPANDED_NODES = 200_000
MAX_DEPTH = 40  # a scenario nests about 6 levels; deeper is a mistake or an attack on the parser's recursion
MAX_MESSAGE_CHARS = 1000
_KINDS = {"timestamp": "a date", "int": "an integer", "float": "a number", "bool": "true/false", "binary": "base64"}


class ScenarioError(UserError):
    """A mistake in user input. ``str(error)`` is the whole message; the CLI exits 2.

    The message is kept to one line of at most ``MAX_MESSAGE_CHARS`` characters, whatever
    value of the user's it quotes.
    """

    def __init__(self, message: object = "") -> None:
        text = " ".join(str(message).splitlines())
        super().__init__(text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "...")


# libyaml's parser when present: the pure-Python one takes about 10 s for a file of 20,000 timeline events
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictSafeLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """``yaml.SafeLoader`` semantics, refusing repeated keys and values that cannot be constructed."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # the constructors' own failures: a date 2015-02-30, !!int x, bad base64
            kind = node.tag.rsplit(":", 1)[-1]
            raise ConstructorError(None, None, f"cannot read {node.value!r:.60} as {_KINDS.get(kind, kind)} ({exc})",
                                   node.start_mark) from None

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)  # merge keys (<<) first: a merged key may be overridden, not repeated
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    repeated = key in seen
                except TypeError:  # an unhashable key: the base class explains it
                    break
                if repeated:
                    raise ConstructorError(None, None, f"key {str(key)!r:.60} appears twice in this mapping (the "
                                           "second would silently replace the first)", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)


def path_exists(path: str | Path) -> bool:
    """Whether something is at ``path``; False also for a name the system cannot take (too long, a NUL byte)."""
    try:
        Path(path).stat()
    except (OSError, ValueError):
        return False
    return True


def read_user_bytes(path: str | Path, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; ScenarioError naming it otherwise.

    Checked before opening, so a FIFO (which would block) or a device (endless) is refused at once.
    """
    p, source = Path(path), str(path)
    try:
        info = p.stat()
    except FileNotFoundError:
        raise ScenarioError(f"{source}: file not found") from None
    except OSError as exc:
        raise ScenarioError(f"{source}: cannot read ({exc.strerror})") from None
    except ValueError:  # a NUL byte in the name
        raise ScenarioError(f"{source}: not a valid file name") from None
    if stat.S_ISDIR(info.st_mode):
        raise ScenarioError(f"{source}: is a folder, expected a {what}")
    if not stat.S_ISREG(info.st_mode):
        raise ScenarioError(f"{source}: is not a regular file (a device, pipe or socket); expected a {what}")
    if info.st_size > limit:
        raise ScenarioError(f"{source}: file is {info.st_size:,} bytes; a {what} is limited to {limit:,}")
    try:
        with open(p, "rb") as f:
            raw = f.read(limit + 1)  # the file may have grown since stat
    except OSError as exc:
        raise ScenarioError(f"{source}: cannot read ({exc.strerror})") from None
    if len(raw) > limit:
        raise ScenarioError(f"{source}: file is over {limit:,} bytes; a {what} is limited to {limit:,}")
    return raw


def _expanded_size(node: yaml.Node, source: str) -> int:
    """Number of nodes after expanding aliases, refusing more than ``MAX_EXPANDED_NODES`` or nesting
    deeper than ``MAX_DEPTH``; memoised, so shared subtrees cost once to measure."""
    memo: dict[int, tuple[int, int]] = {}  # node -> (expanded size, height)
    active: set[int] = set()

    def measure(n: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(n)
        if key in active:
            raise ScenarioError(f"{source}: (top level): recursive alias; a YAML node may not contain itself")
        if key not in memo:
            if depth > MAX_DEPTH:
                raise ScenarioError(f"{source}: YAML error at line {n.start_mark.line + 1}: nested more than "
                                    f"{MAX_DEPTH} levels deep")
            active.add(key)
            children = ([c for pair in n.value for c in pair] if isinstance(n, yaml.MappingNode)
                        else n.value if isinstance(n, yaml.SequenceNode) else [])
            sizes = [measure(c, depth + 1) for c in children]
            active.discard(key)
            memo[key] = (1 + sum(s for s, _ in sizes), 1 + max((h for _, h in sizes), default=0))
        size, height = memo[key]
        if depth + height - 1 > MAX_DEPTH:  # a shared subtree, deep enough to exceed the limit here
            raise ScenarioError(f"{source}: YAML error at line {n.start_mark.line + 1}: nested more than "
                                f"{MAX_DEPTH} levels deep")
        if size > MAX_EXPANDED_NODES:
            raise ScenarioError(f"{source}: (top level): the document expands to more than {MAX_EXPANDED_NODES:,} "
                                "values (an alias bomb?); scenarios are small mappings")
        return size, height

    return measure(node, 1)[0]


def load_yaml_text(text: str, source: str) -> Any:
    """Parse YAML text with the strict safe loader; ScenarioError naming ``source`` and the line for any problem.

    Returns None for a document with no content.
    """
    loader = _StrictSafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, source)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        if "could not determine a constructor" in str(exc):
            problem = f"{problem.split(' for the tag')[0]}; tags like !!python/... are not allowed"
        raise ScenarioError(f"{source}: YAML error{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: YAML error: {exc}") from None
    except RecursionError:  # the pure-Python composer, before our depth check can run
        raise ScenarioError(f"{source}: YAML error: nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file safely; raise ScenarioError naming the file for any problem."""
    source = str(path)
    raw = read_user_bytes(path, MAX_FILE_BYTES, "YAML file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{source}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    if not text.strip() or all(line.strip().startswith("#") or not line.strip() for line in text.splitlines()):
        raise ScenarioError(f"{source}: file is empty; expected a mapping of scenario keys")
    data = load_yaml_text(text, source)
    if data is None:
        raise ScenarioError(f"{source}: file is empty; expected a mapping of scenario keys")
    return data

