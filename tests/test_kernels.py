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
    got = diffusion.step(state, advocate, sharing, friends, np.diff(friends.indptr).astype(np.float32), False,
                         0.01, cfg, 1.5, key, 1.0)
    influence = (state == State.USER) + advocate * 1.5 + sharing * 1.5
    prob = diffusion.awareness_probability(0.01, 0.4, diffusion.exposure(influence, friends, np.diff(friends.indptr), False), 1.0,
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
    got = diffusion.step(state, none, none, None, None, True, 0.01, cfg, 0.0, key, 1.0)
    share = float((state == State.USER).mean())
    prob = (diffusion.bass_advance(share, 0.01, 0.4, 1.0) - share) / (1 - share)
    draws = _random().uniform_all("diffusion", 0, N)
    _agree_off_the_boundary(got, draws, np.where(state == State.UNAWARE, prob, -1.0))
