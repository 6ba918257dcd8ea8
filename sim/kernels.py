"""The numba kernels of the model, and their warm-up.

Kernels live with their mechanism (``@njit(cache=True)``): the counter-based draws
(``sim.random``), word of mouth (``diffusion.update_word_of_mouth``,
``diffusion.aware_on_network``), payments and who decides (``subscriptions._deciders``,
``subscriptions._move``), the utilities and the logit choice (``choice.utility_table``,
``choice.logit_rows``), listening hours (``listening._hours_kernel``), the ad audience
(``ads._gather``), satisfaction and the ladder (``loyalty._loyalty_kernel``), data depth
(``personalization.grow_depth``), the market's reach and availability (``market.admit``,
``market.update_availability``), who knows the market (``listeners._merge``) and the KPI
tally (``metrics.tally``). Each compiles on its first call and is cached on disk next to
its module, so later processes load it in milliseconds.
"""

from __future__ import annotations

from pathlib import Path

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


def compile_all() -> None:
    """Compile (or load from the cache) every kernel by running a tiny model for two steps."""
    from sim.model import MarketModel
    from sim.scenario import apply_overrides, load_scenario

    scenario = apply_overrides(load_scenario(BASELINE), {"market.agents": 500, "time.months": 2})
    model = MarketModel(scenario, seed=0)
    while model.running:
        model.step()
