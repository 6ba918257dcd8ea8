"""Imports only go down: no cycle among the modules of ``sim/``, function-level imports included.

The graph is read from the source (an AST walk, nothing imported): an edge A -> B for every
``import sim.B`` or ``from sim.B import ...`` anywhere in A (``from sim.pkg import mod`` imports
the module ``sim.pkg.mod``). A package's ``__init__`` is the package's node; the implicit import of
a parent package by Python is not an edge (a package that re-exports its modules would otherwise
be a cycle with each of them), nor is an import under ``if TYPE_CHECKING:`` (for annotations only, never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

SIM = Path(__file__).resolve().parents[1] / "sim"


def module_name(path: Path, root: Path = SIM) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.AST) -> bool:
    """An ``if TYPE_CHECKING:`` block."""
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def import_graph(root: Path = SIM) -> dict[str, set[str]]:
    """Module -> the ``sim`` modules it imports (at any level of the file)."""
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        typing_only = {id(n) for block in ast.walk(tree) if _type_checking(block) for s in block.body for n in ast.walk(s)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_walk_sees_function_level_imports_and_cycles(tmp_path):
    """The check can fail: a function-level import back up is a cycle."""
    pkg = tmp_path / "sim"
    (pkg / "mechanics").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "mechanics" / "__init__.py").write_text("")
    (pkg / "kernels.py").write_text("def warm():\n    from sim.model import MarketModel\n")
    (pkg / "model.py").write_text("from typing import TYPE_CHECKING\nfrom sim.mechanics import diffusion\n"
                                  "if TYPE_CHECKING:\n    from sim.runner import simulate\n")
    (pkg / "runner.py").write_text("from sim.model import MarketModel\n")
    (pkg / "mechanics" / "diffusion.py").write_text("from sim import kernels\n")
    graph = import_graph(pkg)
    assert graph["sim.kernels"] == {"sim.model"} and graph["sim.mechanics.diffusion"] == {"sim.kernels"}
    assert graph["sim.model"] == {"sim.mechanics.diffusion"}  # the TYPE_CHECKING import is for annotations only
    assert cycles(graph) == [["sim.kernels", "sim.mechanics.diffusion", "sim.model"]]


def test_no_import_cycle_in_sim():
    assert cycles(import_graph()) == []


def test_the_kernels_and_the_mechanisms_import_nothing_above_them():
    graph = import_graph()
    assert not {m for m in graph["sim.kernels"] if m.startswith("sim.")} - {"sim"}
    for name, deps in graph.items():
        if name.startswith("sim.mechanics"):
            assert "sim.model" not in deps and "sim.runner" not in deps, name
