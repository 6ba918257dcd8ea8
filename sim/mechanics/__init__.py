"""The market's mechanisms, one module each, and the mechanisms that join the step after another.

``MarketModel.step`` calls the core mechanisms one line each, in the order of ``docs/odd.md`` 1.3.
A mechanism that only adjusts what one of them produced (podcasts: the hours, after listening and
before the ad market reads them) joins the step instead of adding a line to it: its module declares

    RUNS_AFTER = "listening"

and the model, at the extension point after ``listening``, runs every module of this package that
declares it, in the order of their names, as ``ctx.results.<name> = <name>.step(ctx.scenario.mechanisms.<name>, ctx)``:
the module's name is its section of the schema and the name of its result. The extension points are
:data:`POINTS`; ``tests/test_step_order.py`` checks that the order the model runs is the one
``docs/odd.md`` 1.3 lists.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType
from typing import Any

#: Where a mechanism may join the step, by the result it runs after: what it may adjust there.
POINTS = {
    "listening": "the listeners' hours (pop.hours), before the ad market turns the free tier's into inventory",
}


class JoinError(ValueError):
    """A mechanism module declares a place in the step that does not exist, or has no schema section."""


@cache
def joined(point: str) -> tuple[tuple[str, ModuleType], ...]:
    """The mechanisms (name, module) that run after ``point``, in the order of their names.

    Every module of this package is imported to read its ``RUNS_AFTER`` (once: the answer is kept).
    Raises :class:`JoinError` for a module declaring a point not in :data:`POINTS`.
    """
    if point not in POINTS:
        raise JoinError(f"no extension point {point!r} in the step; allowed: {', '.join(POINTS)}")
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        after = getattr(module, "RUNS_AFTER", None)
        if after is not None and after not in POINTS:
            raise JoinError(f"sim/mechanics/{info.name}.py: RUNS_AFTER = {after!r} is not an extension point; "
                            f"allowed: {', '.join(POINTS)}")
        if after == point:
            found.append((info.name, module))
    return tuple(found)


def run_after(point: str, ctx: Any) -> None:
    """Run the mechanisms joined after ``point`` (:func:`joined`), each on its schema section
    ``ctx.scenario.mechanisms.<name>``, storing its result as ``ctx.results.<name>``."""
    for name, module in joined(point):
        cfg = getattr(ctx.scenario.mechanisms, name, None)
        if cfg is None:
            raise JoinError(f"sim/mechanics/{name}.py joins the step but the schema has no section mechanisms.{name} "
                            "(sim/scenario/mechanisms.py)")
        ctx.results[name] = module.step(cfg, ctx)
