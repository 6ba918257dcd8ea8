"""The step context: what a mechanism reads in one step, and the results of the mechanisms before it.

``MarketModel`` builds one :class:`StepContext` per step, after the timeline and the competitors
have moved, and calls each mechanism in the order of ``docs/odd.md`` 1.3 as
``step(cfg, ctx) -> Result``: ``cfg`` its own section of the scenario, ``ctx`` this object. A
mechanism reads the listeners (``ctx.pop``), the step's draws, the table of offers and the
calendar from it, and the results of the mechanisms that ran before it from ``ctx.results``
(by name). It changes in place only the listener arrays its module documents and its own
entry of ``ctx.memory``; everything else it has to say goes in its frozen result, which the
model stores under the mechanism's name for the ones after it and for the KPIs
(``metrics.service_kpis`` reads a registry entry's ``of``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # types only: the context sits below the model and beside the mechanisms
    from sim.agents.listeners import ListenerPopulation
    from sim.agents.services import ServiceTable
    from sim.clock import Clock
    from sim.mechanics.ads import AdvertiserBook
    from sim.mechanics.choice import Options
    from sim.mechanics.diffusion import WordOfMouth
    from sim.random import StepDraws
    from sim.scenario import Scenario


@dataclass
class Memory:
    """What the market keeps between steps besides the listener arrays, one entry per owner.

    Per listener (n,), per slot: the arrays move with their listener (``MarketModel.gather_known``).

    Attributes
    ----------
    stage : int8 (n,)
        Loyalty ladder stage (``loyalty.Stage``), written by ``loyalty``; read by word of mouth.
    reconsider : bool (n,)
        Listeners who choose at the next choice whatever their draws: the market (a lost service),
        awareness (the newly aware), support (a long wait, an outage) set it; ``subscriptions`` clears it.
    sharing : bool (n,)
        Shares data with their current service (``personalization``), False for non-users.
    sharing_now : bool (n,)
        Shares their Wrapped this step (``campaigns``); word of mouth counts them more.
    word_of_mouth : diffusion.WordOfMouth
        The friends' word-of-mouth weights, kept up to date by ``diffusion`` (empty when fully mixed).
    advertisers : ads.AdvertiserBook
        The advertisers' budgets and their split over the services, moved by ``ads``.
    backlog : float (S,)
        Support tickets still waiting, real tickets (``service_quality``).
    """

    stage: np.ndarray
    reconsider: np.ndarray
    sharing: np.ndarray
    sharing_now: np.ndarray
    word_of_mouth: "WordOfMouth"
    advertisers: "AdvertiserBook"
    backlog: np.ndarray

    def listener_arrays(self, history: bool) -> list[np.ndarray]:
        """The arrays with a row per slot, to move with their listeners: with ``history`` all of them; without, none
        (an unaware listener holds its initial value in these: see ``ListenerPopulation.HISTORY``; the word of mouth
        heard is kept per id)."""
        if not history:
            return []
        wom = self.word_of_mouth
        return [self.reconsider, self.stage, self.sharing_now, self.sharing] + ([wom.influence] if wom.total.size else [])


class StepResults(dict):
    """The results of this step's mechanisms so far, by mechanism name: ``results.ads`` is ``results["ads"]``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no mechanism result {name!r} yet this step") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


@dataclass(frozen=True)
class Before:
    """Each listener's service (-1 for none) and tier at the start of the step, int8 (n,): the flows of the KPIs."""

    service: np.ndarray
    tier: np.ndarray


@dataclass(frozen=True)
class StepContext:
    """What a mechanism reads in one step.

    Attributes
    ----------
    t : int
        The step index (0 at the start date).
    date : pandas.Timestamp
        The step's date; ``years`` the years since the start date (float).
    clock : sim.clock.Clock
        The step length (``clock.months_per_step``) and the conversion of monthly rates.
    weight : float
        Real people per simulated listener.
    scenario : Scenario
        The scenario as the timeline left it this step (every section: a mechanism reads others' through it).
    pop : ListenerPopulation
        The listeners, struct of arrays (n,), per slot.
    draws : sim.random.StepDraws
        The step's counter-based random streams.
    table, options : ServiceTable, choice.Options
        The services' offers (S,) and every option of the market (O,).
    price_rose : bool (S, plans)
        The plan's price went up this step.
    rise_review : float (S, plans, R) or None
        Share of a plan's payers reconsidering at a rise, by region (reference prices); None: the flat share.
    outage : float (S,)
        This step's outages per service, severity x days.
    support_staff, support_per_1000, marketing_budget, rak_rate : float (S,)
        The services' fixed advisors, advisors per thousand paying subscribers and marketing (EUR/month), 0 for a
        service not in the market, and their RAK rates.
    people : float
        Real people in the market's reach.
    heard : int8 (n,)
        The entrant each listener has just heard of, -1 for none (``sim.mechanics.entry``).
    before : Before
        Who held what at the start of the step.
    memory : Memory
        What the market keeps between steps (each mechanism writes only its own entry).
    results : StepResults
        The results of the mechanisms that have run this step, by name.
    """

    t: int
    date: pd.Timestamp
    years: float
    clock: "Clock"
    weight: float
    scenario: "Scenario"
    pop: "ListenerPopulation"
    draws: "StepDraws"
    table: "ServiceTable"
    options: "Options"
    price_rose: np.ndarray
    rise_review: np.ndarray | None
    outage: np.ndarray
    support_staff: np.ndarray
    support_per_1000: np.ndarray
    marketing_budget: np.ndarray
    rak_rate: np.ndarray
    people: float
    heard: np.ndarray
    before: Before
    memory: Memory
    results: StepResults = field(default_factory=StepResults)

    @property
    def dt(self) -> float:
        """Months per step."""
        return self.clock.months_per_step

    def shared_until(self) -> int:
        """The step until which a listener who shares now counts as a recent sharer (a year on)."""
        return self.t + int(round(12 / self.dt))
