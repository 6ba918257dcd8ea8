"""Counter-based random numbers (sim/random.py): uniform, independent, and a listener's draw its own."""

from __future__ import annotations

import numpy as np
from scipy import stats

from sim.random import CounterRandom, uniform_at, uniforms

N = 200_000
# |correlation| of two independent uniform samples of N has sd 1/sqrt(N); 5 sd is a fixed tolerance
CORR_TOL = 5 / np.sqrt(N)


def _random() -> CounterRandom:
    seq = np.random.SeedSequence(2024)
    return CounterRandom(dict(zip(("a", "b"), seq.spawn(2))))


def test_draws_are_uniform():
    x = _random().uniform_all("a", 0, N)
    assert x.min() >= 0.0 and x.max() < 1.0
    assert stats.kstest(x, "uniform").pvalue > 1e-3
    counts = np.bincount((x * 100).astype(int), minlength=100)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_streams_steps_and_listeners_are_independent():
    r = _random()
    a0 = r.uniform_all("a", 0, N)
    pairs = {"streams": r.uniform_all("b", 0, N), "steps": r.uniform_all("a", 1, N), "neighbours": np.roll(a0, 1)}
    for what, other in pairs.items():
        assert abs(np.corrcoef(a0, other)[0, 1]) < CORR_TOL, what
        # joint uniformity on a 10 x 10 grid, not only no linear correlation
        grid = np.bincount((a0 * 10).astype(int) * 10 + (other * 10).astype(int), minlength=100)
        assert stats.chisquare(grid).pvalue > 1e-3, what


def test_a_listeners_draw_does_not_depend_on_who_else_draws():
    r = _random()
    everyone = r.uniform_all("a", 5, 1000)
    some = np.array([999, 3, 500, 3, 0])
    np.testing.assert_array_equal(r.uniform("a", 5, some), everyone[some])
    key = r.key("a", 5)
    assert uniform_at(key, 500) == everyone[500]
    np.testing.assert_array_equal(uniforms(key, np.arange(1000)), everyone)


def test_same_seed_same_draws_other_seed_other_draws():
    again = CounterRandom(dict(zip(("a", "b"), np.random.SeedSequence(2024).spawn(2))))
    other = CounterRandom(dict(zip(("a", "b"), np.random.SeedSequence(2025).spawn(2))))
    np.testing.assert_array_equal(_random().uniform_all("a", 3, 100), again.uniform_all("a", 3, 100))
    assert not np.array_equal(_random().uniform_all("a", 3, 100), other.uniform_all("a", 3, 100))


def test_step_draws_key_slots_by_id_and_below_by_group_matches_the_masks():
    r = _random()
    rng = np.random.default_rng(6)
    n = 5000
    ident = rng.permutation(n).astype(np.int32)  # the id of the listener in each slot
    step = r.at(7, ident)
    slots = np.sort(rng.choice(n, 1200, replace=False)).astype(np.int32)
    by_id = r.uniform_all("a", 7, n)
    np.testing.assert_array_equal(step.uniform("a", slots), by_id[ident[slots]])  # a listener draws under their id
    group, prob = rng.integers(0, 4, n).astype(np.int8), np.array([0.0, 0.2, 0.7, 1.0])
    got = step.below_by("a", slots, group, prob)
    np.testing.assert_array_equal(got, slots[by_id[ident[slots]] < prob[group[slots]]])
    np.testing.assert_array_equal(got, step.below("a", slots, prob[group[slots]]))
    assert got.dtype == slots.dtype and 0 < got.size < slots.size
