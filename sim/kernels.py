"""The numba kernels of the model (their warm-up, which runs the model, is ``sim.runner.compile_kernels``).

Kernels live with their mechanism (``@njit(cache=True)``): the counter-based draws
(``sim.random``), word of mouth (``diffusion.update_word_of_mouth``,
``diffusion.aware_on_network``), payments and who decides (``subscriptions._deciders``,
``subscriptions._move``), the utilities and the logit choice (``choice.utility_table``,
``choice.held_utility``, ``choice.logit_rows``), listening hours (``listening._hours_kernel``), the ad audience
(``ads._gather``), the support head count (``service_quality.held``), satisfaction and the ladder
(``loyalty._loyalty_kernel``), sharing and data depth (``personalization.sharers``, ``personalization.grow_depth``), the market's reach and availability (``market.admit``,
``market.update_availability``), who knows the market and where they are stored
(``listeners._merge``, ``listeners._front``, ``listeners._trade``), the podcast hours
(``podcasts.free_hours``) and the KPI tally (``metrics.tally``, the users by region too). Each compiles on its first call and is cached on disk in the
package's ``__pycache__`` (where that is read-only, in the user's cache or a private temporary folder:
``sim.numba_cache_dir``), so later processes load it in milliseconds; the cache is kept per version of the
modules kernels compile from (``sim.kernel_fingerprint``), since a kernel inlines helpers of other modules.

:func:`prefetch` lets a kernel that visits scattered listeners (the deciders, a few
percent of the market; the free users; the listeners whose word of mouth changed, and their friends) ask
for a later listener's fields while it computes the current one's: the processor's own
prefetcher follows only regular strides.
"""

from __future__ import annotations

import os

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


AHEAD = 8  # listeners ahead whose fields a kernel asks for (:func:`prefetch`): far enough to hide a miss, near enough to stay cached


def prefetch_enabled() -> bool:
    """Whether :func:`prefetch` emits its hint: not with ``FREEMIUM_SIM_PREFETCH=0`` in the environment
    (read when a kernel compiles; a cached kernel keeps what it was compiled with)."""
    return os.environ.get("FREEMIUM_SIM_PREFETCH", "1") != "0"


def _emit_prefetch(context, builder, signature, args) -> None:
    """The ``llvm.prefetch`` calls of :func:`prefetch`; built on numba's internals (``cgutils``,
    ``make_array``), which a numba release may change."""
    byte, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
    fn = builder.module.declare_intrinsic("llvm.prefetch", fnty=ir.FunctionType(ir.VoidType(), (byte, i32, i32, i32)))
    row = context.cast(builder, args[0], signature.args[0], types.intp)
    for aryty, value in zip(signature.args[1], cgutils.unpack_tuple(builder, args[1])):  # the arrays come as one tuple
        arr = context.make_array(aryty)(context, builder, value)
        offset = builder.mul(row, builder.extract_value(arr.shape, 1)) if aryty.ndim == 2 else row
        # read (0), keep in every cache level (3), data cache (1)
        builder.call(fn, (builder.bitcast(builder.gep(arr.data, [offset]), byte), ir.Constant(i32, 0),
                          ir.Constant(i32, 3), ir.Constant(i32, 1)))


@intrinsic
def prefetch(typingctx, index, *arrays):
    """Inside a kernel: start loading, for a read, the cache line of element ``index`` of each array
    (1-d, or row ``index`` of a C-contiguous 2-d array), without waiting for it. Changes no value:
    ``llvm.prefetch`` is only a hint, so where it does not compile (another numba) or is switched
    off (:func:`prefetch_enabled`) the call compiles to nothing."""
    if not isinstance(index, types.Integer) or not all(isinstance(a, types.Array) and a.ndim <= 2 for a in arrays):
        return None

    def codegen(context, builder, signature, args):
        if prefetch_enabled():
            try:
                _emit_prefetch(context, builder, signature, args)
            except Exception:  # noqa: BLE001 -- any failure of numba's internals leaves a hint out, never a kernel
                pass
        return context.get_dummy_value()

    star = getattr(types, "StarArgTuple", types.Tuple)
    return types.void(index, star(arrays)), codegen


@njit(cache=True, inline="always")
def prefetch_ties(rows, k, end, indptr, indices, by_friend) -> None:
    """Inside a kernel that walks the ties of ``rows[k]``, ``k < end`` (ids of a network in CSR ``indptr``,
    ``indices``), and reads ``by_friend`` (an array over the friends' ids) at each: ask for what a later row's
    ties will read, each level of the chain (row offsets, ties, ``by_friend``) further ahead than the one
    that needs it. Changes no value (:func:`prefetch`)."""
    if k + 2 * AHEAD < end:
        prefetch(rows[k + 2 * AHEAD], indptr)
    if k + AHEAD < end:
        prefetch(indptr[rows[k + AHEAD]], indices)
    if k + AHEAD // 2 < end:
        ahead = rows[k + AHEAD // 2]
        for e in range(indptr[ahead], indptr[ahead + 1]):
            prefetch(indices[e], by_friend)
