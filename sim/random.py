"""Counter-based random numbers: a listener's draw is a function of (seed, stream, step, listener).

The model draws a uniform number only for the listeners who need one (the unaware for
awareness, the users for tickets, the deciders for their choice...), yet two scenarios run
with the same seed still give the same listener the same draw in the same situation
(common random numbers), and a draw never depends on which other listeners draw.

Keying. Each per-step stream (``"diffusion"``, ``"choice"``...) has a 64-bit key taken from
its own child of the replicate's ``SeedSequence`` (``generate_state(1, uint64)``). The key of
a stream at step ``t`` is ``k_t = mix(key ^ mix(GOLDEN * (t + 1)))`` and listener ``i``'s draw
is the SplitMix64 output ``mix(k_t + GOLDEN * (i + 1))``, its top 53 bits as a float64 in
[0, 1). ``mix`` is SplitMix64's finaliser (Stafford's variant 13), a bijection of 64-bit
words with full avalanche, so draws of different listeners, steps and streams are
independent for all practical purposes (tests/test_random.py checks uniformity and
independence with fixed tolerances).

Inside numba kernels, :func:`uniform_at` gives one listener's draw from a step key
(:meth:`StepDraws.key`), so a kernel draws only where it branches.

A listener's draw is keyed by their id, never by the slot that stores them
(``sim.agents.listeners``): slots move as listeners come to know the market, at different
times in two scenarios, and the draws must not follow.
"""

from __future__ import annotations

import numpy as np
from numba import njit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio, SplitMix64's increment
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2^-53


@njit(cache=True, inline="always")
def mix(z: np.uint64) -> np.uint64:
    """SplitMix64's finaliser: a bijective 64-bit hash with full avalanche."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def uniform_at(step_key: np.uint64, i) -> float:
    """Listener ``i``'s uniform draw in [0, 1) under ``step_key`` (a stream at a step)."""
    # via int64: a 53-bit integer converts exactly and much faster than from uint64
    return float(np.int64(mix(step_key + GOLDEN * (np.uint64(i) + np.uint64(1))) >> _S11)) * _TO_UNIT


@njit(cache=True)
def step_key(stream_key: np.uint64, step: np.int64) -> np.uint64:
    """The key of a stream at step ``step``."""
    return stream_key ^ mix(GOLDEN * (np.uint64(step) + np.uint64(1)))


@njit(cache=True)
def uniforms(key: np.uint64, idx: np.ndarray) -> np.ndarray:
    """Draws of listeners ``idx`` (m,) int under a step key, float64 (m,) in [0, 1)."""
    out = np.empty(idx.size, np.float64)
    for k in range(idx.size):
        out[k] = uniform_at(key, idx[k])
    return out


@njit(cache=True)
def uniforms_all(key: np.uint64, n: np.int64) -> np.ndarray:
    """Draws of listeners 0..n-1 under a step key, float64 (n,) in [0, 1)."""
    out = np.empty(n, np.float64)
    for i in range(n):
        out[i] = uniform_at(key, i)
    return out


@njit(cache=True)
def below_by(key: np.uint64, idx: np.ndarray, ident: np.ndarray, group: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """The slots of ``idx`` (m,) whose listener's draw (under their id ``ident[i]``) is below their group's
    probability ``prob[group[i]]`` (``group`` (n,) int >= 0, ``prob`` (G,)), a subset of ``idx`` in its order."""
    out = np.empty_like(idx)
    m = 0
    for k in range(idx.size):  # a compaction that always writes: who draws below is a coin flip
        i = idx[k]
        out[m] = i
        m += uniform_at(key, ident[np.uint64(i)]) < prob[np.uint64(group[np.uint64(i)])]  # unsigned: no wraparound tests
    return out[:m]


class CounterRandom:
    """The per-step random streams of one replicate.

    Parameters
    ----------
    streams : dict[str, numpy.random.SeedSequence]
        One child sequence per stream name; each gives the stream's 64-bit key.
    """

    def __init__(self, streams: dict[str, np.random.SeedSequence]):
        self.stream_keys = {name: np.uint64(seq.generate_state(1, np.uint64)[0]) for name, seq in streams.items()}

    def key(self, stream: str, step: int) -> np.uint64:
        """The key of ``stream`` at step ``step`` (for kernels that call :func:`uniform_at`)."""
        return np.uint64(step_key(self.stream_keys[stream], np.int64(step)))

    def uniform(self, stream: str, step: int, idx: np.ndarray) -> np.ndarray:
        """Draws of listeners ``idx`` (m,) of ``stream`` at step ``step``, float64 (m,) in [0, 1)."""
        return uniforms(self.key(stream, step), np.ascontiguousarray(idx, dtype=np.int64))

    def uniform_all(self, stream: str, step: int, n: int) -> np.ndarray:
        """Draws of every listener 0..n-1, float64 (n,) in [0, 1)."""
        return uniforms_all(self.key(stream, step), np.int64(n))

    def at(self, step: int, ident: np.ndarray) -> "StepDraws":
        """The streams at one step, for the mechanisms' ``step`` functions; ``ident`` (n,) int the id of
        the listener in each slot (``ListenerPopulation.ident``)."""
        return StepDraws(self, step, ident)


class StepDraws:
    """The random streams of one replicate at one step: ``uniform(stream, idx)`` and ``key(stream)``.

    ``idx`` are slots; each listener draws under their id (``ident[idx]``).
    """

    def __init__(self, random: CounterRandom, step: int, ident: np.ndarray):
        self.random, self.step, self.ident = random, step, ident

    def key(self, stream: str) -> np.uint64:
        """The stream's key at this step, for :func:`uniform_at` inside a kernel."""
        return self.random.key(stream, self.step)

    def uniform(self, stream: str, idx: np.ndarray) -> np.ndarray:
        """Draws of the listeners in slots ``idx`` (m,), float64 (m,) in [0, 1)."""
        return self.random.uniform(stream, self.step, self.ident[idx])

    def below(self, stream: str, idx: np.ndarray, prob) -> np.ndarray:
        """The slots of ``idx`` whose listener's draw is below ``prob`` (scalar or (m,)), a subset of ``idx``."""
        return idx[self.uniform(stream, idx) < prob]

    def below_by(self, stream: str, idx: np.ndarray, group: np.ndarray, prob: np.ndarray) -> np.ndarray:
        """:meth:`below` with each listener's probability that of their group, ``prob[group[i]]`` (``group`` (n,),
        ``prob`` (G,)): one pass, without the temporaries of the (m,) probabilities."""
        return below_by(self.key(stream), idx, self.ident, group, np.asarray(prob, np.float64))
