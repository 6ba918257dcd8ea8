"""The numba kernels against small straightforward numpy computations of the same quantities."""

from __future__ import annotations

import numpy as np

from sim.agents.listeners import State, Tier
from sim.agents.network import small_world
from sim.mechanics import diffusion
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
    friends = small_world(rng.integers(0, 3, N), 10, 0.2, 0.5, rng)
    state = rng.choice(np.array([State.UNAWARE, State.AWARE, State.USER], np.int8), N)
    advocate = (state == State.USER) & (rng.random(N) < 0.3)
    sharing = (state == State.USER) & (rng.random(N) < 0.2)
    cfg = type("Cfg", (), {"enabled": True, "q": 0.4, "advocate_weight": 2.5})
    key = _random().key("diffusion", 3)
    got = diffusion.step(state, advocate, sharing, friends, False, 0.01, cfg, 1.5, key, 1.0)
    influence = (state == State.USER) + advocate * 1.5 + sharing * 1.5
    prob = diffusion.awareness_probability(0.01, 0.4, diffusion.exposure(influence, friends.astype(np.float32), np.diff(friends.indptr), False), 1.0,
                                           False)
    draws = _random().uniform_all("diffusion", 3, N)
    assert not got[state != State.UNAWARE].any()
    unaware = state == State.UNAWARE
    _agree_off_the_boundary(got[unaware], draws[unaware], prob[unaware])
    assert 0 < got.sum() < unaware.sum()


def test_awareness_fully_mixed_follows_the_bass_path():
    rng = np.random.default_rng(1)
    state = rng.choice(np.array([State.UNAWARE, State.USER], np.int8), N, p=[0.7, 0.3])
    none = np.zeros(N, bool)
    cfg = type("Cfg", (), {"enabled": True, "q": 0.4, "advocate_weight": 2.0})
    key = _random().key("diffusion", 0)
    got = diffusion.step(state, none, none, None, True, 0.01, cfg, 0.0, key, 1.0)
    share = float((state == State.USER).mean())
    prob = (diffusion.bass_advance(share, 0.01, 0.4, 1.0) - share) / (1 - share)
    draws = _random().uniform_all("diffusion", 0, N)
    _agree_off_the_boundary(got, draws, np.where(state == State.UNAWARE, prob, -1.0))


def test_one_pass_tally_matches_masked_counts():
    from sim.metrics import (CONVERTED, DOWN, ENDED, FREE, GROSS_ADDS, HOURS_PAID, LAPSE, PLAN_0, PREMIUM, STAGE_1,
                             TO_COMPETITOR, USERS_LEFT, VOLUNTARY, tally)

    rng = np.random.default_rng(2)
    s, plans, steps = 3, 4, 10
    state = rng.integers(0, 4, N).astype(np.int8)
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
    failed = (before_tier == Tier.PREMIUM) & ~user & (rng.random(N) < 0.3)
    ended = (before_tier == Tier.TRIAL) & (rng.random(N) < 0.5)
    table, states, cohorts = tally(state, service, tier, plan, hours, satisfaction, stage, spell, before_service, before_tier,
                                   failed, ended, s, plans, steps)

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
    }
    for column, want in expected.items():
        np.testing.assert_array_equal(table[:, column], want.astype(float), err_msg=str(column))
    np.testing.assert_array_equal(states, np.bincount(state, minlength=4))
    focal_free = user & (service == 0) & (tier == Tier.FREE) & (spell >= 0)
    np.testing.assert_array_equal(cohorts[1], np.bincount(spell[focal_free], minlength=steps + 1))
