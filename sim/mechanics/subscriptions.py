"""The listeners' state machine: who holds which option, trials, payment failures, lapses.

Each step a failed payment first drops premium subscribers (involuntary churn, to
LAPSED). Then the deciders choose among every option (see ``choice``): the newly
aware, a random share reviewing at their state's rate, those a long wait or an outage
made reconsider, those whose trial ended, premium holders of a plan whose price rose
(a share ``price_change_review``) and those whose option was withdrawn. A decider who
picks premium from a service they never had a trial with starts a trial of
``trial_months`` (TRIAL tier); choosing another service resets tenure, data depth and
goodwill; choosing nothing lapses.

These functions apply the moves to the population in place (its arrays are the state);
they return what the accounts need to know about the step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sim.agents.listeners import NO_SERVICE, State, Tier
from sim.kernels import AHEAD, prefetch
from sim.mechanics import switching
from sim.mechanics.choice import INELIGIBLE, Options, choose, kernel_inputs, utility
from sim.random import uniform_at

UNAWARE, USER, LAPSED, OUTSIDE = np.int8(State.UNAWARE), np.int8(State.USER), np.int8(State.LAPSED), np.int8(State.OUTSIDE)
NONE, FREE, TRIAL, PREMIUM = np.int8(Tier.NONE), np.int8(Tier.FREE), np.int8(Tier.TRIAL), np.int8(Tier.PREMIUM)


@dataclass(frozen=True)
class Decisions:
    """What happened to subscriptions this step, per listener (n,) bool.

    Attributes
    ----------
    payment_failed : premium subscribers who lapsed because a payment failed
    trial_ended : listeners whose trial ended this step (they decided again)
    """

    payment_failed: np.ndarray
    trial_ended: np.ndarray


def current_option(pop, options: Options, idx: np.ndarray) -> np.ndarray:
    """Index of the option listeners ``idx`` hold (0 = nothing, -1 = no longer offered), int64 (len(idx),)."""
    return _held(pop.state, pop.tier, pop.service, pop.plan, np.asarray(idx), options.held_index())  # any int: no copy


@njit(cache=True)
def _held(state, tier, service, plan, idx, held):
    """:meth:`Options.index_of` of listeners ``idx`` from the lookup ``held`` (S, 2, plans)."""
    out = np.zeros(idx.size, np.int64)
    for k in range(idx.size):  # no prefetch hint: four bytes a listener, it measured no faster for the deciders
        i = np.uint64(idx[k])  # unsigned: no wraparound test per read
        j = service[i]
        if state[i] != USER or j < 0:
            continue  # nothing
        premium = np.uint64((tier[i] == PREMIUM) | (tier[i] == TRIAL))  # a coin flip: no branch
        p = max(plan[i], 0)
        out[k] = held[np.uint64(j), premium, np.uint64(p)] if j < held.shape[0] and p < held.shape[2] else -1
    return out


def step(cfg, ctx) -> Decisions:
    """Payment failures, then the listeners who decide this step choose an option; in place on the listeners.

    ``cfg`` the choice section; ``ctx`` the step: the listeners, ``memory.reconsider`` (n,) bool: those who
    choose whatever their draws (the newly aware, a long wait or an outage, a lost service; cleared here),
    ``price_rose`` (S, n_plans, R) bool: the plan's price went up this step in the region, ``rise_review``
    (S, n_plans, R) the share of a plan's payers reconsidering at a rise by region (reference prices; None:
    ``choice.price_change_review``), ``heard`` (n,) int8 the entrant a listener has just heard of, -1 for none
    (:mod:`sim.mechanics.entry`), the options and the offers (where each free tier is offered,
    ``table.free_in``), the switching section (``mechanisms.switching``), and the streams ``payment`` for premium
    subscribers, ``review`` for the aware, ``trigger`` for holders of a plan whose price rose, ``choice`` for the deciders.
    """
    pop, clock, t, reconsider, draws = ctx.pop, ctx.clock, ctx.t, ctx.memory.reconsider, ctx.draws
    rise_review, price_rose, options, heard = ctx.rise_review, ctx.price_rose, ctx.options, ctx.heard
    sw = ctx.scenario.mechanisms.switching
    if rise_review is None:  # the flat share, the same in every region
        rise_review = np.full((*price_rose.shape[:2], 1), cfg.price_change_review)
    failed, idx, trial_ended = _deciders(
        pop.known, pop.state, pop.tier, pop.service, pop.plan, pop.region, pop.trial_end, pop.tenure, pop.data_depth, pop.goodwill,
        pop.spell_start, t, reconsider, price_rose, options.held_index(price_rose.shape[:2]), ctx.table.free_in,
        clock.probability(cfg.involuntary_churn), clock.probability(cfg.lapsed_review_rate), cfg.premium_review_rate,
        *switching.review_constants(sw), clock.months_per_step, clock.probability(cfg.review_rate),
        np.asarray(rise_review, np.float64), draws.key("payment"), draws.key("review"), draws.key("trigger"), pop.ident)
    if idx.size:
        cur = current_option(pop, options, idx)
        moving = switching.moving_cost(pop.service[idx], pop.tenure[idx], pop.data_depth[idx],
                                       ctx.scenario.mechanisms.personalization.tau_hours, sw) if sw.enabled else None
        chosen = choose(*kernel_inputs(pop, options, ctx.table, ctx.scenario), idx, cur, cfg.noise_scale, draws.key("choice"),
                        pop.ident, moving, None if heard is None else heard[idx], cfg.plan_nest)
        move(pop, idx, chosen, trial_ended[idx], options, ctx.table.trial_months, t, clock.months_per_step)
    reconsider[:] = False
    return Decisions(failed, trial_ended)


@njit(cache=True, inline="always")
def _lapse(i, state, service, tier, plan, tenure, data_depth, goodwill) -> None:
    """Listener ``i`` stops using their service, in place."""
    state[i], service[i], tier[i], plan[i] = LAPSED, NO_SERVICE, NONE, -1
    tenure[i], data_depth[i], goodwill[i] = 0.0, 0.0, 0.0


@njit(cache=True)
def _deciders(known, state, tier, service, plan, region, trial_end, tenure, data_depth, goodwill, spell_start, t, reconsider,
              price_rose, held, free_in, payment_p, lapsed_p, premium_rate, long_tenure_ratio, tenure_months, dt, review_p,
              rise_review, payment_key, review_key, trigger_key, ident):
    """Whose payment failed (bool (n,)), who decides this step (their slots, ascending, int64 (m,))
    and whose trial ended (bool (n,)), in one pass over the listeners who know the market
    (``known``, ascending slots). The listener in slot i draws under their id ``d = ident[i]``.

    A premium subscriber whose payment fails (``uniform_at(payment_key, d)`` below ``payment_p``)
    lapses (:func:`_lapse`, in place) and does not decide. Another aware listener in reach decides
    if made to reconsider (``reconsider``: the newly aware among them), at the end of a trial,
    reviewing (``uniform_at(review_key, d)`` below the review probability of their state:
    lapsed, paying (``premium_rate`` a month on their first bill, falling with the months they
    have paid, ``spell_start`` (n,): :func:`sim.mechanics.switching.tenure_review`, steps of
    ``dt`` months), or else), holding a plan whose price rose in their region (``price_rose`` (S, plans, R),
    ``uniform_at(trigger_key, d)`` below ``rise_review`` (S, plans, R) of their region, or of
    region 0 when it has one region column) or holding an option no longer offered (``held``
    (S, 2, plans) option index, -1 if withdrawn; a free tier not offered in their region, ``free_in`` (S, R)).
    """
    n = state.size
    failed = np.zeros(n, np.bool_)
    deciders = np.empty(known.size, np.int32)  # int32: 27 MB at 10M, under the size glibc maps afresh
    lapsing = np.empty(known.size, np.int32)
    m = f = 0
    trial_ended = np.zeros(n, np.bool_)
    by_region = rise_review.shape[2] > 1
    # a payer's review probability depends on the steps since their spell began (0..t) only: an exp per step, not per
    # payer; the last entry stands for a spell from before the run (spell_start < 0), whose tenure counts instead
    by_steps = np.empty(t + 2)
    for a in range(t + 2):
        by_steps[a] = switching.tenure_review(premium_rate, a * dt, long_tenure_ratio, tenure_months, dt)
    # few branches on the listener: paying or not is a coin flip the processor would mispredict, so every
    # draw is computed (a draw depends only on its key and the listener) and the conditions combined
    for k in range(known.size):
        i = np.uint64(known[k])  # unsigned: an index numba need not wrap around (no sign test per array read)
        d = ident[i]
        s, ti = state[i], tier[i]
        if s == UNAWARE or s == OUTSIDE:  # not in ``known``; a guard that is never taken costs nothing
            continue
        user = s == USER
        paying = user & (ti == PREMIUM)
        fails = paying & (uniform_at(payment_key, d) < payment_p)  # involuntary churn: they lapse below, and do not decide
        lapsing[f] = i  # a compaction that always writes: no branch here, where paying is a coin flip
        f += fails
        ended = user & (ti == TRIAL) & (trial_end[i] <= t)
        trial_ended[i] = ended
        before_run = spell_start[i] < 0
        p_paying = by_steps[min(t - spell_start[i], t + 1)]  # a non-payer's spell is never after t: in bounds
        if paying & before_run:  # a few payers from before the run
            p_paying = switching.tenure_review(premium_rate, switching.paying_months(tenure[i], spell_start[i], t, dt),
                                               long_tenure_ratio, tenure_months, dt)
        p = p_paying if paying else (lapsed_p if s == LAPSED else review_p)
        decide = reconsider[i] | ended | (uniform_at(review_key, d) < p)
        j, q, r = np.uint64(max(service[i], 0)), np.uint64(max(plan[i], 0)), np.uint64(region[i])  # a non-user's are masked below
        if paying & price_rose[j, q, r]:  # only in a month a price rose
            decide |= uniform_at(trigger_key, d) < rise_review[j, q, r if by_region else np.uint64(0)]
        premium = (ti == PREMIUM) | (ti == TRIAL)  # not ``or``: a coin flip, no branch
        # their free tier or plan was withdrawn, everywhere or in their region
        withdrawn = (held[j, np.uint64(premium), q] < 0) | (~premium & ~free_in[j, r])
        deciders[m] = i  # a compaction that always writes: deciding is a coin flip
        m += (decide | (user & withdrawn)) & ~fails
    for i in lapsing[:f]:
        failed[i] = True
        _lapse(i, state, service, tier, plan, tenure, data_depth, goodwill)
    return failed, deciders[:m].astype(np.int64), trial_ended


def assign(pop, options: Options, who: np.ndarray, opt: np.ndarray) -> None:
    """Make listeners ``who`` users of options ``opt`` (no trial, no reset): the initial market."""
    pop.state[who] = State.USER
    pop.service[who] = options.service[opt]
    pop.tier[who] = np.where(options.premium[opt], Tier.PREMIUM, Tier.FREE)
    pop.plan[who] = options.plan[opt]


def move(pop, idx: np.ndarray, chosen: np.ndarray, trial_over: np.ndarray, options: Options,
         trial_months: np.ndarray, t: int, dt: float) -> None:
    """Apply the deciders' choices: service, tier (trials), plan, spells and reset state.

    ``idx`` the deciders, ``chosen`` their options and ``trial_over`` whether their trial
    ended, shape (k,); ``trial_months`` per service (S,), months; ``dt`` months per step.
    A user who picks nothing lapses (:func:`_lapse`); picking premium from a service whose
    trial they never had starts one; a new service resets tenure, data depth and goodwill;
    a new service or tier starts a spell.
    """
    trial_steps = np.maximum(np.round(trial_months / dt), 1).astype(np.int64)
    _move(np.asarray(idx, np.int64), np.asarray(chosen, np.int64), trial_over, options.service, options.premium, options.plan,
          trial_months > 0, trial_steps, t, pop.state, pop.service, pop.tier, pop.plan, pop.tenure, pop.data_depth,
          pop.goodwill, pop.trial_used, pop.trial_end, pop.spell_start)


@njit(cache=True)
def _move(idx, chosen, trial_over, o_service, o_premium, o_plan, has_trial, trial_steps, t, state, service, tier, plan,
          tenure, data_depth, goodwill, trial_used, trial_end, spell_start):
    """:func:`move` one decider at a time, in place (``has_trial`` and ``trial_steps`` per service (S,))."""
    for k in range(idx.size):
        if k + AHEAD < idx.size:  # the deciders are scattered: ask for a later one's fields while moving this one
            prefetch(idx[k + AHEAD], state, service, tier, plan, tenure, data_depth, goodwill, trial_used, trial_end,
                     spell_start)
        i, opt = np.uint64(idx[k]), chosen[k]  # unsigned: no wraparound test per read
        svc = o_service[opt]
        if svc < 0:  # nothing
            if state[i] == USER:
                _lapse(i, state, service, tier, plan, tenure, data_depth, goodwill)
            continue
        same_service = state[i] == USER and service[i] == svc
        old_tier = tier[i]
        had_trial = ((np.int64(trial_used[i]) >> svc) & 1) == 1
        start_trial = o_premium[opt] and not had_trial and has_trial[svc] and (not same_service or old_tier == FREE)
        in_trial = same_service and old_tier == TRIAL and not trial_over[k]
        new_tier = (TRIAL if in_trial or start_trial else PREMIUM) if o_premium[opt] else FREE
        if not same_service:
            tenure[i], data_depth[i], goodwill[i] = 0.0, 0.0, 0.0
        if not same_service or old_tier != new_tier:
            spell_start[i] = t
        if start_trial:
            trial_end[i] = t + trial_steps[svc]
            trial_used[i] |= np.uint64(1) << np.uint64(svc)  # the mask is 16, 32 or 64 bits
        state[i], service[i], tier[i], plan[i] = USER, svc, new_tier, o_plan[opt]


def place_initial(pop, options: Options, table, scenario, rng: np.random.Generator) -> None:
    """Place the market as it was at the start: aware people, focal free and premium, competitors.

    Who holds which option is drawn by propensity (utility advantage plus Gumbel noise), so
    the initial premium subscribers are the listeners most likely to pay. Tenure is uniform
    up to ``initial.tenure_months``; paying subscribers have used their trial.
    """
    init, opts = scenario.initial, options
    reach = np.flatnonzero(pop.state != State.OUTSIDE)  # shares are of the people in reach at the start
    n = reach.size
    aware = reach[rng.permutation(n)[: int(round(init.aware * n))]]
    pop.state[aware] = State.AWARE
    cur = np.zeros((aware.size, 1), dtype=np.int64)
    u = utility(pop, aware[:, None], np.arange(len(opts))[None, :], opts, table, scenario, cur)
    u_nothing = u[:, 0]
    taken = np.zeros(aware.size, bool)
    gumbel = rng.gumbel(size=(aware.size, 3)) * scenario.choice.noise_scale

    def place(count: int, columns: np.ndarray, against: np.ndarray, noise: np.ndarray) -> None:
        """Give the ``count`` free listeners with the highest advantage their best option among ``columns``."""
        if count <= 0 or columns.size == 0:
            return
        best = u[:, columns].max(axis=1)
        score = np.where(taken | (best <= INELIGIBLE / 2), -np.inf, best - against + noise)  # not where it is not offered
        chosen = np.argsort(-score, kind="stable")[:min(count, int(np.isfinite(score).sum()))]
        taken[chosen] = True
        assign(pop, opts, aware[chosen], columns[np.argmax(u[chosen][:, columns], axis=1)])

    focal_prem = np.flatnonzero((opts.service == 0) & opts.premium)
    focal_free = np.flatnonzero((opts.service == 0) & opts.free)
    free_u = u[:, focal_free].max(axis=1) if focal_free.size else u_nothing
    place(int(round(init.focal_premium * n)), focal_prem, free_u, gumbel[:, 0])
    place(int(round(init.focal_free * n)), focal_free, u_nothing, gumbel[:, 1])
    comps = len(scenario.services.competitors)  # entrants come later
    for c in range(1, comps + 1):
        cols = np.flatnonzero(opts.service == c)
        place(int(round(init.competitor * n / comps)), cols, u_nothing, gumbel[:, 2])

    users = pop.state == State.USER
    pop.tenure[users] = rng.uniform(0, init.tenure_months, int(users.sum())).astype(np.float32)
    paying = users & (pop.tier == Tier.PREMIUM)  # they had their trial long ago
    pop.trial_used[paying] |= (np.uint64(1) << pop.service[paying].astype(np.uint64)).astype(pop.trial_used.dtype)
    pop.satisfaction[users] = 0.6
    pop.spell_start[users] = -1
    pop.recount_known()
