"""Personalisation: the data flywheel, recommendation match, privacy.

A listener who shares data with their current service gives it one hour of data per
hour listened (``data_depth``, hours). Match rises with depth and the service's
investment: ``match = 1 + personalization * lift * (1 - exp(-depth / tau))``; a better
match raises the content value and listening hours, which deepen the data further.
Privacy-sensitive listeners (about 30% in the case material) refuse data under an
opt-in policy, and only a share of the others take the trouble to agree; under opt-out
a share of the privacy-sensitive opt out and the rest share but dislike heavier
personalisation (``privacy_cost * personalization``, EUR/month).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sim.agents.listeners import State

USER = np.int8(State.USER)


def shares_data(privacy_sensitive: np.ndarray, consent_draw: np.ndarray, opt_in: np.ndarray | bool,
                opt_out_share: float, opt_in_share: float) -> np.ndarray:
    """Whether each listener shares listening data under a service's data policy (bool, broadcast shape).

    Under opt-out everyone shares except the privacy-sensitive listeners who actively opt
    out (``consent_draw < opt_out_share``); under opt-in privacy-sensitive listeners never
    agree and the others agree if ``consent_draw < opt_in_share`` (asking loses some data).
    """
    opt_out_policy = ~privacy_sensitive | (consent_draw >= opt_out_share)
    opt_in_policy = ~privacy_sensitive & (consent_draw < opt_in_share)
    return np.where(opt_in, opt_in_policy, opt_out_policy)


@njit(cache=True)
def sharers(users: np.ndarray, state: np.ndarray, service: np.ndarray, privacy_sensitive: np.ndarray, consent_draw: np.ndarray,
            opt_in: np.ndarray, opt_out_share: float, opt_in_share: float, data_depth: np.ndarray,
            tau_hours: float) -> tuple[np.ndarray, np.ndarray]:
    """Whether each user shares data with their current service (:func:`shares_data` under the
    service's policy ``opt_in`` (S,)), bool (n,), False for non-users; and the
    :func:`depth_fraction` of each of ``users`` who shares, float64 (m,), 0 for the others: what
    listening, the ad audience and the users' utility read this step (data depth does not
    change between them). One pass over ``users`` (ascending; any non-user among them gets False).
    """
    out = np.zeros(state.size, np.bool_)
    fraction = np.zeros(users.size)
    who = np.empty(users.size, np.int32)  # positions in ``users`` of the sharers (int32: not mapped afresh at 10M)
    m = 0
    for k in range(users.size):  # no branch on the listener: selects, and a compaction of the sharers
        i = np.uint64(users[k])  # unsigned: an index numba need not wrap around (no sign test per read)
        shares = ((not privacy_sensitive[i]) & (consent_draw[i] < opt_in_share) if opt_in[max(service[i], 0)]
                  else (not privacy_sensitive[i]) | (consent_draw[i] >= opt_out_share))
        shares &= state[i] == USER
        out[i] = shares
        who[m] = k
        m += shares
    for s in range(m):
        k = who[s]
        fraction[k] = 1.0 - np.exp(-data_depth[np.uint64(users[k])] / tau_hours)
    return out, fraction


@dataclass(frozen=True)
class Sharing:
    """Who uses a service this step and who shares data with it, after the deciders moved.

    Attributes
    ----------
    users : int (m,)
        Slots of the listeners using a service, ascending (no one starts or stops until the next step).
    sharing : bool (n,)
        Shares data with their current service, False for non-users.
    fraction : float64 (m,)
        The data depth fraction of each of ``users`` who shares, 0 for the others: what listening, the ad
        audience and the users' utility read (data depth grows only at the end of the step).
    """

    users: np.ndarray
    sharing: np.ndarray
    fraction: np.ndarray


def users_sharing(cfg, pop, users: np.ndarray, opt_in: np.ndarray) -> Sharing:
    """:func:`sharers` of ``users`` (ascending) under each service's data policy ``opt_in`` (S,); nobody
    shares when personalisation is off."""
    if not cfg.enabled:
        return Sharing(users, np.zeros(pop.n, bool), np.zeros(users.size))
    return Sharing(users, *sharers(users, pop.state, pop.service, pop.privacy_sensitive, pop.consent_draw, opt_in,
                                   cfg.opt_out_share, cfg.opt_in_share, pop.data_depth, cfg.tau_hours))


def step(cfg, ctx) -> Sharing:
    """The users of this step and who shares data with their (new) service (``memory.sharing``)."""
    out = users_sharing(cfg, ctx.pop, ctx.pop.users(), ctx.table.opt_in)
    ctx.memory.sharing = out.sharing
    return out


def deepen(ctx) -> None:
    """The data grows: sharers add the hours they listened this step (:func:`grow_depth`, in place)."""
    shared = ctx.results.sharing
    grow_depth(shared.users, ctx.pop.data_depth, ctx.pop.hours, shared.sharing, ctx.dt)


def depth_fraction(data_depth: np.ndarray, tau_hours: float) -> np.ndarray:
    """How much of the attainable match the data supports, in [0, 1)."""
    return 1.0 - np.exp(-data_depth / tau_hours)


@njit(cache=True)
def grow_depth(users: np.ndarray, data_depth: np.ndarray, hours: np.ndarray, sharing: np.ndarray, dt: float) -> None:
    """Data depth after a step of listening, float32 (n,), in place: sharers (among ``users``; only a
    user shares) add the hours they listened (hours/month x dt)."""
    for k in range(users.size):  # a select, not a branch: sharing is a coin flip
        i = np.uint64(users[k])  # unsigned: an index numba need not wrap around (no sign test per read)
        grown = data_depth[i] + hours[i] * dt
        data_depth[i] = grown if sharing[i] else data_depth[i]


def targeting_quality(data: np.ndarray, listeners: np.ndarray, personalization: np.ndarray) -> np.ndarray:
    """Ad-targeting quality of each service in [0, 1], shape (n_services,).

    ``data`` (S,): the depth fractions of each service's free listeners summed (0 for those
    who share no data); ``listeners`` (S,): its free listeners; ``personalization`` (S,):
    investment. Quality is the investment times the mean depth fraction of the service's
    free users.
    """
    depth = np.divide(data, listeners, out=np.zeros(personalization.shape[0]), where=listeners > 0)
    return personalization * depth
