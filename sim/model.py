"""MarketModel: the freemium streaming market, one call per mechanism in MODEL.md's step order.

Listeners are a struct-of-arrays population, services Mesa agents, advertisers a struct-of-arrays
book (``sim.mechanics.ads``). Each mechanism owns its step in ``sim/mechanics``; this module holds
the state between steps and wires them. Set-up draws come from the ``init`` generator; a step's
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
from sim.agents.services import Service, ServiceTable
from sim.clock import DAYS_PER_MONTH, Clock
from sim.mechanics import (accounting, ads, campaigns, diffusion, entry, listening, loyalty, market, prices, service_quality,
                           subscriptions)
from sim.mechanics.choice import build_options, held_utility, kernel_inputs
from sim.mechanics.personalization import grow_depth, sharers
from sim.metrics import MARKET_KPIS, REGION_TIERS, SERVICE_KPIS, Records, Tally, market_counts, region_counts, service_kpis
from sim.policy import RunningPolicy
from sim.random import CounterRandom
from sim.scenario import Scenario

STREAMS = ("init", "diffusion", "review", "trigger", "choice", "payment", "ticket", "wait", "rak", "wrapped", "outage", "wait_review",
           "market", "brand")  # new streams go last: the earlier ones keep their seeds
SETUP_STREAMS = ("init", "market")  # drawn from once, at set-up (numpy generators)


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

        self.population = ListenerPopulation(scenario, self.streams["init"])
        self.services = [Service(self, k, focal=(k == 0)) for k in range(len(scenario.all_services()))]
        self.reach = market.Reach(scenario, self.population, self.clock, self.streams["market"], len(self.services),
                                  self.draws.stream_keys["brand"])
        self.triggered = np.zeros(self.population.n, bool)  # reconsider next step (long wait, outage, lost access)
        self.update_market()
        months = self.reach.months
        self._index = prices.region_index(scenario.inflation, [r.inflation_area for r in scenario.regions], months,
                                          int(months[0]))  # (R, months) consumer prices, 1 at the start
        self._reference: np.ndarray | None = None  # (S, plans, R) real reference prices
        self._rise_review: np.ndarray | None = None
        s = len(self.services)
        # the initial ad budgets go to the services selling ads at the start: an entrant gets none before its date
        selling = np.array([x.policy.free_tier for x in self.services]) & self.reach.active
        self.advertisers = ads.AdvertiserBook.draw(scenario.mechanisms.ads, selling, scenario.mechanisms.personalization.genres,
                                                   self.streams["init"])
        self._events = defaultdict(list)
        for ev in scenario.timeline:
            self._events[self.clock.step_of_month(ev.at)].append(ev)

        n = self.population.n
        self.stage = np.zeros(n, np.int8)
        self.sharing_now = np.zeros(n, bool)  # shared Wrapped this step
        self.word_of_mouth = diffusion.WordOfMouth.empty(0 if self.population.fully_mixed else n)
        self.backlog = np.zeros(s)  # support tickets waiting, real tickets
        self.outage = np.zeros(s)  # this step's outage per service, severity x days
        self._last_prices: np.ndarray | None = None
        self.price_rose = np.zeros((s, 4, len(scenario.regions)), bool)  # (service, plan, region): price went up this step
        self._focal_prices: list[float] = []
        self._shares: list[list[float]] = [[] for _ in range(s)]
        self.records = Records(SERVICE_KPIS, self.n_steps, s)
        self.market_records = Records(MARKET_KPIS, self.n_steps)
        self.region_records = np.zeros((self.n_steps, len(scenario.regions), s, len(REGION_TIERS)))  # real people
        self.cohort_counts = {tier: np.zeros((self.n_steps, self.n_steps + 1)) for tier in ("premium", "free")}
        self._offer_key = None
        self._refresh_offers()
        subscriptions.place_initial(self.population, self.options, self.table, scenario, self.streams["init"])
        pop = self.population
        self.sharing = self._sharing(pop.users())[0]
        pop.data_depth[self.sharing] = (pop.tenure * pop.base_hours)[self.sharing]
        self.gather_known(history=True)

    def gather_known(self, history: bool = False) -> np.ndarray:
        """Move the listeners who know the market to the first slots, returning those who joined
        (``ListenerPopulation.gather_known``). Of the model's arrays, an unaware listener holds values
        of their own only in their place and the word of mouth they hear; the rest move with ``history``."""
        wom = [] if self.population.fully_mixed else [self.word_of_mouth]
        others = [self.reach.place] + [w.total for w in wom]
        if history:  # the initial market was placed (or reset): the ladder, who shares, who reconsiders
            others += [self.triggered, self.stage, self.sharing_now, self.sharing] + [w.influence for w in wom]
        return self.population.gather_known(others, history)

    # ------------------------------------------------------------ helpers

    def _refresh_offers(self) -> None:
        """Rebuild the table of offers and the options only if the policy (any value of the running
        scenario), a competitor's price multiplier or the services in the market changed; the
        marketing pull follows the people in reach every step, an entrant's content value its age."""
        key = (self.scenario, [x.price_multiplier for x in self.services] + self.reach.active.tolist())
        camp = self.scenario.mechanisms.campaigns
        spend = self._policy("marketing_budget") * self.reach.active
        pull = campaigns.salience(spend, self.reach.people, camp.marketing_acquisition,
                                  camp.marketing_reference) if camp.enabled else np.zeros(len(self.services))
        content = entry.appeal(self._policy("content_value"), entry.age_months(self.reach.enter_step, self.t, self.dt),
                               self.reach.entrant, self.scenario.mechanisms.entry)  # an entrant's catalogue catches up
        if self._offer_key is not None and self._offer_key[0] is key[0] and self._offer_key[1] == key[1]:
            pull = pull.astype(np.float32)
            if not (np.array_equal(pull, self.table.salience) and np.array_equal(content, self.table.content_value)):
                self.table = dataclasses.replace(self.table, salience=pull, content_value=content)  # the options read neither
            return
        self._offer_key = key
        self.table = dataclasses.replace(ServiceTable.of(self.services, pull, self.policy.regional), content_value=content)
        self.options = build_options(self.table)

    def _sharing(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whether each listener shares data with their current service (bool (n,), False for non-users),
        and each of ``users``' data depth fraction, 0 for a non-sharer (m,) (``users`` ascending)."""
        pop, cfg = self.population, self.scenario.mechanisms.personalization
        if not cfg.enabled:
            return np.zeros(pop.n, bool), np.zeros(users.size)
        return sharers(users, pop.state, pop.service, pop.privacy_sensitive, pop.consent_draw, self.table.opt_in,
                       cfg.opt_out_share, cfg.opt_in_share, pop.data_depth, cfg.tau_hours)

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
        """Advance the market by one step (a month or a week), in MODEL.md's order."""
        if self.t >= self.n_steps:
            self.running = False
            return
        pop, dt = self.population, self.dt
        before = {"service": pop.service.copy(), "tier": pop.tier.copy()}  # non-users hold NO_SERVICE
        # 1. timeline events: policy changes and outages
        self.apply_timeline()
        # 2. competitors react to last steps' prices and shares; price rises are detected
        self.services_act()
        scen = self.scenario  # as the timeline left it
        mech = scen.mechanisms
        # December: Wrapped services' users share and gain goodwill
        draws = self.draws.at(self.t, pop.ident)
        wrapped = campaigns.wrapped_step(pop.known, pop.state, pop.service, self.table.wrapped, pop.goodwill, draws,
                                         mech.campaigns, self.date.month, self.clock)
        self.sharing_now, pop.goodwill = wrapped.sharers, wrapped.goodwill
        if wrapped.december:
            pop.shared_until[self.sharing_now] = self.t + int(round(12 / dt))
        # 3. awareness (Bass: innovation + word of mouth)
        p = scen.diffusion.p * (campaigns.marketing_multiplier(float(np.sum(self._policy("marketing_budget") * self.reach.active)), self.reach.people,
                                                               mech.campaigns.marketing_lift, mech.campaigns.marketing_reference)
                                if mech.campaigns.enabled else 1.0)
        newly_aware = diffusion.step(pop.known, pop.state, self.stage, self.sharing_now, pop.friends, pop.ident, pop.slot_of,
                                     pop.degree, pop.fully_mixed, p, scen.diffusion, mech.campaigns.wrapped.wom_boost, draws.key("diffusion"), dt,
                                     self.word_of_mouth)
        pop.become_aware(newly_aware)
        # they join the others in the first slots, where the passes below read them, and choose this step
        self.triggered[self.gather_known()] = True
        # 4. payment failures, then the deciders choose
        decisions = subscriptions.step(pop, self.triggered, self.price_rose,
                                       draws, self.options, self.table, scen,
                                       self.clock, self.t, self._rise_review, self.reach.heard)
        self.triggered[:] = False
        users = pop.users()  # no one starts or stops using a service until the next step
        # who shares data with their (new) service, for the rest of the step, and the users' data depth
        # fractions: listening, the ad audience and the utility read them before the data grows
        self.sharing, fraction = self._sharing(users)
        pers = mech.personalization
        # 5. listening hours
        listening.step(pop.known, users, pop.state, pop.service, pop.tier, pop.region, pop.base_hours, fraction, self.sharing,
                       pop.satisfaction, self.table.personalization, self.table.ad_load,
                       np.minimum(self.outage / DAYS_PER_MONTH, 1.0), pers, mech.listening, pop.hours)
        # 6. the ad market
        audience = ads.Audience.gather(users, pop.state, pop.service, pop.tier, pop.hours, pop.taste, fraction, self.sharing,
                                       pers.enabled, len(self.services), pop.region, pop.region_price_index)
        market = ads.step(self.advertisers, audience, self.table.free_tier, self.table.ad_load, self.table.personalization,
                          mech.ads, self.weight, (self.date - self._timestamps[0]).days / 365.25, self.date.month, dt)
        if self.scenario.inflation and audience.listeners.sum() > 0:  # advertisers' values follow the consumer prices of the listeners they reach
            nominal = audience.mean_price_index()
            market = dataclasses.replace(market, revenue_eur=market.revenue_eur * nominal, cpm_eur=market.cpm_eur * nominal)
        self.advertisers = market.book
        # 7. support queue, long waits, RAK, outages
        active = self.reach.active
        support = service_quality.step(users, pop.service, pop.tier, pop.goodwill, self.outage, self.backlog,
                                       self._policy("support_staff") * active, self._policy("support_per_1000") * active,
                                       self._policy("rak_rate"), draws, mech.service_quality, self.weight, dt)
        pop.goodwill, self.backlog = support.goodwill, support.backlog
        self.triggered[support.reconsider] = True
        pop.shared_until[support.told_friends] = self.t + int(round(12 / dt))
        # 8. satisfaction, goodwill, data depth, tenure, ladder stage
        self.update_satisfaction_and_data(users, fraction)
        # 9. money, KPIs, cohorts
        money = accounting.account(pop, users, self.table, market.revenue_eur, support.staff,
                                   self._policy("marketing_budget") * self.reach.active, scen, self.weight)
        self.record(before, money, market, support, decisions)
        self.t += 1
        if self.t >= self.n_steps:
            self.running = False

    def update_market(self) -> None:
        """1a. People coming into reach enter as unaware; services enter and leave; who may use which service.

        Users who may no longer use their service (it left the market or their region) choose again this step.
        """
        self.reach.update(self.scenario, self.population, self.t, self.dt, self.weight, self.triggered)

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

    def update_satisfaction_and_data(self, idx: np.ndarray, fraction: np.ndarray) -> None:
        """8. Satisfaction follows experience, goodwill fades, data depth grows, tenure, ladder stage (``idx`` the users,
        ``fraction`` their data depth fractions)."""
        pop, scen = self.population, self.scenario
        cur = subscriptions.current_option(pop, self.options, idx)
        experienced = held_utility(*kernel_inputs(pop, self.options, self.table, scen), idx, cur, fraction, self.sharing)
        loyalty.step(pop.known, pop.state, pop.satisfaction, pop.goodwill, pop.tenure, self.stage, experienced,
                     pop.outside_value, pop.shared_until, self.t, scen.mechanisms.loyalty,
                     scen.mechanisms.service_quality.goodwill_decay, scen.choice.noise_scale, self.dt)
        grow_depth(idx, pop.data_depth, pop.hours, self.sharing, self.dt)

    def record(self, before: dict[str, np.ndarray], money, market, support, decisions) -> None:
        """9. The KPIs of every service and the market at this step; focal cohorts."""
        pop = self.population
        prices = {"price_individual_eur": np.array([x.price("individual") for x in self.services]),
                  "price_headline_eur": np.array([x.price(x.headline_plan) for x in self.services])}
        counts = Tally.of(pop, int(self.reach.counts.sum()), before, decisions, self.stage, len(self.services), len(self.table.plan_names), self.n_steps)
        kpis = service_kpis(counts, money, market, support, prices, self.table, self.clock, self.weight)
        self.records.record(self.t, kpis)
        self.market_records.record(self.t, market_counts(counts, self.weight))
        self.region_records[self.t] = region_counts(pop.users(), pop.region, pop.service, pop.tier,
                                                    *self.region_records.shape[1:3]) * self.weight
        for k, share in enumerate(kpis["market_share"]):
            self._shares[k].append(float(np.nan_to_num(share)))
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
