"""MarketModel: the freemium streaming market, one call per mechanism in the step order of ``docs/odd.md`` 1.3.

Listeners are a struct-of-arrays population, services Mesa agents, advertisers a struct-of-arrays
book (``sim.mechanics.ads``). Each mechanism owns its step in ``sim/mechanics`` (``step(cfg, ctx)``,
``sim.mechanics.context``); this module holds the state between steps and wires them. Set-up draws come from the ``init`` generator; a step's
draw of a listener is a function of (seed, stream, step, listener) (``sim.random``): the same seed
gives the same numbers, and two scenarios share their draws wherever listeners are in the same
situation (common random numbers).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import mesa
import numpy as np
import pandas as pd

from sim import results
from sim.agents.listeners import ListenerPopulation
from sim.agents.services import ListPrices, Service, ServiceTable
from sim.clock import Clock
from sim.mechanics import (accounting, ads, campaigns, diffusion, entry, habit, listening, loyalty, market, personalization, prices,
                           run_after, service_quality, subscriptions)
from sim.mechanics.choice import build_options
from sim.mechanics.context import Before, Memory, StepContext, StepResults
from sim.metrics import MARKET_KPIS, REGION_TIERS, SERVICE_KPIS, Records, Tally, market_counts, service_kpis
from sim.policy import RunningPolicy
from sim.random import CounterRandom
from sim.scenario import Scenario

STREAMS = ("init", "diffusion", "review", "trigger", "choice", "payment", "ticket", "wait", "rak", "wrapped", "outage", "wait_review",
           "market", "brand", "ecosystem", "taste")  # new streams go last: the earlier ones keep their seeds
SETUP_STREAMS = ("init", "market", "ecosystem")  # drawn from once, at set-up (numpy generators)


class MarketModel(mesa.Model):
    """A freemium music-streaming market.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    seed : numpy.random.SeedSequence or int, optional
        Seed of this replicate; default ``SeedSequence(scenario.seed)``.
    """

    def __init__(self, scenario: Scenario, seed: np.random.SeedSequence | int | None = None):
        seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(scenario.seed if seed is None else seed)
        # the children seq.spawn() would give a fresh sequence, without spawning: a SeedSequence
        # reused for scenario B (common random numbers) gives B the same streams as A
        children = [np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, k), pool_size=seq.pool_size)
                    for k in range(len(STREAMS) + 1)]
        super().__init__(rng=np.random.default_rng(children[0]))
        # set-up streams are generators; the per-step streams are counter-based (sim.random)
        self.streams = {name: np.random.default_rng(c) for name, c in zip(STREAMS, children[1:]) if name in SETUP_STREAMS}
        self.draws = CounterRandom({name: c for name, c in zip(STREAMS, children[1:]) if name not in SETUP_STREAMS})
        self.policy = RunningPolicy(scenario)
        self.clock = Clock.of(scenario)
        self.dt = self.clock.months_per_step
        self.n_steps = self.clock.n_steps
        self.dates = self.clock.dates
        self._timestamps = list(self.dates)  # the dates as Timestamps: indexing the DatetimeIndex each step costs more
        self.weight = scenario.weight
        self.t = 0

        self.population = ListenerPopulation(scenario, self.streams["init"], self.streams["ecosystem"],
                                             self.draws.stream_keys["taste"])
        pop, n = self.population, self.population.n
        self.services = [Service(self, k, focal=(k == 0)) for k in range(len(scenario.all_services()))]
        s = len(self.services)
        self.reach = market.Reach(scenario, pop, self.clock, self.streams["market"], s, self.draws.stream_keys["brand"])
        reconsider = np.zeros(n, bool)
        self.reach.update(scenario, pop, self.t, self.dt, self.weight, reconsider)
        months = self.reach.months
        # (R, months) consumer prices, 1 at the start
        self._index = prices.region_index(scenario.inflation, [r.inflation_area for r in scenario.regions], months, int(months[0]))
        self._reference: np.ndarray | None = None  # (S, plans, R) real reference prices, adapting each step; None before the first
        self._rise_review: np.ndarray | None = None  # (S, plans, R) share of payers reviewing at a rise; None: the flat share
        # the initial ad budgets go to the services selling ads at the start: an entrant gets none before its date
        selling = np.array([x.policy.free_tier for x in self.services]) & self.reach.active
        book = ads.AdvertiserBook.draw(scenario.mechanisms.ads, selling, scenario.mechanisms.personalization.genres,
                                       self.streams["init"])
        self.memory = Memory(stage=np.zeros(n, np.int8), reconsider=reconsider, sharing=np.zeros(n, bool),
                             sharing_now=np.zeros(n, bool), word_of_mouth=diffusion.WordOfMouth.empty(0 if pop.fully_mixed else n),
                             advertisers=book, backlog=np.zeros(s))
        self._events = defaultdict(list)  # step -> the timeline events of its date
        for ev in scenario.timeline:
            self._events[self.clock.step_of_month(ev.at)].append(ev)
        self.outage = np.zeros(s)  # this step's outage per service, severity x days
        self._last_prices: np.ndarray | None = None  # (S, plans, R) last step's local plan prices: a rise is a shock
        self.price_rose = np.zeros((s, 4, len(scenario.regions)), bool)  # (service, plan, region): price went up this step
        self._focal_prices: list[float] = []  # the focal headline price at every step: what competitors match
        self._shares: list[list[float]] = [[] for _ in range(s)]  # each service's market share at every step
        self.records = Records(SERVICE_KPIS, self.n_steps, s)
        self.market_records = Records(MARKET_KPIS, self.n_steps)
        self.region_records = np.zeros((self.n_steps, len(scenario.regions), s, len(REGION_TIERS)))  # real people
        self.cohort_counts = {tier: np.zeros((self.n_steps, self.n_steps + 1)) for tier in ("premium", "free")}
        # (running scenario, price multipliers + services in the market) of the table of offers: rebuilt when it changes
        self._offer_key = None
        self._refresh_offers()
        subscriptions.place_initial(pop, self.options, self.table, scenario, self.streams["init"])
        self.memory.sharing = personalization.users_sharing(scenario.mechanisms.personalization, pop, pop.users(),
                                                            self.table.opt_in).sharing
        pop.data_depth[self.memory.sharing] = (pop.tenure * pop.base_hours)[self.memory.sharing]
        self.gather_known(history=True)

    def gather_known(self, history: bool = False) -> np.ndarray:
        """Move the listeners who know the market to the first slots, returning those who joined
        (``ListenerPopulation.gather_known``). Of the model's arrays, an unaware listener holds values
        of their own only in their place and the word of mouth they hear; the rest move with ``history``."""
        return self.population.gather_known([self.reach.place] + self.memory.listener_arrays(history), history)

    # ------------------------------------------------------------ helpers

    def _refresh_offers(self) -> None:
        """Rebuild the table of offers and the options only if the policy (any value of the running
        scenario), a competitor's price multiplier or the services in the market changed; the
        marketing pull follows the people in reach every step, an entrant's content value its age and premium's value
        the habit of paying for streaming (sim.mechanics.habit)."""
        key = (self.scenario, [x.price_multiplier for x in self.services] + self.reach.active.tolist())
        camp = self.scenario.mechanisms.campaigns
        spend = self._policy("marketing_budget") * self.reach.active
        pull = campaigns.salience(spend, self.reach.people, camp.marketing_acquisition,
                                  camp.marketing_reference) if camp.enabled else np.zeros(len(self.services))
        content = entry.appeal(self._policy("content_value"), entry.age_months(self.reach.enter_step, self.t, self.dt),
                               self.reach.entrant, self.scenario.mechanisms.entry)  # an entrant's catalogue catches up
        gap = (self._policy("restriction_gap") + habit.premium_habit(self.scenario.mechanisms.habit, self.date)).astype(np.float32)
        if self._offer_key is not None and self._offer_key[0] is key[0] and self._offer_key[1] == key[1]:
            pull = pull.astype(np.float32)
            if not (np.array_equal(pull, self.table.salience) and np.array_equal(content, self.table.content_value)
                    and np.array_equal(gap, self.table.restriction_gap)):  # the options read none of them
                self.table = dataclasses.replace(self.table, salience=pull, content_value=content, restriction_gap=gap)
            return
        self._offer_key = key
        self.table = dataclasses.replace(ServiceTable.of(self.services, pull, self.policy.regional,
                                                         self.scenario.mechanisms.ecosystems),
                                         content_value=content, restriction_gap=gap)
        self.options = build_options(self.table)

    def _policy(self, field: str) -> np.ndarray:
        """One policy field of every service, shape (S,)."""
        return np.array([getattr(x.policy, field) for x in self.services])

    @property
    def scenario(self) -> Scenario:
        """The scenario as it stands now: the start scenario plus the policy changes so far."""
        return self.policy.scenario

    @property
    def date(self) -> pd.Timestamp:
        return self._timestamps[min(self.t, self.n_steps - 1)]

    # ------------------------------------------------------------ the step

    def step(self) -> None:
        """Advance the market by one step (a month or a week), in the order of ``docs/odd.md`` 1.3."""
        if self.t >= self.n_steps:
            self.running = False
            return
        ctx = self.begin_step()  # 1. timeline events, the market's reach; 2. competitors react, prices
        scen, mech, r = ctx.scenario, ctx.scenario.mechanisms, ctx.results
        r.wrapped = campaigns.wrapped_step(mech.campaigns, ctx)  # 3. December: Wrapped users share, gain goodwill
        r.awareness = diffusion.step(scen.diffusion, ctx)  # 4. awareness (Bass: innovation + word of mouth)
        self.memory.reconsider[self.gather_known()] = True  # the newly aware join the known's slots, and choose now
        r.decisions = subscriptions.step(scen.choice, ctx)  # 5. payment failures, then the deciders choose
        r.sharing = personalization.step(mech.personalization, ctx)  # who uses a service now and shares data
        r.listening = listening.step(mech.listening, ctx)  # 6. listening hours
        run_after("listening", ctx)  # 6. the mechanisms that join after listening (RUNS_AFTER in their module)
        r.ads = ads.step(mech.ads, ctx)  # 7. the ad market
        r.support = service_quality.step(mech.service_quality, ctx)  # 8. support queue, long waits, RAK, outages
        r.loyalty = loyalty.step(mech.loyalty, ctx)  # 9. satisfaction, goodwill, tenure, ladder stage
        personalization.deepen(ctx)  # 9. data depth
        r.money = accounting.step(ctx)  # 10. money, then the KPIs and cohorts
        self.record(ctx)
        self.t += 1
        if self.t >= self.n_steps:
            self.running = False

    def begin_step(self) -> StepContext:
        """1-2. The timeline, the competitors and the prices move; the step's context for the mechanisms."""
        pop = self.population
        before = Before(pop.service.copy(), pop.tier.copy())  # non-users hold NO_SERVICE
        self.apply_timeline()
        self.services_act()
        date, active = self.date, self.reach.active
        return StepContext(
            t=self.t, date=date, years=(date - self._timestamps[0]).days / 365.25, clock=self.clock, weight=self.weight,
            scenario=self.scenario, pop=pop, draws=self.draws.at(self.t, pop.ident), table=self.table, options=self.options,
            price_rose=self.price_rose, rise_review=self._rise_review, outage=self.outage,
            support_staff=self._policy("support_staff") * active, support_per_1000=self._policy("support_per_1000") * active,
            marketing_budget=self._policy("marketing_budget") * active, rak_rate=self._policy("rak_rate"), people=self.reach.people,
            heard=self.reach.heard, before=before, memory=self.memory,
            results=StepResults(prices=ListPrices.of(self.services)))

    def update_market(self) -> None:
        """1a. People coming into reach enter as unaware; services enter and leave; who may use which service.

        Users who may no longer use their service (it left the market or their region) choose again this step.
        """
        self.reach.update(self.scenario, self.population, self.t, self.dt, self.weight, self.memory.reconsider)

    def apply_timeline(self) -> None:
        """1. Timeline events of this date: policy changes and outages; the market's reach and services."""
        self.update_market()
        self.outage[:] = 0.0
        names = [x.name for x in self.services]
        for ev in self._events.get(self.t, []):
            if ev.set:
                self.set_policy(ev.set, source=f"timeline {ev.at}")
            if ev.outage:
                name = names[0] if ev.outage.service == "focal" else ev.outage.service
                self.outage[[k for k, x in enumerate(names) if x == name]] += ev.outage.severity * ev.outage.days

    def set_policy(self, changes: dict, source: str = "set_policy") -> None:
        """Change scenario values by key path from the next step on (timeline and dashboard alike);
        a service policy change validates that policy only (:class:`sim.policy.RunningPolicy`)."""
        self.policy.set(changes, source)

    def services_act(self) -> None:
        """2. Competitors react to last steps' prices and shares; detect price rises."""
        cfg = self.scenario.mechanisms.competition
        focal = self.services[0]
        self._focal_prices.append(focal.price(focal.headline_plan))
        for k, svc in enumerate(self.services):
            svc.react(self._focal_prices, self._shares[k], int(round(svc.policy.reaction_lag / self.dt)), cfg)
        self._refresh_offers()
        plan_prices = self.table.plan_price[:, :, None] * self.table.region_price[:, None, :]  # local prices (S, plans, R)
        # a plan whose price went up since last step in a region (a new plan or a cut is not a shock to its holders)
        before = plan_prices if self._last_prices is None else self._last_prices
        self.price_rose = np.nan_to_num(plan_prices - before, nan=0.0) > 1e-9
        self._last_prices = plan_prices.copy()
        self.update_prices()

    def update_prices(self) -> None:
        """2a. Consumer prices of this month; prices felt against their reference prices (sim.mechanics.prices)."""
        scen, pop = self.scenario, self.population
        cfg = scen.choice.reference_price
        index = self._index[:, min(int(self.t * self.dt), self._index.shape[1] - 1)]
        pop.region_price_index = index.astype(np.float32)
        if not (cfg.enabled or scen.inflation):
            return  # nominal prices, a rise judged by the flat trigger only
        real = prices.real_prices(self.table.plan_price, self.table.users_per_account, self.policy.regional.price_multiplier, index)
        ref = real if self._reference is None else self._reference
        felt = prices.loss(real, ref, cfg.loss_aversion) if cfg.enabled else np.zeros_like(real)
        self._rise_review = prices.rise_review(real, ref, cfg.review_per_rise) if cfg.enabled else None
        self.options = dataclasses.replace(self.options, loss=prices.option_loss(felt, self.options.service, self.options.plan))
        self._reference = prices.adapt(ref, real, cfg.adapt, self.dt)

    def record(self, ctx: StepContext) -> None:
        """10. The KPIs of every service and the market at this step (from its results); focal cohorts."""
        counts = Tally.of(ctx, int(self.reach.counts.sum()), self.n_steps)
        kpis = service_kpis(counts, ctx)
        self.records.record(self.t, kpis)
        self.market_records.record(self.t, market_counts(counts, self.weight))
        self.region_records[self.t] = counts.regions * self.weight
        for k, share in enumerate(np.nan_to_num(kpis["market_share"]).tolist()):  # one call a step, not one a service
            self._shares[k].append(share)
        for row, tier_name in enumerate(("premium", "free")):
            self.cohort_counts[tier_name][self.t] = counts.cohorts[row] * self.weight

    # ------------------------------------------------------------ results

    def timeseries(self, replicate: int = 0) -> pd.DataFrame:
        """One row per date x service, the KPIs of every step run so far (:func:`sim.results.timeseries`)."""
        return results.timeseries(self, replicate)

    def regions(self, replicate: int = 0) -> pd.DataFrame:
        """Users by region and service of the steps run so far (:func:`sim.results.regions`)."""
        return results.regions(self, replicate)

    def cohorts(self, replicate: int = 0) -> pd.DataFrame:
        """Focal cohort retention of the steps run so far (:func:`sim.results.cohorts`)."""
        return results.cohorts(self.cohort_counts, self.dates, self.t, self.dt, replicate)
