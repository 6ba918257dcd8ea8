"""MarketModel: the freemium streaming market, one call per mechanism in MODEL.md's step order.

Listeners are a struct-of-arrays population; services and advertisers are Mesa agents.
Every random draw comes from generators spawned from the replicate's SeedSequence, one
stream per mechanism, each drawing a full-length array every step: the same seed gives
the same numbers, and two scenarios run with the same seed share their random numbers
(common random numbers) wherever their listeners are in the same situation.
"""

from __future__ import annotations

from collections import defaultdict

import mesa
import numpy as np
import pandas as pd

from sim.agents.advertisers import Advertiser
from sim.agents.listeners import NO_SERVICE, ListenerPopulation, State, Tier
from sim.agents.services import Service, ServiceTable
from sim.clock import Clock
from sim.mechanics import ads, campaigns, diffusion, listening, loyalty, service_quality
from sim.mechanics.choice import build_options, logit_choice, utility
from sim.mechanics.personalization import depth_fraction, grow_depth, match, shares_data, targeting_quality
from sim.metrics import MARKET_KPIS, SERVICE_KPIS, market_counts, service_kpis
from sim.scenario import Scenario, ScenarioError, apply_overrides

STREAMS = ("init", "diffusion", "review", "trigger", "choice", "payment", "ticket", "wait", "rak", "wrapped", "outage", "wait_review")


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
        children = seq.spawn(len(STREAMS) + 1)
        super().__init__(rng=np.random.default_rng(children[0]))
        self.streams = {name: np.random.default_rng(c) for name, c in zip(STREAMS, children[1:])}
        self.scenario = scenario
        self.clock = Clock.of(scenario)
        self.dt = self.clock.months_per_step
        self.n_steps = self.clock.n_steps
        self.dates = self.clock.dates
        self.weight = scenario.weight
        self.t = 0

        self.population = ListenerPopulation(scenario, self.streams["init"])
        self.services = [Service(self, k, pol, focal=(k == 0)) for k, pol in enumerate(scenario.services.all())]
        self._build_advertisers()
        self._events = defaultdict(list)
        for ev in scenario.timeline:
            self._events[self.clock.step_of_month(ev.at)].append(ev)

        n, s = self.population.n, len(self.services)
        self.triggered = np.zeros(n, bool)  # reconsider next step (long wait, outage)
        self.stage = np.zeros(n, np.int8)
        self.sharing_now = np.zeros(n, bool)  # shared Wrapped this step
        self._last_prices: np.ndarray | None = None
        self.price_rose = np.zeros((len(self.services), 4), bool)  # (service, plan): price went up this step
        self._focal_prices: list[float] = []
        self._shares: list[list[float]] = [[] for _ in range(s)]
        self.records = {name: np.full((self.n_steps, s), np.nan) for name in SERVICE_KPIS}
        self.market_records = {name: np.full(self.n_steps, np.nan) for name in MARKET_KPIS}
        self.cohort_counts = {tier: np.zeros((self.n_steps, self.n_steps + 1)) for tier in ("premium", "free")}
        self.table = self._table()
        self.options = build_options(self.table)
        self._seed_initial_state()

    # ------------------------------------------------------------ set-up

    def _build_advertisers(self) -> None:
        cfg = self.scenario.mechanisms.ads
        rng = self.streams["init"]
        raw = rng.lognormal(0.0, 1.0, cfg.advertisers)
        budgets = cfg.total_budget * raw / raw.sum()
        sellers = np.array([s.policy.free_tier for s in self.services] + [False], dtype=float)
        streaming = sellers / max(sellers.sum(), 1.0) * cfg.initial_streaming_share
        alloc = streaming.copy()
        alloc[-1] = 1.0 - streaming.sum()
        genres = self.scenario.mechanisms.personalization.genres
        self.advertisers = [Advertiser(self, float(b), int(rng.integers(genres)), alloc.copy()) for b in budgets]

    def _table(self) -> ServiceTable:
        camp = self.scenario.mechanisms.campaigns
        spend = np.array([s.policy.marketing_budget for s in self.services])
        pull = campaigns.salience(spend, self.scenario.market.population, camp.marketing_acquisition,
                                  camp.marketing_reference) if camp.enabled else np.zeros(len(self.services))
        return ServiceTable.of(self.services, pull)

    def _seed_initial_state(self) -> None:
        """Place the market as it was at the start: aware people, focal free and premium, competitors.

        Who holds which option is drawn by propensity (utility advantage plus Gumbel noise), so
        the initial premium subscribers are the listeners most likely to pay.
        """
        init = self.scenario.initial
        pop, rng, n = self.population, self.streams["init"], self.population.n
        aware = rng.permutation(n)[: int(round(init.aware * n))]
        pop.state[aware] = State.AWARE
        opts = self.options
        cur = np.zeros((aware.size, 1), dtype=np.int64)
        u = utility(pop, aware[:, None], np.arange(len(opts))[None, :], opts, self.table, self.scenario, cur)
        u_nothing = u[:, 0]
        taken = np.zeros(aware.size, bool)
        gumbel = rng.gumbel(size=(aware.size, 3)) * self.scenario.choice.noise_scale

        def place(count: int, columns: np.ndarray, against: np.ndarray, noise: np.ndarray) -> None:
            """Give the ``count`` free listeners with the highest advantage their best option among ``columns``."""
            if count <= 0 or columns.size == 0:
                return
            best = u[:, columns].max(axis=1)
            score = np.where(taken, -np.inf, best - against + noise)
            chosen = np.argsort(-score, kind="stable")[:count]
            taken[chosen] = True
            self._assign(aware[chosen], columns[np.argmax(u[chosen][:, columns], axis=1)])

        focal_prem = np.flatnonzero((opts.service == 0) & opts.premium)
        focal_free = np.flatnonzero((opts.service == 0) & opts.free)
        free_u = u[:, focal_free].max(axis=1) if focal_free.size else u_nothing
        place(int(round(init.focal_premium * n)), focal_prem, free_u, gumbel[:, 0])
        place(int(round(init.focal_free * n)), focal_free, u_nothing, gumbel[:, 1])
        comps = len(self.services) - 1
        for c in range(1, comps + 1):
            cols = np.flatnonzero(opts.service == c)
            place(int(round(init.competitor * n / comps)), cols, u_nothing, gumbel[:, 2])

        users = pop.state == State.USER
        pop.tenure[users] = rng.uniform(0, init.tenure_months, int(users.sum())).astype(np.float32)
        paying = users & (pop.tier == Tier.PREMIUM)  # they had their trial long ago
        pop.trial_used[paying] |= (1 << pop.service[paying].astype(np.uint16)).astype(np.uint16)
        self.sharing = self._sharing()
        pop.data_depth[self.sharing] = (pop.tenure * pop.base_hours)[self.sharing]
        pop.satisfaction[users] = 0.6
        pop.spell_start[users] = -1

    def _assign(self, who: np.ndarray, opt: np.ndarray) -> None:
        pop, o = self.population, self.options
        pop.state[who] = State.USER
        pop.service[who] = o.service[opt]
        pop.tier[who] = np.where(o.premium[opt], Tier.PREMIUM, Tier.FREE)
        pop.plan[who] = o.plan[opt]

    # ------------------------------------------------------------ helpers

    def _sharing(self) -> np.ndarray:
        """Whether each listener shares data with their current service (False for non-users)."""
        pop, cfg = self.population, self.scenario.mechanisms.personalization
        svc = np.maximum(pop.service, 0)
        ok = shares_data(pop.privacy_sensitive, pop.consent_draw, self.table.opt_in[svc],
                         cfg.opt_out_share, cfg.opt_in_share)
        return ok & (pop.state == State.USER) & cfg.enabled

    def _current_option(self, idx: np.ndarray) -> np.ndarray:
        pop = self.population
        premium = (pop.tier[idx] == Tier.PREMIUM) | (pop.tier[idx] == Tier.TRIAL)
        return self.options.index_of(np.where(pop.state[idx] == State.USER, pop.service[idx], -1), premium, pop.plan[idx])

    def _draw(self, stream: str) -> np.ndarray:
        return self.streams[stream].random(self.population.n, dtype=np.float32)

    @property
    def date(self) -> pd.Timestamp:
        return self.dates[min(self.t, self.n_steps - 1)]

    # ------------------------------------------------------------ the step

    def step(self) -> None:
        """Advance the market by one step (a month or a week), in MODEL.md's order."""
        if self.t >= self.n_steps:
            self.running = False
            return
        pop = self.population
        before = {"service": np.where(pop.state == State.USER, pop.service, NO_SERVICE), "tier": pop.tier.copy()}
        self.apply_timeline()
        self.services_act()
        self.run_campaigns()
        newly_aware = self.diffuse()
        failed, trial_ended = self.choose(newly_aware)
        self.sharing = self._sharing()  # who shares data with their (new) service, for the rest of the step
        self.listen()
        flows = self.clear_ad_market()
        flows.update(self.serve_support())
        self.update_satisfaction_and_data()
        self.account(before, flows, failed, trial_ended)
        self.t += 1
        if self.t >= self.n_steps:
            self.running = False

    def apply_timeline(self) -> None:
        """1. Timeline events of this date: policy changes and outages."""
        for svc in self.services:
            svc.outage_severity_days = 0.0
        for ev in self._events.get(self.t, []):
            if ev.set:
                self.set_policy(ev.set, source=f"timeline {ev.at}")
            if ev.outage:
                name = self.services[0].name if ev.outage.service == "focal" else ev.outage.service
                for svc in self.services:
                    if svc.name == name:
                        svc.outage_severity_days += ev.outage.severity * ev.outage.days

    def set_policy(self, changes: dict, source: str = "set_policy") -> None:
        """Change scenario values by key path from the next step on, as a timeline event does.

        Used by the timeline and by the dashboard's live controls. Price changes are seen by
        listeners (a review trigger) when the next step detects them; services cannot be
        added or removed.
        """
        changed = apply_overrides(self.scenario, changes, source=source, check_timeline=False)
        if [s.name for s in changed.services.all()] != [s.name for s in self.services]:
            raise ScenarioError(f"{source}: services cannot be added, removed or renamed during a run")
        self.scenario = changed
        for svc, pol in zip(self.services, self.scenario.services.all()):
            svc.policy = pol

    def services_act(self) -> None:
        """2. Competitors react to last steps' prices and shares; detect price rises."""
        cfg = self.scenario.mechanisms.competition
        focal = self.services[0]
        self._focal_prices.append(focal.price(focal.headline_plan))
        for k, svc in enumerate(self.services):
            svc.react(self._focal_prices, self._shares[k], int(round(svc.policy.reaction_lag / self.dt)), cfg)
        self.table = self._table()
        self.options = build_options(self.table)
        prices = self.table.plan_price
        # a plan whose price went up since last step (a new plan or a cut is not a shock to its holders)
        before = prices if self._last_prices is None else self._last_prices
        self.price_rose = np.nan_to_num(prices - before, nan=0.0) > 1e-9
        self._last_prices = prices.copy()

    def run_campaigns(self) -> None:
        """December: Wrapped services' users share and gain goodwill."""
        pop, cfg = self.population, self.scenario.mechanisms.campaigns
        draw = self._draw("wrapped")
        self.sharing_now[:] = False
        if not cfg.enabled or self.date.month != 12:
            return
        user = pop.state == State.USER
        wrapped_user = user & self.table.wrapped[np.maximum(pop.service, 0)]
        self.sharing_now = campaigns.wrapped_sharers(wrapped_user, self.clock.probability(cfg.wrapped.share_rate), draw)
        pop.shared_until[self.sharing_now] = self.t + int(round(12 / self.dt))
        pop.goodwill[wrapped_user] += cfg.wrapped.goodwill * self.dt  # spread over December's steps

    def diffuse(self) -> np.ndarray:
        """3. Unaware listeners become aware (Bass: innovation + word of mouth)."""
        pop, scen = self.population, self.scenario
        draw = self._draw("diffusion")
        if not scen.diffusion.enabled:
            return np.zeros(pop.n, bool)
        user = (pop.state == State.USER).astype(np.float32)
        influence = user + (self.stage == loyalty.Stage.ADVOCATE) * (scen.diffusion.advocate_weight - 1.0)
        influence = influence + self.sharing_now * scen.mechanisms.campaigns.wrapped.wom_boost
        exposure = diffusion.exposure(influence, pop.friends, pop.degree, pop.fully_mixed)
        p = scen.diffusion.p
        camp = scen.mechanisms.campaigns
        if camp.enabled:
            spend = sum(s.policy.marketing_budget for s in self.services)
            p *= campaigns.marketing_multiplier(spend, scen.market.population, camp.marketing_lift, camp.marketing_reference)
        unaware = np.flatnonzero(pop.state == State.UNAWARE)
        prob = diffusion.awareness_probability(p, scen.diffusion.q, exposure[unaware], self.dt, pop.fully_mixed)
        newly = np.zeros(pop.n, bool)
        newly[unaware[draw[unaware] < prob]] = True
        pop.state[newly] = State.AWARE
        return newly

    def choose(self, newly_aware: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """4. Payment failures, then the listeners who decide this step choose an option."""
        pop, scen, opts = self.population, self.scenario, self.options
        c = scen.choice
        u_review, u_trigger, u_choice, u_pay = self._draw("review"), self._draw("trigger"), self._draw("choice"), self._draw("payment")
        user = pop.state == State.USER
        failed = user & (pop.tier == Tier.PREMIUM) & (u_pay < self.clock.probability(c.involuntary_churn))
        self._leave(failed)

        lapsed = pop.state == State.LAPSED
        paying = (pop.state == State.USER) & (pop.tier == Tier.PREMIUM)
        review_p = np.select([lapsed, paying], [self.clock.probability(c.lapsed_review_rate), self.clock.probability(c.premium_review_rate)],
                             self.clock.probability(c.review_rate))
        trial_ended = (pop.tier == Tier.TRIAL) & (pop.trial_end <= self.t) & (pop.state == State.USER)
        price_hit = paying & self.price_rose[np.maximum(pop.service, 0), np.maximum(pop.plan, 0)] & (u_trigger < c.price_change_review)
        users = np.flatnonzero(pop.state == State.USER)
        stranded = np.zeros(pop.n, bool)  # their free tier or plan was withdrawn: they must choose again now
        stranded[users[self._current_option(users) < 0]] = True
        deciders = newly_aware | (u_review < review_p) | self.triggered | trial_ended | price_hit | stranded
        deciders &= (pop.state != State.UNAWARE) & ~failed
        self.triggered[:] = False
        idx = np.flatnonzero(deciders)
        if idx.size == 0:
            return failed, trial_ended
        cur = self._current_option(idx)
        u = utility(pop, idx[:, None], np.arange(len(opts))[None, :], opts, self.table, scen, cur[:, None])
        chosen = logit_choice(u, c.noise_scale, u_choice[idx])
        self._move(idx, chosen, trial_ended[idx])
        return failed, trial_ended

    def _leave(self, who: np.ndarray) -> None:
        pop = self.population
        pop.state[who] = State.LAPSED
        pop.service[who] = NO_SERVICE
        pop.tier[who] = Tier.NONE
        pop.plan[who] = -1
        pop.tenure[who] = 0
        pop.data_depth[who] = 0
        pop.goodwill[who] = 0

    def _move(self, idx: np.ndarray, chosen: np.ndarray, trial_over: np.ndarray) -> None:
        """Apply the deciders' choices: service, tier (trials), plan, spells and reset state."""
        pop, o = self.population, self.options
        new_svc = o.service[chosen]
        nothing = new_svc < 0
        was_user = pop.state[idx] == State.USER
        quit_ = idx[nothing & was_user]
        self._leave(quit_)

        go = ~nothing
        who, svc, opt = idx[go], new_svc[go], chosen[go]
        same_service = (pop.state[who] == State.USER) & (pop.service[who] == svc)
        old_tier = pop.tier[who]
        premium = o.premium[opt]
        in_trial = same_service & (old_tier == Tier.TRIAL) & ~trial_over[go]
        had_trial = ((pop.trial_used[who].astype(np.int64) >> svc) & 1) == 1
        start_trial = premium & ~same_service & ~had_trial & (self.table.trial_months[svc] > 0)
        start_trial |= premium & same_service & (old_tier == Tier.FREE) & ~had_trial & (self.table.trial_months[svc] > 0)
        new_tier = np.where(premium, np.where(in_trial | start_trial, Tier.TRIAL, Tier.PREMIUM), Tier.FREE).astype(np.int8)

        changed = ~same_service
        pop.tenure[who[changed]] = 0
        pop.data_depth[who[changed]] = 0
        pop.goodwill[who[changed]] = 0
        new_spell = changed | (old_tier != new_tier)
        pop.spell_start[who[new_spell]] = self.t
        trial_steps = np.maximum(np.round(self.table.trial_months[svc] / self.dt), 1).astype(np.int32)
        pop.trial_end[who[start_trial]] = self.t + trial_steps[start_trial]
        pop.trial_used[who[start_trial]] |= (1 << svc[start_trial].astype(np.uint16)).astype(np.uint16)
        pop.state[who] = State.USER
        pop.service[who] = svc
        pop.tier[who] = new_tier
        pop.plan[who] = o.plan[opt]

    def _match(self) -> np.ndarray:
        pop, cfg = self.population, self.scenario.mechanisms.personalization
        if not cfg.enabled:
            return np.ones(pop.n, np.float32)
        frac = np.where(self.sharing, depth_fraction(pop.data_depth, cfg.tau_hours), 0.0)
        return match(frac, self.table.personalization[np.maximum(pop.service, 0)], cfg.lift)

    def listen(self) -> None:
        """5. Listening hours of every user this month."""
        pop = self.population
        user = pop.state == State.USER
        svc = np.maximum(pop.service, 0)
        downtime = np.array([min(s.outage_severity_days / 30.0, 1.0) for s in self.services])[svc]
        h = listening.hours(pop.base_hours, self._match(), (pop.tier == Tier.PREMIUM) | (pop.tier == Tier.TRIAL),
                            pop.tier == Tier.FREE, self.table.ad_load[svc], pop.satisfaction, downtime,
                            self.scenario.mechanisms.listening)
        pop.hours = np.where(user, h, 0.0).astype(np.float32)

    def clear_ad_market(self) -> dict[str, np.ndarray]:
        """6. Free-tier inventory meets advertiser demand; ad revenue, CPM, fill rate."""
        pop, cfg, tab = self.population, self.scenario.mechanisms.ads, self.table
        s = tab.n
        nan = np.full(s, np.nan)
        flows = {"revenue_ads_eur": np.zeros(s), "cpm_eur": nan.copy(), "fill_rate": nan.copy(),
                 "impressions": np.where(tab.free_tier, 0.0, np.nan), "ad_inventory_impressions": np.where(tab.free_tier, 0.0, np.nan)}
        if not cfg.enabled or not tab.free_tier.any():
            return flows
        free = (pop.state == State.USER) & (pop.tier == Tier.FREE)
        svc = pop.service[free].astype(np.int64)
        hrs = pop.hours[free]
        sim_hours = np.bincount(svc, weights=hrs, minlength=s)[:s].astype(float)  # simulated listeners' hours
        supply = ads.inventory(sim_hours * self.weight, tab.ad_load, cfg.impressions_per_ad_minute) * tab.free_tier
        pers = self.scenario.mechanisms.personalization
        frac = depth_fraction(pop.data_depth[free], pers.tau_hours) * self.sharing[free] if pers.enabled else np.zeros(hrs.size)
        quality = targeting_quality(frac, svc, tab.personalization)
        taste_hours = hrs[:, None] * pop.taste[free]  # (n_free, genres)
        genre_hours = np.stack([taste_hours[svc == j].sum(axis=0) for j in range(s)]).astype(float)
        # affinity: the audience's share of hours in each genre relative to an even split (1 = average)
        affinity_sg = pop.taste.shape[1] * np.divide(genre_hours, sim_hours[:, None], out=np.ones_like(genre_hours),
                                                     where=sim_hours[:, None] > 0)
        genres = np.array([a.genre for a in self.advertisers])
        values = ads.impression_values(cfg.value_cpm, cfg.targeting_lift, quality, affinity_sg[:, genres].T)
        years = (self.date - self.dates[0]).days / 365.25
        budgets = ads.seasonal_budget(np.array([a.budget for a in self.advertisers]), years, self.date.month,
                                      cfg.budget_growth, cfg.q4_boost)
        alloc = np.stack([a.allocation for a in self.advertisers])
        demand = budgets[:, None] * alloc[:, :s]
        cpm, sold, spend = ads.clear(demand, values, supply, cfg.reserve_cpm)
        returns = np.concatenate([np.divide(values, cpm[None, :], out=np.zeros_like(values), where=np.isfinite(cpm)[None, :] & (cpm[None, :] > 0)),
                                  np.full((len(self.advertisers), 1), cfg.outside_cpm_value)], axis=1)
        available = np.concatenate([supply > 0, [True]])
        new_alloc = ads.reallocate(alloc, returns, available, cfg.inertia ** self.dt, cfg.responsiveness)
        for a, row, paid in zip(self.advertisers, new_alloc, spend):
            a.allocation = row
            a.spend = paid
        flows["revenue_ads_eur"] = spend.sum(axis=0)
        flows["cpm_eur"] = np.where(supply > 0, cpm, np.nan)
        flows["fill_rate"] = np.divide(sold, supply, out=np.full(s, np.nan), where=supply > 0)
        flows["impressions"] = np.where(tab.free_tier, sold, np.nan)
        flows["ad_inventory_impressions"] = np.where(tab.free_tier, supply, np.nan)
        return flows

    def serve_support(self) -> dict[str, np.ndarray]:
        """7. Tickets, the support queue, long waits, RAK, outages."""
        pop, cfg, s = self.population, self.scenario.mechanisms.service_quality, self.table.n
        u_ticket, u_wait, u_rak, u_out = self._draw("ticket"), self._draw("wait"), self._draw("rak"), self._draw("outage")
        u_review = self._draw("wait_review")
        out = {"support_response_hours": np.full(s, np.nan), "tickets": np.zeros(s), "support_cost_eur": np.zeros(s)}
        if not cfg.enabled:
            return out
        user = pop.state == State.USER
        svc = np.maximum(pop.service, 0)
        sev = np.array([x.outage_severity_days for x in self.services])
        has_ticket = user & (u_ticket < service_quality.ticket_probability(cfg.ticket_rate, sev, cfg.outage_tickets, self.dt)[svc])
        arrivals = np.bincount(svc[has_ticket], minlength=s)[:s] * self.weight
        mean_wait = np.zeros(s)
        for j, x in enumerate(self.services):
            capacity = x.policy.support_staff * cfg.tickets_per_staff * self.dt
            mean_wait[j], left = service_quality.response_hours(arrivals[j], x.backlog, capacity, cfg.base_response_hours)
            x.backlog = service_quality.abandon(left, cfg.abandonment, self.dt)
        waits = service_quality.individual_waits(mean_wait[svc], u_wait)
        long = has_ticket & (waits > cfg.wait_threshold_hours)
        pop.goodwill[long] -= cfg.wait_penalty
        self.triggered |= long & (u_review < cfg.wait_review)
        rak = has_ticket & ~long & (u_rak < np.array([x.policy.rak_rate for x in self.services])[svc])
        pop.goodwill[rak] += cfg.rak_lift
        pop.shared_until[rak] = self.t + int(round(12 / self.dt))
        hit = user & (sev[svc] > 0)
        pop.goodwill[hit] -= (cfg.outage_penalty * sev[svc])[hit]
        self.triggered |= hit & (u_out < np.minimum(cfg.outage_review * sev[svc], 1.0))
        out["support_response_hours"] = mean_wait
        out["tickets"] = arrivals / self.dt
        out["support_cost_eur"] = np.array([x.policy.support_staff * cfg.staff_cost for x in self.services], dtype=float)
        return out

    def update_satisfaction_and_data(self) -> None:
        """8. Satisfaction follows experience, goodwill fades, data depth grows, tenure, ladder stage."""
        pop, scen = self.population, self.scenario
        user = pop.state == State.USER
        idx = np.flatnonzero(user)
        if idx.size:
            cur = self._current_option(idx)
            experienced = utility(pop, idx, cur, self.options, self.table, scen, np.full(idx.size, -1))
            surplus = experienced + pop.goodwill[idx] - pop.outside_value[idx]
            pop.satisfaction[idx] = loyalty.update_satisfaction(pop.satisfaction[idx], surplus, scen.choice.noise_scale,
                                                                1.0 - (1.0 - scen.mechanisms.loyalty.satisfaction_smoothing) ** self.dt)
        pop.goodwill = loyalty.decay_goodwill(pop.goodwill, scen.mechanisms.service_quality.goodwill_decay, self.dt)
        pop.data_depth = grow_depth(pop.data_depth, pop.hours, self.sharing, self.dt)
        pop.tenure[user] += self.dt
        self.stage = loyalty.stages(user, pop.tenure, pop.satisfaction, pop.shared_until >= self.t, scen.mechanisms.loyalty)

    def account(self, before: dict[str, np.ndarray], flows: dict[str, np.ndarray], failed: np.ndarray,
                trial_ended: np.ndarray) -> None:
        """9. Revenue, costs and KPIs of every service; cohorts."""
        pop, tab, scen = self.population, self.table, self.scenario
        prem = (pop.state == State.USER) & (pop.tier == Tier.PREMIUM)
        svc = pop.service[prem].astype(np.int64)
        plan = pop.plan[prem].astype(np.int64)
        per_user = tab.plan_price[svc, plan] / tab.users_per_account[svc, plan] * pop.price_multiplier[prem]
        flows["revenue_subscription_eur"] = np.bincount(svc, weights=per_user, minlength=tab.n)[: tab.n] * self.weight
        mau = np.bincount(pop.service[pop.state == State.USER].astype(np.int64), minlength=tab.n)[: tab.n] * self.weight
        pers = scen.mechanisms.personalization
        flows["personalization_cost_eur"] = pers.cost_per_user * tab.personalization * mau * pers.enabled
        flows["marketing_spend_eur"] = np.array([s.policy.marketing_budget for s in self.services], dtype=float)
        flows["trial_cost_per_user"] = scen.mechanisms.campaigns.trial_cost
        flows["price_individual_eur"] = np.array([s.price(s.headline_plan) for s in self.services])
        kpis = service_kpis(pop, before, flows, tab, self.clock, self.weight, self.stage, failed, trial_ended)
        for name, values in kpis.items():
            self.records[name][self.t] = values
        for name, value in market_counts(pop, self.weight).items():
            self.market_records[name][self.t] = value
        for k, share in enumerate(kpis["market_share"]):
            self._shares[k].append(float(np.nan_to_num(share)))
        focal = (pop.state == State.USER) & (pop.service == 0)
        for tier_name, tier in (("premium", Tier.PREMIUM), ("free", Tier.FREE)):
            mask = focal & (pop.tier == tier) & (pop.spell_start >= 0)
            self.cohort_counts[tier_name][self.t] = np.bincount(pop.spell_start[mask], minlength=self.n_steps + 1)[: self.n_steps + 1] * self.weight

    # ------------------------------------------------------------ results

    def timeseries(self, replicate: int = 0) -> pd.DataFrame:
        """One row per date x service, the KPIs of every step run so far."""
        steps = self.t
        s = len(self.services)
        frame = {
            "replicate": np.full(steps * s, replicate, dtype=np.int32),
            "date": np.repeat(self.dates[:steps].values, s),
            "step": np.repeat(np.arange(steps, dtype=np.int32), s),
            "service": np.tile(np.array([x.name for x in self.services], dtype=object), steps),
            "focal": np.tile(np.array([x.focal for x in self.services]), steps),
        }
        for name in SERVICE_KPIS:
            frame[name] = self.records[name][:steps].reshape(-1)
        for name in MARKET_KPIS:
            frame[name] = np.repeat(self.market_records[name][:steps], s)
        return pd.DataFrame(frame)

    def cohorts(self, replicate: int = 0) -> pd.DataFrame:
        """Focal cohort retention: cohort (start date) x months since start, premium and free."""
        rows = []
        for tier_name, counts in self.cohort_counts.items():
            steps = self.t
            size = np.diag(counts[:steps, :steps])
            t_idx, c_idx = np.nonzero(np.tril(np.ones((steps, steps), bool)))
            retained = counts[t_idx, c_idx]
            ok = size[c_idx] > 0
            rows.append(pd.DataFrame({
                "replicate": replicate, "tier": tier_name, "cohort": self.dates[c_idx[ok]],
                "months_since_start": np.round((t_idx[ok] - c_idx[ok]) * self.dt).astype(np.int32),
                "cohort_size": size[c_idx[ok]], "retained": retained[ok], "retention": retained[ok] / size[c_idx[ok]],
            }))
        return pd.concat(rows, ignore_index=True)

