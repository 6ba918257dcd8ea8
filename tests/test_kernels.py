"""The numba kernels against small straightforward numpy computations of the same quantities."""

from __future__ import annotations

import numpy as np
import pytest

from sim.agents.listeners import Stage, State, Tier
from sim.agents.network import small_world
from sim.mechanics import diffusion, service_quality
from sim.mechanics.personalization import sharers
from sim.random import CounterRandom

N = 3000


def _random() -> CounterRandom:
    return CounterRandom({"diffusion": np.random.SeedSequence(5)})


def _agree_off_the_boundary(got: np.ndarray, draws: np.ndarray, prob: np.ndarray) -> None:
    """``got == (draws < prob)`` wherever the draw is not within rounding of the probability."""
    clear = np.abs(draws - prob) > 1e-6
    np.testing.assert_array_equal(got[clear], (draws < prob)[clear])


def test_awareness_on_a_network_matches_the_sparse_product():
    rng = np.random.default_rng(0)
    friends = small_world(rng.integers(0, 3, N), 10, 0.2, 0.5, rng)  # over ids
    # the arrays are per slot, in an order unrelated to the ids (as once listeners have learnt of the market)
    ident = rng.permutation(N).astype(np.int32)
    slot_of = np.argsort(ident).astype(np.int32)
    degree = np.diff(friends.indptr)[ident]
    state = rng.choice(np.array([State.UNAWARE, State.AWARE, State.USER, State.OUTSIDE], np.int8), N)
    advocate = (state == State.USER) & (rng.random(N) < 0.3)
    sharing = (state == State.USER) & (rng.random(N) < 0.2)
    cfg = type("Cfg", (), {"enabled": True, "q": 0.4, "advocate_weight": 2.5})
    key = _random().key("diffusion", 3)
    wom = diffusion.WordOfMouth.empty(N)
    # an earlier step's word of mouth, brought up to date by the step (only the changes travel);
    # known: everyone who knew the market at either step (it only grows)
    earlier = np.roll(state, 7)
    known = np.flatnonzero(~np.isin(state, [State.UNAWARE, State.OUTSIDE]) | ~np.isin(earlier, [State.UNAWARE, State.OUTSIDE]))
    stage = np.where(advocate, Stage.ADVOCATE, Stage.SUPPORTER).astype(np.int8)
    network = (friends, ident, degree)
    diffusion.aware(known, earlier, stage, sharing, *network, False, 0.01, cfg, 1.5, key, 1.0, wom)
    newly = diffusion.aware(known, state, stage, sharing, *network, False, 0.01, cfg, 1.5, key, 1.0, wom)
    assert np.all(np.diff(newly) > 0)  # ascending, each once
    got = np.zeros(N, bool)
    got[newly] = True
    influence = ((state == State.USER) + advocate * 1.5 + sharing * 1.5)[slot_of]  # by id
    # the friends' weights kept up to date equal the sparse product (every change reached every friend), per id
    np.testing.assert_allclose(wom.total, friends.astype(np.float32) @ influence.astype(np.float32), rtol=1e-5, atol=1e-5)
    prob = diffusion.awareness_probability(0.01, 0.4, diffusion.exposure(influence, friends.astype(np.float32), np.diff(friends.indptr), False,
                                                                        (state != State.OUTSIDE)[slot_of]), 1.0,
                                           False)[ident]
    draws = _random().uniform_all("diffusion", 3, N)[ident]  # each listener draws under their id
    assert not got[state != State.UNAWARE].any()
    unaware = state == State.UNAWARE
    _agree_off_the_boundary(got[unaware], draws[unaware], prob[unaware])
    assert 0 < got.sum() < unaware.sum()


def test_awareness_fully_mixed_follows_the_bass_path():
    rng = np.random.default_rng(1)
    state = rng.choice(np.array([State.UNAWARE, State.USER, State.OUTSIDE], np.int8), N, p=[0.5, 0.2, 0.3])
    none = np.zeros(N, bool)
    cfg = type("Cfg", (), {"enabled": True, "q": 0.4, "advocate_weight": 2.0})
    key = _random().key("diffusion", 0)
    ident = rng.permutation(N).astype(np.int32)  # slots unrelated to ids
    newly = diffusion.aware(np.flatnonzero(state == State.USER), state, np.zeros(N, np.int8), none, None, ident, None, True, 0.01, cfg, 0.0, key, 1.0, diffusion.WordOfMouth.empty(0))
    assert np.all(np.diff(newly) > 0)
    got = np.zeros(N, bool)
    got[newly] = True
    share = float((state == State.USER).sum() / (state != State.OUTSIDE).sum())  # of the people in reach
    prob = (diffusion.bass_advance(share, 0.01, 0.4, 1.0) - share) / (1 - share)
    draws = _random().uniform_all("diffusion", 0, N)[ident]
    _agree_off_the_boundary(got, draws, np.where(state == State.UNAWARE, prob, -1.0))


@pytest.mark.parametrize("kept", [0.0, 0.8])
def test_one_pass_tally_matches_masked_counts(kept):
    """Every column, with listeners drawn at random (most moved) and with ``kept`` of them keeping their service and tier
    (as in a mature market: the tally counts those by category)."""
    from sim.metrics import (CONVERTED, DOWN, ENDED, FREE, GROSS_ADDS, HOURS_FREE, HOURS_PAID, LAPSE, LEFT_PREMIUM, PLAN_0,
                             PREMIUM, PREMIUM_ADDS, SATISFACTION, STAGE_1, TO_COMPETITOR, TRIAL, TRIAL_STARTS, USERS, USERS_LEFT,
                             VOLUNTARY, WAS_PREMIUM, WAS_USER, tally)

    rng = np.random.default_rng(2)
    s, plans, steps = 3, 4, 10
    state = rng.integers(0, len(State), N).astype(np.int8)
    user = state == State.USER
    service = np.where(user, rng.integers(0, s, N), -1).astype(np.int8)
    tier = np.where(user, rng.choice([Tier.FREE, Tier.TRIAL, Tier.PREMIUM], N), Tier.NONE).astype(np.int8)
    plan = np.where(tier == Tier.PREMIUM, rng.integers(0, plans, N), -1).astype(np.int8)
    hours = rng.random(N).astype(np.float32) * 40
    satisfaction = rng.random(N).astype(np.float32)
    stage = np.where(user, rng.integers(1, 5, N), 0).astype(np.int8)
    spell = rng.integers(-1, steps, N).astype(np.int32)
    before_service = np.where(rng.random(N) < 0.6, rng.integers(0, s, N), -1).astype(np.int8)
    before_tier = np.where(before_service >= 0, rng.choice([Tier.FREE, Tier.TRIAL, Tier.PREMIUM], N), Tier.NONE).astype(np.int8)
    same = rng.random(N) < kept
    before_service[same], before_tier[same] = service[same], tier[same]
    failed = (before_tier == Tier.PREMIUM) & ~user & (rng.random(N) < 0.3)
    ended = (before_tier == Tier.TRIAL) & (rng.random(N) < 0.5)
    region = rng.integers(0, 3, N).astype(np.int16)
    table, states, cohorts, regions = tally(np.arange(N), state, service, tier, plan, hours, satisfaction, stage, spell, before_service,
                                            before_tier, failed, ended, region, s, plans, steps, 3)

    def by(svc, mask, weights=None):
        return np.bincount(svc[mask].astype(np.int64), weights=None if weights is None else weights[mask], minlength=s)[:s]

    prem = user & (tier == Tier.PREMIUM)
    was_prem = (before_service >= 0) & (before_tier == Tier.PREMIUM)
    stays = prem & (service == before_service)
    expected = {
        FREE: by(service, user & (tier == Tier.FREE)), PREMIUM: by(service, prem),
        GROSS_ADDS: by(service, user & (service != before_service)),
        HOURS_PAID: by(service, user & (tier != Tier.FREE), hours),
        PLAN_0 + 2: by(service, prem & (plan == 2)), STAGE_1 + 2: by(service, user & (stage == 3)),
        ENDED: by(before_service, ended & (before_service >= 0)), CONVERTED: by(before_service, ended & stays),
        VOLUNTARY: by(before_service, was_prem & ~stays & ~user & ~failed),
        DOWN: by(before_service, was_prem & (service == before_service) & (tier == Tier.FREE)),
        TO_COMPETITOR: by(before_service, was_prem & user & (service != before_service)),
        LAPSE: by(before_service, was_prem & failed),
        USERS_LEFT: by(before_service, (before_service >= 0) & (service != before_service)),
        USERS: by(service, user), TRIAL: by(service, user & (tier == Tier.TRIAL)),
        HOURS_FREE: by(service, user & (tier == Tier.FREE), hours), SATISFACTION: by(service, user, satisfaction),
        TRIAL_STARTS: by(service, user & (tier == Tier.TRIAL) & ~((before_tier == Tier.TRIAL) & (service == before_service))),
        PREMIUM_ADDS: by(service, prem & ~was_prem | prem & (service != before_service)),
        WAS_USER: by(before_service, before_service >= 0), WAS_PREMIUM: by(before_service, was_prem),
        LEFT_PREMIUM: by(before_service, was_prem & ~stays),
        **{PLAN_0 + p: by(service, prem & (plan == p)) for p in range(plans)},
        **{STAGE_1 + k - 1: by(service, user & (stage == k)) for k in range(1, 5)},
    }
    for column, want in expected.items():
        np.testing.assert_array_equal(table[:, column], want.astype(float), err_msg=str(column))
    np.testing.assert_array_equal(states, np.bincount(state, minlength=len(State)))
    focal_free = user & (service == 0) & (tier == Tier.FREE) & (spell >= 0)
    np.testing.assert_array_equal(cohorts[1], np.bincount(spell[focal_free], minlength=steps + 1))
    key = (region[user].astype(np.int64) * s + service[user]) * 3 + (tier[user] - Tier.FREE)  # users by region, service, tier
    np.testing.assert_array_equal(regions, np.bincount(key, minlength=3 * s * 3).reshape(3, s, 3).astype(float))
    focal_premium = prem & (service == 0) & (spell >= 0)
    np.testing.assert_array_equal(cohorts[0], np.bincount(spell[focal_premium], minlength=steps + 1))
    if kept:
        assert np.mean((service == before_service) & (tier == before_tier) & ~failed & ~ended) > 0.7  # the counts by category


def _small_model(overrides: dict | None = None):
    from sim.model import MarketModel
    from tests.helpers import small_scenario

    model = MarketModel(small_scenario({"market.agents": 2000, **(overrides or {})}), seed=3)
    for _ in range(3):
        model.step()
    return model


@pytest.mark.parametrize("credible", [False, True])
def test_utility_kernel_matches_the_numpy_utility(credible):
    import dataclasses

    from sim.mechanics.choice import held_utility, kernel_inputs, utility, utility_table
    from sim.mechanics.subscriptions import current_option

    # credible: three regions with their incomes (prices weigh more where incomes are lower)
    regions = [{"name": f"r{k}", "share": 1 / 3, "income": income} for k, income in enumerate((60000.0, 9000.0, 5000.0))]
    # credible also with each listener's persistent taste for each service (sim.mechanics.tastes)
    model = _small_model({"choice.price_weight": 0.7, "regions": regions, "choice.income_elasticity": 0.5,
                          "choice.reference_income": 1700.0, "choice.service_taste": 1.5} if credible else None)
    pop, opts = model.population, model.options
    if credible:  # prices in real terms with losses above reference prices, services not everywhere
        rng = np.random.default_rng(4)
        pop.region = rng.integers(0, 3, pop.n).astype(np.int16)
        pop.region_price_index = rng.uniform(1.0, 1.3, 3).astype(np.float32)
        s = model.table.n  # policies by region: price levels, ad loads, and a free tier not offered everywhere
        model.table = dataclasses.replace(model.table, region_price=rng.uniform(0.6, 1.2, (s, 3)).astype(np.float32),
                                          ad_load=rng.uniform(0.0, 5.0, (s, 3)).astype(np.float32),
                                          free_in=rng.random((s, 3)) < 0.7)
        pop.available = rng.random(pop.available.shape) < 0.8
        pop.data_depth[:] = rng.uniform(0, 500, pop.n)  # data held for sharers and non-sharers alike
        opts = dataclasses.replace(opts, loss=rng.uniform(0, 2, (len(opts), 3)).astype(np.float32))
        # platform ecosystems: listeners in one or none, services of one or none, each with its bonus
        pop.ecosystem = rng.integers(0, 4, pop.n).astype(np.uint8)
        model.table = dataclasses.replace(model.table, ecosystem=rng.integers(0, 4, s).astype(np.uint8),
                                          ecosystem_bonus=rng.uniform(0.5, 3.0, s).astype(np.float32))
    idx = np.flatnonzero((pop.state != State.UNAWARE) & (pop.state != State.OUTSIDE))
    cur = current_option(pop, opts, idx)
    inputs = kernel_inputs(pop, opts, model.table, model.scenario)
    table = utility_table(*inputs, idx, cur)  # every option: the deciders' table
    for o in range(len(opts)):
        want = utility(pop, idx, np.full(idx.size, o), opts, model.table, model.scenario, cur)
        np.testing.assert_allclose(table[:, o], want, rtol=1e-5, atol=1e-4, err_msg=f"option {o}")
    # each user's own option, without the switching cost: the table's column without a current option, bit for bit
    # (a user's option is one they may take: tests/test_market.py; the random availability above may deny it)
    svc, free = np.maximum(pop.service[idx], 0), pop.tier[idx] == Tier.FREE
    users = (cur > 0) & pop.available[idx, svc] & (~free | model.table.free_in[svc, pop.region[idx]])
    assert users.sum() > 100
    pers = model.scenario.mechanisms.personalization
    sharing, fraction = sharers(idx[users], pop.state, pop.service, pop.privacy_sensitive, pop.consent_draw, model.table.opt_in,
                                pers.opt_out_share, pers.opt_in_share, pop.data_depth, pers.tau_hours)
    held = held_utility(*inputs, idx[users], cur[users], fraction, sharing)
    want = utility(pop, idx[users], cur[users], opts, model.table, model.scenario, np.full(users.sum(), -1))
    np.testing.assert_allclose(held, want, rtol=1e-5, atol=1e-4)
    rows = utility_table(*inputs, idx[users], np.full(users.sum(), -1))
    np.testing.assert_array_equal(held, rows[np.arange(users.sum()), cur[users]])


def test_prefetch_changes_no_value():
    from numba import njit

    from sim.kernels import prefetch

    @njit
    def gather(idx, a, b, ahead):
        out = np.zeros(idx.size)
        for k in range(idx.size):
            if k + ahead < idx.size:
                prefetch(idx[k + ahead], a, b)
            out[k] = a[idx[k]] + b[idx[k], 1]
        return out

    rng = np.random.default_rng(3)
    a, b = rng.random(N).astype(np.float32), rng.random((N, 3))
    for idx in (np.sort(rng.choice(N, 200, replace=False)).astype(np.int32), rng.integers(0, N, 500)):
        np.testing.assert_array_equal(gather(idx, a, b, 8), a[idx] + b[idx, 1])


@pytest.mark.parametrize("plan_nest", [1.0, 0.5])
def test_choice_kernel_draws_from_the_logit(plan_nest):
    from sim.mechanics.choice import choose, kernel_inputs, logit_choice, nests, utility
    from sim.mechanics.subscriptions import current_option

    model = _small_model()
    pop, opts, scen = model.population, model.options, model.scenario
    idx = np.flatnonzero(pop.state != State.UNAWARE)
    cur = current_option(pop, opts, idx)
    r = CounterRandom({"choice": np.random.SeedSequence(9)})
    got = choose(*kernel_inputs(pop, opts, model.table, scen), idx, cur, scen.choice.noise_scale, r.key("choice", 4), pop.ident,
                 plan_nest=plan_nest)
    u = utility(pop, idx[:, None], np.arange(len(opts))[None, :], opts, model.table, scen, cur[:, None])
    assert (pop.ident[idx] != idx).any()  # slots are not ids: each listener draws under their id
    want = logit_choice(u, scen.choice.noise_scale, r.uniform("choice", 4, pop.ident[idx]), nests(opts.service), plan_nest)
    assert np.mean(got == want) > 0.999  # equal but where a draw falls within rounding of a cumulative probability
    assert len(np.unique(got)) > 2


def _listeners(rng, n=N, s=3):
    state = rng.integers(0, 4, n).astype(np.int8)
    user = state == State.USER
    service = np.where(user, rng.integers(0, s, n), -1).astype(np.int8)
    tier = np.where(user, rng.choice([Tier.FREE, Tier.TRIAL, Tier.PREMIUM], n), Tier.NONE).astype(np.int8)
    return state, service, tier, user


def test_listening_kernel_matches_the_formula():
    from sim.mechanics import listening
    from tests.helpers import small_scenario

    rng = np.random.default_rng(4)
    state, service, tier, user = _listeners(rng)
    base, depth = rng.lognormal(3, 0.5, N).astype(np.float32), rng.exponential(200, N).astype(np.float32)
    sharing, satisfaction = rng.random(N) < 0.6, rng.random(N).astype(np.float32)
    pers_level, downtime = np.array([0.2, 0.9, 0.5]), np.array([0.0, 0.1, 0.0])
    region, ad_load = rng.integers(0, 2, N).astype(np.int16), np.array([[2.0, 3.0], [4.0, 1.0], [0.0, 0.0]])  # (S, R)
    mech = small_scenario().mechanisms
    fraction = 1 - np.exp(-depth / mech.personalization.tau_hours)  # read only where the user shares
    got = np.full(N, 7.0, np.float32)  # last month's hours, in place: every non-user's go back to 0
    listening.hours_of(np.arange(N), np.arange(N), state, service, tier, region, base, fraction, sharing, satisfaction, pers_level, ad_load,
                   downtime, mech.personalization, mech.listening, got)
    svc = np.maximum(service, 0)
    frac = np.where(sharing, 1 - np.exp(-depth / mech.personalization.tau_hours), 0.0)
    fit = 1 + pers_level[svc] * mech.personalization.lift * frac
    want = listening.hours(base, fit, (tier == Tier.PREMIUM) | (tier == Tier.TRIAL), tier == Tier.FREE, ad_load[svc, region],
                           satisfaction, downtime[svc], mech.listening)
    np.testing.assert_allclose(got, np.where(user, want, 0.0), rtol=1e-5)
    assert got.dtype == np.float32 and (got[~user] == 0).all() and (got[user] > 0).any()


def test_ad_audience_in_one_pass_matches_the_free_listeners_sums():
    from sim.mechanics.ads import Audience

    rng = np.random.default_rng(6)
    state, service, tier, user = _listeners(rng)
    hours = rng.random(N).astype(np.float32) * 50
    taste = rng.dirichlet(np.ones(4), N).astype(np.float32)
    depth, sharing = rng.exponential(100, N).astype(np.float32), rng.random(N) < 0.5
    region, by_region = rng.integers(0, 4, N).astype(np.int16), (1 + rng.random(4) * 0.3).astype(np.float32)
    index = by_region[region]
    got = Audience.gather(np.arange(N), state, service, tier, hours, taste, 1 - np.exp(-depth / 300.0), sharing, True, 3,
                          region, by_region)
    free = user & (tier == Tier.FREE)
    want = Audience.of(service[free].astype(np.int64), hours[free], taste[free],
                       np.where(sharing, 1 - np.exp(-depth / 300.0), 0.0)[free], 3, index[free], region[free].astype(np.int64), 4)
    assert got.mean_price_index() == pytest.approx(float(index[free].mean()), rel=1e-6)
    for name in ("hours", "listeners", "data", "genre_hours", "price_index", "region_hours"):
        np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=1e-5, err_msg=name)


def test_loyalty_kernel_matches_the_stage_functions():
    from sim.mechanics import loyalty
    from sim.mechanics.personalization import grow_depth
    from tests.helpers import small_scenario

    rng = np.random.default_rng(8)
    state, _, _, user = _listeners(rng)
    satisfaction, goodwill = rng.random(N).astype(np.float32), rng.normal(0, 2, N).astype(np.float32)
    tenure, shared_until = rng.uniform(0, 30, N).astype(np.float32), rng.integers(-1, 20, N).astype(np.int16)
    utility, outside = rng.normal(0, 5, int(user.sum())), rng.normal(1, 2, N).astype(np.float32)
    surplus = utility + goodwill[user] - outside[user]  # goodwill before it fades
    cfg = small_scenario().mechanisms.loyalty
    got = type("Got", (), {"satisfaction": satisfaction.copy(), "goodwill": goodwill.copy(), "tenure": tenure.copy(),
                           "stage": np.full(N, 7, np.int8)})
    loyalty.update(np.arange(N), state, got.satisfaction, got.goodwill, got.tenure, got.stage, utility, outside, shared_until, 10,
                 cfg, 0.2, 1.9, 1.0)
    weight = 1 - (1 - cfg.satisfaction_smoothing)
    want_sat = satisfaction.copy()
    want_sat[user] = loyalty.update_satisfaction(satisfaction[user], surplus, 1.9, weight)
    want_tenure = np.where(user, tenure + 1.0, tenure).astype(np.float32)
    np.testing.assert_allclose(got.satisfaction, want_sat, rtol=1e-6)
    np.testing.assert_allclose(got.goodwill, loyalty.decay_goodwill(goodwill, 0.2, 1.0), rtol=1e-6)
    np.testing.assert_array_equal(got.tenure, want_tenure)
    want_stage = loyalty.stages(user, want_tenure, got.satisfaction, shared_until >= 10, cfg)
    np.testing.assert_array_equal(got.stage, want_stage)
    assert set(np.unique(got.stage)) >= {0, 1, 2}
    depth, hours, sharing = rng.random(N).astype(np.float32), rng.random(N).astype(np.float32), rng.random(N) < 0.5
    grown = depth.copy()
    grow_depth(np.arange(N), grown, hours, sharing, 0.25)
    np.testing.assert_allclose(grown, depth + np.where(sharing, hours * 0.25, 0), rtol=1e-6)


def test_deciders_kernel_matches_the_masks():
    from sim.mechanics.subscriptions import _deciders

    rng = np.random.default_rng(10)
    state, service, tier, user = _listeners(rng, s=2)
    state = np.where((state == State.UNAWARE) & (rng.random(N) < 0.5), State.OUTSIDE, state).astype(np.int8)  # not yet in reach
    region = rng.integers(0, 3, N).astype(np.int16)
    rise_review = rng.random((2, 3, 3))  # (service, plan, region): the share reconsidering at a rise
    plan = np.where(tier != Tier.FREE, rng.integers(0, 3, N), -1).astype(np.int8)
    trial_end = rng.integers(0, 8, N).astype(np.int16)
    tenure, depth, goodwill = (rng.random(N).astype(np.float32) + 1 for _ in range(3))
    newly, reconsider = (state == State.AWARE) & (rng.random(N) < 0.5), rng.random(N) < 0.05
    reconsider[np.flatnonzero(state == State.OUTSIDE)[:5]] = True  # never decide before coming into reach
    price_rose = rng.random((2, 3, 3)) < 0.5  # (service, plan, region): the local price rose
    free_in = np.array([[True, False, True], [True, True, True]])  # service 0 has no free tier in region 1
    held = np.full((2, 2, 3), -1, np.int64)
    held[0, :, :2] = 1  # service 0 offers its free tier and plans 0, 1; service 1 only plan 2
    held[1, 1, 2] = 1
    r = CounterRandom({name: np.random.SeedSequence(k) for k, name in enumerate(("payment", "review", "trigger"))})
    before = dict(state=state.copy(), service=service.copy(), tier=tier.copy(), plan=plan.copy())
    ident = rng.permutation(N).astype(np.int32)  # the id in each slot: each listener draws under their id
    spell_start = rng.integers(-1, 4, N).astype(np.int16)  # -1: paying since before the run (their tenure counts)
    # a paying subscriber reviews at 0.9 a month on their first bill, falling steeply to a tenth of it (time constant
    # 1 month): a month's error in the months paid moves many payers' decisions
    failed, got, ended = _deciders(np.arange(N), state, tier, service, plan, region, trial_end, tenure, depth, goodwill,
                                   spell_start, 4, newly | reconsider, price_rose, held, free_in, 0.3, 0.1, 0.9, 0.1, 1.0, 1.0,
                                   0.2, rise_review, r.key("payment", 4), r.key("review", 4), r.key("trigger", 4), ident)
    state0, service0, tier0, plan0 = before["state"], before["service"], before["tier"], before["plan"]
    user0 = state0 == State.USER
    paying = user0 & (tier0 == Tier.PREMIUM)
    want_failed = paying & (r.uniform_all("payment", 4, N)[ident] < 0.3)
    np.testing.assert_array_equal(failed, want_failed)
    assert want_failed.any() and (state[want_failed] == State.LAPSED).all() and (service[want_failed] == -1).all()
    assert (tier[want_failed] == Tier.NONE).all() and (goodwill[want_failed] == 0).all() and (tenure[want_failed] == 0).all()
    np.testing.assert_array_equal(state[~want_failed], state0[~want_failed])
    want_ended = user0 & (tier0 == Tier.TRIAL) & (trial_end <= 4)
    paid = np.where(spell_start < 0, tenure, 4 - spell_start)
    review_p = np.where(state0 == State.LAPSED, 0.1, np.where(paying, 0.9 * (0.1 + 0.9 * np.exp(-paid / 1.0)), 0.2))
    svc, pl = np.maximum(service0, 0), np.maximum(plan0, 0)
    premium = (tier0 == Tier.PREMIUM) | (tier0 == Tier.TRIAL)
    want = (newly | reconsider | want_ended | (r.uniform_all("review", 4, N)[ident] < review_p)
            | (paying & price_rose[svc, pl, region] & (r.uniform_all("trigger", 4, N)[ident] < rise_review[svc, pl, region]))
            | (user0 & (held[svc, premium.astype(int), pl] < 0)) | (user0 & ~premium & ~free_in[svc, region]))
    want &= (state0 != State.UNAWARE) & (state0 != State.OUTSIDE) & ~want_failed
    np.testing.assert_array_equal(ended, want_ended)
    np.testing.assert_array_equal(got, np.flatnonzero(want))


def test_sharers_and_fees_kernels_match_numpy():
    from sim.mechanics.accounting import _per_service
    from sim.mechanics.personalization import shares_data, sharers

    rng = np.random.default_rng(12)
    state, service, tier, user = _listeners(rng, s=2)
    privacy, consent = rng.random(N) < 0.3, rng.random(N).astype(np.float32)
    opt_in = np.array([True, False])
    want = shares_data(privacy, consent, opt_in[np.maximum(service, 0)], 0.2, 0.6) & user
    depth = rng.exponential(200, N).astype(np.float32)
    got, fraction = sharers(np.arange(N), state, service, privacy, consent, opt_in, 0.2, 0.6, depth, 300.0)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(fraction, np.where(want, 1 - np.exp(-depth.astype(float) / 300.0), 0.0), rtol=1e-12)

    plan = np.where(tier != Tier.FREE, rng.integers(0, 2, N), -1).astype(np.int8)
    region, mult = rng.integers(0, 3, N).astype(np.int16), rng.uniform(0.5, 1.5, (2, 3)).astype(np.float32)  # (S, R)
    per_user = np.array([[9.99, 7.5], [10.99, 5.0]])
    subs, users, trials = _per_service(np.arange(N), state, tier, service, plan, region, mult, per_user, 2)
    prem = user & (tier == Tier.PREMIUM)
    fees = per_user[service[prem], plan[prem]] * mult[service[prem], region[prem]]
    np.testing.assert_allclose(subs, np.bincount(service[prem], weights=fees, minlength=2))
    np.testing.assert_array_equal(users, np.bincount(service[user], minlength=2))
    np.testing.assert_array_equal(trials, np.bincount(service[user & (tier == Tier.TRIAL)], minlength=2))


def test_current_option_lookup_matches_index_of():
    from sim.mechanics.subscriptions import current_option

    model = _small_model()
    pop, opts = model.population, model.options
    idx = np.arange(pop.n)
    premium = (pop.tier == Tier.PREMIUM) | (pop.tier == Tier.TRIAL)
    want = opts.index_of(np.where(pop.state == State.USER, pop.service, -1), premium, pop.plan)
    got = current_option(pop, opts, idx)
    np.testing.assert_array_equal(got, want)
    assert (got > 0).any() and (got == 0).any()


def test_market_kernels_match_reach_availability_and_stranded_masks():
    from sim.mechanics import market

    rng = np.random.default_rng(14)
    s, regions = 3, 4
    state, service, _, _ = _listeners(rng, s=s)
    region = rng.integers(0, regions, N).astype(np.int16)
    order, start = market.entry_order(region, regions, rng)
    rank = np.empty(N, np.int64)  # position of each listener in their region's entry order
    for r in range(regions):
        assert set(order[start[r]:start[r + 1]].tolist()) == set(np.flatnonzero(region == r).tolist())
        rank[order[start[r]:start[r + 1]]] = np.arange(start[r + 1] - start[r])
    group = np.bincount(region, minlength=regions)
    state = np.where(rank >= group[region] * 0.7, State.OUTSIDE, state).astype(np.int8)
    counts = np.round(group * np.array([0.8, 0.7, 1.0, 0.9])).astype(np.int64)
    place = rng.random(N).astype(np.float32)
    shares, active = rng.random((s, regions)), np.array([True, False, True])
    available, triggered = np.ones((N, s), bool), np.zeros(N, bool)
    before = state.copy()
    ids = np.arange(N, dtype=np.int32)  # slots are ids here; a permutation is checked below
    market.admit(state, order, start, np.zeros(regions, np.int64), group, counts, ids)
    market.update_availability(np.arange(N), state, service, region, place, shares, active, np.ones(shares.shape, bool), available,
                               triggered)
    reach = rank < counts[region]
    want_state = np.where(reach, np.where(before == State.OUTSIDE, State.UNAWARE, before), State.OUTSIDE)
    np.testing.assert_array_equal(state, want_state)
    want_available = (place[:, None] < shares[:, region].T) & active[None, :]
    np.testing.assert_array_equal(available, want_available)
    user = state == State.USER
    np.testing.assert_array_equal(triggered, user & ~want_available[np.arange(N), np.maximum(service, 0)])
    # a launch in one region: only that (service, region) pair is recomputed, every other value kept
    changed = np.zeros(shares.shape, bool)
    changed[2, 1] = True
    later = shares.copy()
    later[2, 1], later[0, 1] = 1.0, 0.0  # the untouched pair (0, 1) must not follow its new share
    market.update_availability(np.arange(N), state, service, region, place, later, active, changed, available, np.zeros(N, bool))
    want_available[:, 2] = np.where(region == 1, active[2], want_available[:, 2])
    np.testing.assert_array_equal(available, want_available)
    # later steps visit only the entrants: the same state as a visit of everyone
    more = np.minimum(counts + np.array([5, 0, 0, 40]), group)
    whole = state.copy()
    market.admit(whole, order, start, np.zeros(regions, np.int64), group, more, ids)
    slot_of = rng.permutation(N).astype(np.int32)  # listeners stored in other slots: the same listeners come in
    moved = np.empty_like(state)
    moved[slot_of] = state
    market.admit(state, order, start, counts, more, more, ids)
    np.testing.assert_array_equal(state, whole)
    market.admit(moved, order, start, counts, more, more, slot_of)
    np.testing.assert_array_equal(moved[slot_of], whole)
    assert (state != want_state).sum() > 0
    # a later change recomputes only the pairs that changed
    shares2, kept = shares.copy(), available.copy()
    shares2[1, 2] = 0.0  # service 1 withdraws from region 2
    changed = np.zeros(shares.shape, bool)
    changed[1, 2] = True
    active2 = np.array([True, True, True])  # service 1 is in the market now, but only the changed pair is recomputed
    later = np.zeros(N, bool)
    market.update_availability(np.arange(N), state, service, region, place, shares2, active2, changed, available, later)
    in_2 = region == 2
    np.testing.assert_array_equal(available[in_2, 1], np.zeros(in_2.sum(), bool))
    np.testing.assert_array_equal(available[~in_2], kept[~in_2])
    np.testing.assert_array_equal(np.delete(available, 1, axis=1), np.delete(kept, 1, axis=1))
    np.testing.assert_array_equal(later, (state == State.USER) & ~available[np.arange(N), np.maximum(service, 0)])
    assert (later & in_2 & (service == 1)).any()
    assert ((before == State.OUTSIDE) & (state == State.UNAWARE)).any() and triggered.any() and (~available).any()


def test_known_listeners_are_those_who_know_the_market_and_visiting_them_is_visiting_everyone():
    from sim.agents.listeners import _merge
    from sim.metrics import tally

    room = np.zeros(9, np.int32)
    room[:4] = [1, 4, 6, 9]
    assert _merge(room, 4, np.array([0, 5, 7, 10, 11], np.int32)) == 9
    np.testing.assert_array_equal(room, [0, 1, 4, 5, 6, 7, 9, 10, 11])

    model = _small_model({"time.months": 30})
    for _ in range(20):
        model.step()
        pop = model.population
        np.testing.assert_array_equal(pop.known, np.flatnonzero(~np.isin(pop.state, [State.UNAWARE, State.OUTSIDE])))
    assert 0 < pop.n_known < np.count_nonzero(pop.state != State.OUTSIDE)
    before = {"service": pop.service, "tier": pop.tier}
    failed = np.zeros(pop.n, bool)
    args = (pop.state, pop.service, pop.tier, pop.plan, pop.hours, pop.satisfaction, model.memory.stage, pop.spell_start,
            before["service"], before["tier"], failed, failed, pop.region, len(model.services), len(model.table.plan_names), model.n_steps,
            len(pop.region_names))
    known, everyone = tally(pop.known, *args), tally(np.arange(pop.n), *args)
    for got, want in zip(known[::2] + known[3:], everyone[::2] + everyone[3:]):  # the per-service table, the cohorts, the regions
        np.testing.assert_array_equal(got, want)
    assert known[0][:, 0].sum() > 0


def test_moves_to_the_front_match_the_sets():
    from sim.agents.listeners import _front, _trade

    rng = np.random.default_rng(14)
    for prefix in (0, 40, 300):
        newcomers = np.sort(rng.choice(np.arange(prefix, N), 250, replace=False))
        known = np.union1d(np.arange(prefix), newcomers).astype(np.int32)
        holes, movers = _front(known, prefix)
        m = known.size
        np.testing.assert_array_equal(holes, np.setdiff1d(np.arange(m), known))  # the free slots below m
        np.testing.assert_array_equal(movers, known[known >= m])  # the known at m or above
        rows = rng.random((N, 3)).astype(np.float32)  # any dtype, any width: the rows as bytes
        want = rows.copy()
        want[holes], want[movers] = rows[movers], rows[holes]
        _trade(rows.view(np.uint8).reshape(N, -1), holes, movers)
        np.testing.assert_array_equal(rows, want)
        after = np.arange(N)
        after[holes], after[movers] = movers, holes  # the listener now in each slot
        assert np.isin(after[:m], known).all()  # the known fill slots 0..m-1


def test_support_head_count_in_one_pass_matches_bincounts():
    rng = np.random.default_rng(3)
    n, s = 5000, 4
    service, tier = rng.integers(0, s, n).astype(np.int8), rng.integers(0, 3, n).astype(np.int8)
    users = np.sort(rng.choice(n, 3000, replace=False))
    free, paying = service_quality.held(users, service, tier, s)
    on_free = tier[users] == Tier.FREE
    np.testing.assert_array_equal(free, np.bincount(service[users][on_free], minlength=s))
    np.testing.assert_array_equal(paying, np.bincount(service[users][~on_free], minlength=s))


def test_podcast_hours_in_one_pass_match_the_free_users_bincounts():
    from sim.mechanics.podcasts import free_hours

    rng = np.random.default_rng(8)
    state, service, tier, user = _listeners(rng)
    users = np.flatnonzero(user).astype(np.int32)
    hours = rng.lognormal(3, 0.5, N).astype(np.float32)
    free = users[tier[users] == Tier.FREE]
    share = np.float32(0.3)
    podcast = hours[free] * share  # float32, as the kernel computes it
    for add in (False, True):
        got_hours = hours.copy()
        total, count = free_hours(users, state, tier, service, got_hours, share, add, 3)
        np.testing.assert_array_equal(total, np.bincount(service[free], weights=podcast, minlength=3))  # same order: exact
        np.testing.assert_array_equal(count, np.bincount(service[free], minlength=3))
        want = hours.copy()
        if add:
            want[free] += podcast
        np.testing.assert_array_equal(got_hours, want)
    assert (count > 0).all() and (total > 0).all()


def test_the_three_utility_evaluations_are_built_from_the_same_terms():
    """One definition of the utility's terms (``choice.listening_value`` ...): the numpy reference, the deciders'
    table and the users' own option each compute them through it, never by a formula of their own."""
    import ast
    import inspect

    from sim.mechanics import choice

    terms = {"listening_value", "felt_price", "real_price", "premium_value", "ecosystem_value", "ad_cost", "privacy_loss",
             "stay_value"}

    def called(fn) -> set[str]:
        source = inspect.getsource(getattr(fn, "py_func", fn))
        names = {n.func.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        return {name.lstrip("_") for name in names} & terms

    reference = called(choice.utility) | called(choice.price_in_real_terms) | called(choice.switching_cost)
    assert reference == terms
    prices = called(choice.weighted_prices)  # the plans' weighted prices, a table both kernels look up
    assert prices == {"felt_price", "real_price"}
    assert called(choice.utility_table) | prices == terms
    assert called(choice.held_utility) | prices == terms - {"stay_value"}  # a user's own option: no cost of leaving it
    # a listener's taste for a service: the kernels draw it where they need it, the reference over arrays (both taste_at)
    assert {"tastes"} <= {n.func.id for n in ast.walk(ast.parse(inspect.getsource(choice.utility)))
                          if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    for kernel in (choice.utility_table, choice.held_utility):
        assert "taste_at" in inspect.getsource(kernel.py_func)
