"""The listeners' social network: a homophilous small world, built vectorised as CSR arrays.

Watts & Strogatz (1998): every listener is tied to ``k`` neighbours on a ring and each
tie is rewired to a random listener with probability ``rewire``. The ring orders
listeners by segment, so ties start within the segment; a rewired tie stays within
the segment with probability ``homophily``. Ties are symmetric and unweighted.

The ring follows the listeners' index order within each segment (the population stores
listeners grouped by segment, in an order unrelated to their attributes), so most friends
sit a few places apart in memory: word of mouth reads them from cache, and ten million
listeners cost about ten times a million.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def small_world(segment: np.ndarray, mean_degree: int, rewire: float, homophily: float,
                rng: np.random.Generator) -> sp.csr_matrix:
    """Adjacency of the friendship network.

    Parameters
    ----------
    segment : ndarray of shape (n,), int
        Segment index of every listener.
    mean_degree : int
        Target mean number of friends (each listener starts ``mean_degree // 2`` ties).
    rewire, homophily : float in [0, 1]
        Rewiring probability and probability that a rewired tie stays in the segment.

    Returns
    -------
    csr_matrix of shape (n, n), dtype bool (1 byte per tie), int32 indices, symmetric,
    no self-ties.
    """
    n = segment.shape[0]
    k = max(int(mean_degree) // 2, 0)
    if n < 2 or k == 0:
        return sp.csr_matrix((n, n), dtype=bool)
    k = min(k, n - 1)
    # ring order: by segment, in index order within a segment
    order = np.argsort(segment, kind="stable")
    ring_src = np.repeat(np.arange(n, dtype=np.int64), k)
    ring_dst = (ring_src + np.tile(np.arange(1, k + 1, dtype=np.int64), n)) % n
    src = order[ring_src]
    dst = order[ring_dst]

    moved = rng.random(src.size) < rewire
    m = int(moved.sum())
    if m:
        seg_sorted = segment[order]
        starts = np.searchsorted(seg_sorted, np.arange(segment.max() + 1))
        counts = np.bincount(segment, minlength=segment.max() + 1)
        own = segment[src[moved]]
        within = rng.random(m) < homophily
        draw = rng.random(m)
        pos_within = starts[own] + np.minimum((draw * counts[own]).astype(np.int64), counts[own] - 1)
        pos_any = np.minimum((draw * n).astype(np.int64), n - 1)
        dst[moved] = order[np.where(within, pos_within, pos_any)]

    keep = src != dst
    src, dst = src[keep], dst[keep]
    rows = np.concatenate([src, dst]).astype(np.int32)
    cols = np.concatenate([dst, src]).astype(np.int32)
    adj = sp.csr_matrix((np.ones(rows.size, dtype=bool), (rows, cols)), shape=(n, n))  # a tie drawn twice is one tie
    adj.sum_duplicates()
    return adj

