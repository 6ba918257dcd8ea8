"""A listener's persistent taste for each service: a random coefficient held for life (mixed logit).

Without it a service's utility is the same for every listener but for the month's logit noise, so
services are near-perfect substitutes: a stronger rival takes payers rather than adding them. A
listener's match with a service is persistent and personal (their phone's ecosystem, a bundle, the
catalogue in their language), so it is a random coefficient on the service's constant, held for
life: ``taste_ij = choice.service_taste x z_ij`` EUR/month, ``z_ij`` standard normal, added to the
utility of service j's options (its free tier and plans; not to "nothing"). That is the random-
coefficient (mixed) logit of Berry, Levinsohn & Pakes (1995) and Train (2009, ch. 6): the services'
offers are no longer perfect substitutes, and a second service reaches listeners the first does not.

Nothing is stored: ``z_ij`` is derived whenever it is needed from the counter-based draws of
``sim.random``, the ``"taste"`` stream with the service's index in the place of the step, by
Box-Muller on two draws of the listener's id. So it costs no memory, it is the same serial, in
parallel and on Dask, the same in two scenarios of one seed (common random numbers), and an entrant
(a service of a new index) leaves everyone's taste for the other services as it was.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.random import step_key, uniform_at


@njit(cache=True)
def service_keys(stream_key: np.uint64, n_services: np.int64) -> np.ndarray:
    """The keys of the two draws of each service's taste, uint64 (S, 2): the taste stream at "steps" 2j and 2j + 1."""
    out = np.empty((n_services, 2), np.uint64)
    for j in range(n_services):
        out[j, 0] = step_key(stream_key, np.int64(2 * j))
        out[j, 1] = step_key(stream_key, np.int64(2 * j + 1))
    return out


@njit(cache=True, inline="always")
def taste_at(keys: np.ndarray, ident, j, scale: float) -> float:
    """Listener ``ident``'s taste for service ``j``, EUR/month: ``scale`` x a standard normal (Box-Muller on their
    two draws under ``keys[j]``, :func:`service_keys`); exactly 0 with ``scale`` 0."""
    if scale == 0.0:
        return 0.0
    radius = np.sqrt(-2.0 * np.log(1.0 - uniform_at(keys[j, 0], ident)))  # 1 - u in (0, 1]: a finite log
    return scale * radius * np.cos(2.0 * np.pi * uniform_at(keys[j, 1], ident))


@njit(cache=True)
def _tastes(keys: np.ndarray, ident: np.ndarray, service: np.ndarray, scale: float) -> np.ndarray:
    out = np.empty(ident.size)
    for k in range(ident.size):
        out[k] = taste_at(keys, ident[k], service[k], scale)
    return out


def tastes(keys: np.ndarray, ident: np.ndarray, service: np.ndarray, scale: float) -> np.ndarray:
    """Tastes (EUR/month) of listeners ``ident`` for services ``service`` (int >= 0; shapes broadcast), float64:
    :func:`taste_at` over arrays (the numpy utility's evaluation)."""
    ident, service = np.broadcast_arrays(np.asarray(ident, np.int64), np.asarray(service, np.int64))
    return _tastes(keys, ident.ravel(), service.ravel(), float(scale)).reshape(ident.shape)
