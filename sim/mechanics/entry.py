"""How an entrant grows: its name becomes known, and its catalogue and features catch up, over time.

A service entering the market (a timeline ``enter`` event) is not in every listener's choice set
on its first day. Among the listeners who know the market, the share aware of an entrant ``a``
months after its entry follows the Bass (1969) closed form ``F(a; p, q)``
(``sim.mechanics.diffusion.bass_cdf``; press and marketing as innovation, talk as imitation),
with the age counted to the end of the step. Listener i knows entrant j once their own fixed
draw ``uniform_at(key_j, id_i)`` is below ``F``: awareness only grows, and two scenarios share
who learns first (common random numbers). Until then the entrant is ineligible for them, as a
service not launched in their region is (``sim.mechanics.market``). In the step they hear of it
a share ``consider_share`` of them weigh it against the option they hold (a logit choice between
the two: hearing of a newcomer is not a reason to reconsider everything else).

Its appeal ramps too: the content value it offers (catalogue, playlists, features) starts at
``catalogue_start`` of the value its policy states and closes the gap with time constant
``catalogue_months``:

    content_j(a) = content_value_j * (1 - (1 - catalogue_start) * exp(-a / catalogue_months))

Services in the market from the start are known to all and at full strength.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.agents.listeners import State
from sim.mechanics.diffusion import bass_cdf
from sim.random import step_key, uniform_at

USER = np.int8(State.USER)
KNOWN_TO_ALL = 0.999  # awareness above this counts as everyone's: the column is no longer recomputed each step


def entrants(scenario) -> np.ndarray:
    """Whether each service (the focal service, the competitors, then the entrants) enters during the run, bool (S,)."""
    names = [s.name for s in scenario.all_services()]
    out = np.zeros(len(names), bool)
    for ev in scenario.timeline:
        if ev.enter:
            out[names.index(ev.enter.name)] = True
    return out


def age_months(enter_step: np.ndarray, t: int, dt: float) -> np.ndarray:
    """Months each service has been in the market at the end of step ``t``, float (S,); 0 before entry."""
    return np.maximum(t - enter_step + 1, 0) * dt


def brand_awareness(age: np.ndarray, entrant: np.ndarray, cfg) -> np.ndarray:
    """Share of the listeners who know the market who know each service, float64 (S,) in [0, 1]:
    Bass in the age (months, (S,)) for an entrant, 1 for the others or when switched off."""
    if not cfg.enabled:
        return np.ones(age.shape)
    share = bass_cdf(age, cfg.awareness_p, cfg.awareness_q)
    return np.where(~entrant | (share > KNOWN_TO_ALL), 1.0, share)


def appeal(content_value: np.ndarray, age: np.ndarray, entrant: np.ndarray, cfg) -> np.ndarray:
    """Content value each service offers now, EUR/month float32 (S,): an entrant's ramps from
    ``catalogue_start`` of its policy's ``content_value`` (S,) with its age (months, (S,))."""
    if not cfg.enabled:
        return content_value.astype(np.float32)
    ramp = 1.0 - (1.0 - cfg.catalogue_start) * np.exp(-age / cfg.catalogue_months)
    return (content_value * np.where(entrant, ramp, 1.0)).astype(np.float32)


@njit(cache=True)
def forget_unknown(available: np.ndarray, ident: np.ndarray, brand: np.ndarray, before: np.ndarray, recomputed: np.ndarray,
                   key: np.uint64, consider: float, known: np.ndarray, state: np.ndarray, service: np.ndarray,
                   triggered: np.ndarray, heard: np.ndarray) -> None:
    """Take an entrant out of the choice set of the listeners who do not know it yet, in place.

    ``available`` (n, S) bool as ``market.update_availability`` left it, for the services
    ``recomputed`` (S,) bool; ``brand`` (S,) the share who know each service now (1: all) and
    ``before`` (S,) at the last update; listener i (slot, id ``ident[i]``) knows service j when
    ``uniform_at(step_key(key, j), ident[i]) < brand[j]``. Among the listeners who know the market
    (``known``, ascending), ``triggered`` marks a user who may no longer use their service, and a
    share ``consider`` of those who have just heard of an entrant j they may use (a second draw,
    ``uniform_at(~step_key(key, j), id)``), for whom ``heard`` (n,) int8 records j: they weigh
    it against their option this step (:func:`consider_only`).
    """
    for j in range(brand.size):
        if not recomputed[j] or brand[j] >= 1.0:
            continue
        kj = step_key(key, np.int64(j))
        for i in range(ident.size):
            available[i, j] &= uniform_at(kj, ident[i]) < brand[j]
    for j in range(brand.size):
        if brand[j] <= before[j] or consider <= 0.0:
            continue
        kj = step_key(key, np.int64(j))
        for k in range(known.size):
            i = known[k]
            # newly heard of it: known before, the draw would have been below ``before``
            if available[i, j] and uniform_at(kj, ident[i]) >= before[j] and uniform_at(~kj, ident[i]) < consider:
                triggered[i] = True
                heard[i] = j
    for k in range(known.size):
        i = known[k]
        if state[i] == USER and not available[i, max(service[i], 0)]:
            triggered[i] = True


@njit(cache=True)
def consider_only(u: np.ndarray, current: np.ndarray, o_service: np.ndarray, entrant: np.ndarray, ineligible: float) -> None:
    """Restrict a decider who has just heard of an entrant to their current option and the entrant's
    options, in place in ``u`` (m, n_options) (the others get utility ``ineligible``): ``current`` (m,) their
    option (0 nothing; -1 withdrawn: no restriction), ``o_service`` (n_options,) each option's
    service, ``entrant`` (m,) int8 the entrant they heard of, -1 for none."""
    for k in range(u.shape[0]):
        j = entrant[k]
        if j < 0 or current[k] < 0:
            continue
        for o in range(o_service.size):
            if o != current[k] and o_service[o] != j:
                u[k, o] = ineligible
