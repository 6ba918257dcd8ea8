"""Service quality: incidents, outages, the support queue and service recovery.

Paying users file support tickets at a base rate, free users at a share of it, everyone more
during an outage. Each service staffs its support by a rule: ``support_staff`` advisors plus
``support_per_1000`` per thousand paying subscribers (trials included), so the team grows with
the subscribers. The advisors resolve ``staff * tickets_per_staff`` tickets a month; the response
time follows a fluid queue: ``base / (1 - utilisation)`` while the team keeps up, plus
the time to clear any backlog, of which a share gives up each month. A listener whose
wait exceeds the threshold loses
goodwill and may reconsider their option; a share ``rak_rate`` of resolved tickets get a
small personalised delight (a random act of kindness, RAK) that adds goodwill and makes
the listener tell friends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sim.agents.listeners import Tier
from sim.clock import DAYS_PER_MONTH

HOURS_PER_MONTH = 24 * DAYS_PER_MONTH  # 730.5
FREE = np.int8(Tier.FREE)
MAX_UTILISATION = 0.95


def response_hours(arrivals: float, backlog: float, capacity: float, base_hours: float) -> tuple[float, float]:
    """Mean response time (hours) and the backlog left (tickets) for one step.

    ``arrivals`` and ``backlog`` are tickets, ``capacity`` the tickets the team can resolve
    in the step. With no staff every ticket waits a full year.
    """
    load = arrivals + backlog
    if load <= 0:
        return base_hours, 0.0
    if capacity <= 0:
        return 12 * HOURS_PER_MONTH, load
    left = max(load - capacity, 0.0)
    utilisation = min(load / capacity, MAX_UTILISATION)
    return base_hours / (1.0 - utilisation) + left / capacity * HOURS_PER_MONTH, left


def staffing(support_staff: np.ndarray, support_per_1000: np.ndarray, subscribers: np.ndarray) -> np.ndarray:
    """Advisors of each service (S,): a fixed team plus ``support_per_1000`` per thousand paying subscribers (real)."""
    return support_staff + support_per_1000 * subscribers / 1000.0


def abandon(backlog: float, abandonment: float, dt: float) -> float:
    """Backlog still waiting after a step in which a share ``abandonment`` per month gives up."""
    return backlog * (1.0 - abandonment) ** dt


def ticket_probability(ticket_rate: float, outage_severity_days: np.ndarray, outage_tickets: float, dt: float) -> np.ndarray:
    """Probability a user files a ticket this step, per service (S,)."""
    extra = np.minimum(outage_tickets * outage_severity_days, 1.0)
    return 1.0 - (1.0 - ticket_rate) ** dt * (1.0 - extra)


def file_tickets(users: np.ndarray, service: np.ndarray, tier: np.ndarray, paying: np.ndarray, free: np.ndarray,
                 draws) -> np.ndarray:
    """The users (a subset of ``users`` (m,), in order) who file a ticket this step, with the probabilities
    ``paying`` and ``free`` (S,) of their service's paying and free users: those whose draw is below the larger
    one (one pass), then, of those, the ones below their own tier's (the same draw, over the few tickets)."""
    tickets = draws.below_by("ticket", users, service, np.maximum(paying, free))
    if np.array_equal(paying, free):
        return tickets
    j = service[tickets]
    return tickets[draws.uniform("ticket", tickets) < np.where(tier[tickets] == FREE, free[j], paying[j])]


@njit(cache=True)
def held(users: np.ndarray, service: np.ndarray, tier: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Free and paying (premium or trial) users of each service, simulated, int64 (S,) each, in one pass over ``users``."""
    free = np.zeros(s, np.int64)
    every = np.zeros(s, np.int64)
    for k in range(users.size):
        i = np.uint64(users[k])  # unsigned: an index numba need not wrap around (no sign test per read)
        every[service[i]] += 1
        free[service[i]] += tier[i] == FREE  # without a branch: free or paying is a coin flip
    return free, every - free


def individual_waits(mean_hours: np.ndarray, draw: np.ndarray) -> np.ndarray:
    """Each ticket's wait, hours: exponential around its service's mean response time."""
    return -mean_hours * np.log1p(-np.clip(draw, 0.0, 1.0 - 1e-7))


def wait_effect(waits: np.ndarray, cfg) -> tuple[np.ndarray, np.ndarray]:
    """Goodwill lost (EUR/month) and the probability of reconsidering, for a wait of ``waits`` hours, shapes as waits.

    ``threshold``: ``wait_penalty`` and ``wait_review`` past ``wait_threshold_hours`` w0, nothing before.
    ``continuous``: ``wait_penalty * w / w0`` up to w0 and ``wait_penalty * (1 + 2 (w / w0 - 1))`` past it (a
    broken promise hurts more; capped at 10x), and ``wait_review * min(1, w / (4 w0))``.
    """
    ratio = waits / cfg.wait_threshold_hours
    if cfg.wait_shape == "threshold":
        long = ratio > 1.0
        return np.where(long, cfg.wait_penalty, 0.0), np.where(long, cfg.wait_review, 0.0)
    scale = np.minimum(np.where(ratio <= 1.0, ratio, 1.0 + 2.0 * (ratio - 1.0)), 10.0)
    return cfg.wait_penalty * scale, cfg.wait_review * np.minimum(ratio / 4.0, 1.0)


@dataclass(frozen=True)
class Support:
    """One step of service quality. Per listener (n,) or per service (S,).

    Attributes
    ----------
    goodwill : ndarray (n,) float32
        Goodwill after waits (-, ``wait_effect``), RAK (+) and outages (-), EUR/month: the array passed in, changed in place.
    reconsider : ndarray (k,) int
        Listeners a long wait or an outage makes reconsider their option next step (a listener may appear twice).
    told_friends : ndarray (k,) int
        Listeners delighted by a RAK, who share (count as having shared, for the ladder).
    backlog : ndarray (S,)
        Tickets still waiting after the step, real tickets.
    response_hours : ndarray (S,)
        Mean response time, hours (NaN when the mechanism is off).
    tickets : ndarray (S,)
        Tickets filed, real tickets/month.
    staff : ndarray (S,)
        Support advisors (``staffing``).
    """

    goodwill: np.ndarray
    reconsider: np.ndarray
    told_friends: np.ndarray
    backlog: np.ndarray
    response_hours: np.ndarray
    tickets: np.ndarray
    staff: np.ndarray


def serve(users: np.ndarray, service: np.ndarray, tier: np.ndarray, goodwill: np.ndarray, outage_severity_days: np.ndarray,
          backlog: np.ndarray, support_staff: np.ndarray, support_per_1000: np.ndarray, rak_rate: np.ndarray, draws, cfg,
          weight: float, dt: float) -> Support:
    """Tickets, the support queue, long waits, RAK and outages of one step.

    ``users`` (m,) the listeners who use a service (ascending), ``service`` and ``tier`` (n,) their services and tiers;
    ``goodwill`` (n,) float32 EUR/month is changed in place (and returned in ``Support``: a copy
    of every listener's would cost more than the changes); ``outage_severity_days``, ``backlog``, ``support_staff`` (advisors),
    ``support_per_1000`` (advisors per thousand subscribers) and ``rak_rate`` are per service (S,); ``draws`` the step's random streams
    (:class:`sim.random.StepDraws`): ``ticket`` for users, ``wait`` and ``rak`` for ticket
    holders, ``wait_review`` for ticket holders (``wait_effect``), ``outage`` for users hit by an outage.
    ``dt`` in months.
    """
    s = backlog.size
    if not cfg.enabled:
        none = np.zeros(0, np.int64)
        return Support(goodwill, none, none, backlog, np.full(s, np.nan), np.zeros(s), np.zeros(s))
    sev = outage_severity_days
    free_users, subscribers = (count * weight for count in held(users, service, tier, s))
    staff = staffing(support_staff, support_per_1000, subscribers)
    paying = ticket_probability(cfg.ticket_rate, sev, cfg.outage_tickets, dt)
    free = ticket_probability(cfg.ticket_rate * cfg.free_ticket_share, sev, cfg.outage_tickets, dt)
    tickets = file_tickets(users, service, tier, paying, free, draws)
    # the queue meets the real population's tickets, whose count hardly varies, not the few simulated ones
    arrivals = subscribers * paying + free_users * free
    mean_wait, left = np.zeros(s), np.zeros(s)
    for j in range(s):
        capacity = staff[j] * cfg.tickets_per_staff * dt
        mean_wait[j], left[j] = response_hours(arrivals[j], backlog[j], capacity, cfg.base_response_hours)
    waits = individual_waits(mean_wait[service[tickets]], draws.uniform("wait", tickets))
    long = waits > cfg.wait_threshold_hours
    penalty, review = wait_effect(waits, cfg)
    goodwill[tickets] -= penalty
    served = tickets[~long]
    rak = draws.below_by("rak", served, service, rak_rate)
    goodwill[rak] += cfg.rak_lift
    hit = users[sev[service[users]] > 0] if (sev > 0).any() else users[:0]
    goodwill[hit] -= cfg.outage_penalty * sev[service[hit]]
    reconsider = np.concatenate([draws.below("wait_review", tickets, review),
                                 draws.below("outage", hit, np.minimum(cfg.outage_review * sev[service[hit]], 1.0))])
    return Support(goodwill, reconsider, rak, abandon(left, cfg.abandonment, dt), mean_wait, arrivals / dt, staff)


def step(cfg, ctx) -> Support:
    """Tickets, the support queue, long waits, RAK and outages of one step (:func:`serve`), and their effects
    on the listeners in place: goodwill; the delighted count as recent sharers for a year (``shared_until``);
    those a long wait or an outage makes reconsider choose at the next step (``memory.reconsider``); the
    backlog left (``memory.backlog``).

    ``cfg`` the service-quality section; ``ctx`` the step: the users (``results.sharing``), this step's
    outages, the services' staffing rules (fixed advisors and advisors per thousand subscribers) and RAK rates.
    """
    pop, memory = ctx.pop, ctx.memory
    support = serve(ctx.results.sharing.users, pop.service, pop.tier, pop.goodwill, ctx.outage, memory.backlog,
                    ctx.support_staff, ctx.support_per_1000, ctx.rak_rate, ctx.draws, cfg, ctx.weight, ctx.dt)
    memory.backlog = support.backlog
    memory.reconsider[support.reconsider] = True
    pop.shared_until[support.told_friends] = ctx.shared_until()
    return support
