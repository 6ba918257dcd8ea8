"""Work around Mesa 3.3's agent-id registry, which keeps every model alive.

``mesa.Agent._ids`` is a class-level ``defaultdict`` keyed by model: the first agent
of a model adds an entry, and nothing ever removes it, so every ``MarketModel`` built
in a process (with its listener arrays) stays in memory. A sweep worker, a calibration
and the dashboard's Reset grow without bound. Mesa fixed this upstream in 3.4.2
(weakly keyed ids), which needs Python >= 3.12; this project runs on 3.11 with Mesa
3.3, so :func:`install` swaps the registry for a weakly keyed one with the same
behaviour: ids still count from 1 per model, and an entry goes when its model does.
"""

from __future__ import annotations

import itertools
import weakref

import mesa


class WeakModelIds(weakref.WeakKeyDictionary):
    """Model -> ``itertools.count(1)``, created on first use, dropped with the model."""

    def __getitem__(self, model):
        try:
            return super().__getitem__(model)
        except KeyError:
            ids = self[model] = itertools.count(1)
            return ids


def install() -> None:
    """Make ``mesa.Agent._ids`` weakly keyed (once; a no-op if it already is)."""
    if not isinstance(mesa.Agent._ids, weakref.WeakKeyDictionary):
        mesa.Agent._ids = WeakModelIds(mesa.Agent._ids)
