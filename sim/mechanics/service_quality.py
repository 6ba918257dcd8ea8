"""Service quality: incidents, outages, the support queue and service recovery.

Users file support tickets at a base rate, more during an outage. Each service's
advisors resolve ``support_staff * tickets_per_staff`` tickets a month; the response
time follows a fluid queue: ``base / (1 - utilisation)`` while the team keeps up, plus
the time to clear any backlog, of which a share gives up each month. A listener whose
wait exceeds the threshold loses
goodwill and may reconsider their option; a share ``rak_rate`` of resolved tickets get a
small personalised delight (a random act of kindness, RAK) that adds goodwill and makes
the listener tell friends.
"""

from __future__ import annotations

import numpy as np

HOURS_PER_MONTH = 730.5
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


def abandon(backlog: float, abandonment: float, dt: float) -> float:
    """Backlog still waiting after a step in which a share ``abandonment`` per month gives up."""
    return backlog * (1.0 - abandonment) ** dt


def ticket_probability(ticket_rate: float, outage_severity_days: np.ndarray, outage_tickets: float, dt: float) -> np.ndarray:
    """Probability a user files a ticket this step, per service (S,)."""
    extra = np.minimum(outage_tickets * outage_severity_days, 1.0)
    return 1.0 - (1.0 - ticket_rate) ** dt * (1.0 - extra)


def individual_waits(mean_hours: np.ndarray, draw: np.ndarray) -> np.ndarray:
    """Each ticket's wait, hours: exponential around its service's mean response time."""
    return -mean_hours * np.log1p(-np.clip(draw, 0.0, 1.0 - 1e-7))
