"""The evidence-grounded responses of ``docs/validation.md`` section 3: a lever pulled at the baseline, against the
same scenario unchanged on the same seeds (common random numbers).

Each response's set-up and measure is defined here, once. The response tests (``tests/test_responses.py``,
``tests/test_switching_entry.py``, ``tests/test_plans.py``) judge them against their bounds;
``tools/response_figures.py``, ``tools/switching_figures.py`` and ``tools/validate.py`` (``make validate``) print and
write the same figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.agents.listeners import State, Tier
from sim.analysis.validation import ROOT, focal_run
from sim.clock import Clock
from sim.model import MarketModel
from sim.runner import replicate_seeds, simulate
from sim.scenario import apply_overrides, load_scenario, validate_scenario

BASELINE = ROOT / "scenarios" / "baseline.yaml"
SEEDS = (0, 1, 2)  # each response is measured per seed, paired with the same seed unchanged
LEVER_AT, LEVER_MONTHS = "2019-01", 24  # a lever pulled from 2019-01, measured over the 24 months to 2020-12
INDIVIDUAL_PLUS_10 = {"services.focal.plans.individual.price": 10.99}  # +10% on the individual plan


def sem(x: np.ndarray) -> float:
    """Standard error of the mean of per-seed values ``x`` (k,): a response's tolerance is a multiple of it."""
    return float(x.std(ddof=1) / np.sqrt(len(x)))


def run(scenario, seed, until: int | None = None) -> MarketModel:
    """A model of ``scenario`` and ``seed`` run to step ``until`` (default: its horizon)."""
    model = MarketModel(scenario, seed)
    while model.running and (until is None or model.t < until):
        model.step()
    return model


def with_events(scenario, *events: dict):
    """``scenario`` with timeline ``events`` (dicts as in a scenario file) added after its own."""
    return apply_overrides(scenario, {"timeline": [*scenario.model_dump()["timeline"], *events]})


def lever_start(scenario) -> int:
    """The step of :data:`LEVER_AT` in ``scenario``."""
    return Clock.of(scenario).step_of_month(LEVER_AT)


# ---------------------------------------------------------------- ads: Pandora and the ad market


def focal_free(pop) -> np.ndarray:
    """Whether each listener uses the focal service's free tier, bool (n,)."""
    return (pop.state == State.USER) & (pop.service == 0) & (pop.tier == Tier.FREE)


def cohort_hours_and_ad_revenue(scenario, seed, start: int) -> tuple[float, float]:
    """Hours at the horizon of the focal free users of step ``start`` still on the free tier (intent to treat;
    leavers count as 0), and the focal ad revenue over :data:`LEVER_MONTHS` from ``start`` (EUR)."""
    model = run(scenario, seed, until=start)
    pop = model.population
    cohort = pop.ident[focal_free(pop)]  # by id: listeners change slots as others become aware
    while model.running:
        model.step()
    hours = float(pop.hours[focal_free(pop) & np.isin(pop.ident, cohort)].sum())
    return hours, float(model.records["revenue_ads_eur"][start:start + LEVER_MONTHS, 0].sum())


def one_more_ad_minute(base) -> np.ndarray:
    """Per seed: the cohort's hours per extra ad per hour (relative), and the focal ad revenue over the 24 months
    (relative), +1 ad-minute per hour from 2019-01 against the same scenario unchanged, float (seeds, 2)."""
    more = with_events(base, {"at": LEVER_AT, "set": {"services.focal.ad_load": base.services.focal.ad_load + 1}})
    start = lever_start(base)
    out = []
    for s in SEEDS:
        (h0, r0), (h1, r1) = cohort_hours_and_ad_revenue(base, s, start), cohort_hours_and_ad_revenue(more, s, start)
        out.append(((h1 / h0 - 1) / base.mechanisms.ads.impressions_per_ad_minute, r1 / r0 - 1))
    return np.array(out)


# ---------------------------------------------------------------- price rises


def price_response(base, rise: dict, at: str = LEVER_AT, months: int = LEVER_MONTHS) -> np.ndarray:
    """Per seed (paired: the same seed with and without the rise): relative premium subscribers after ``months``,
    relative subscription revenue over them, and the rise month's churn over the prior six months' mean (with
    the rise), float (seeds, 3)."""
    up = with_events(base, {"at": at, "set": rise})
    start = lever_start(base)
    out = []
    for s in SEEDS:
        a, b = run(base, s).records, run(up, s).records
        span = slice(start, start + months)
        prem = b["premium_subscribers"][start + months - 1, 0] / a["premium_subscribers"][start + months - 1, 0] - 1
        rev = b["revenue_subscription_eur"][span, 0].sum() / a["revenue_subscription_eur"][span, 0].sum() - 1
        churn = b["churn_premium_monthly"][:, 0]
        out.append((prem, rev, churn[start] / churn[start - 6:start].mean()))
    return np.array(out)


# ---------------------------------------------------------------- support


def yearly_median_response(records) -> np.ndarray:
    """The focal service's median monthly response time of each calendar year (hours), shape (years,)."""
    hours = records["support_response_hours"][:, 0]
    return np.array([np.median(hours[k:k + 12]) for k in range(0, hours.size, 12)])


def staff_cut(base, share: float):
    """The focal service's support staff (the core and the rule) at ``share`` of the baseline's from 2019-01."""
    focal = base.services.focal
    return with_events(base, {"at": LEVER_AT, "set": {"services.focal.support_staff": int(focal.support_staff * share),
                                                      "services.focal.support_per_1000": focal.support_per_1000 * share}})


# ---------------------------------------------------------------- plans


def plan_shares(scenario) -> np.ndarray:
    """Per seed, the duo and family shares (0..1) of the focal premium subscribers at the horizon, float (seeds, 2)."""
    out = []
    for s in SEEDS:
        r = run(scenario, s).records
        out.append([r["premium_duo"][-1, 0] / r["premium_subscribers"][-1, 0],
                    r["premium_family"][-1, 0] / r["premium_subscribers"][-1, 0]])
    return np.array(out)


# ---------------------------------------------------------------- where churners go, how an entrant grows
# One replicate of 60,000 listeners (about 1,000-2,000 focal premium listeners in 2016-2019) with a fixed seed;
# each response is compared with the same run with a mechanism switched off (common random numbers).

ENTRY_AGENTS = 60_000
ENTRY_SEED = replicate_seeds(42, 1)[0]


def entry_baseline(months: int, **overrides):
    """The baseline at :data:`ENTRY_AGENTS` listeners, one replicate, ``months`` from its start, with ``overrides``."""
    return apply_overrides(load_scenario(BASELINE), {"market.agents": ENTRY_AGENTS, "time.months": months, "replicates": 1,
                                                     **overrides})


def entry_run(scenario) -> pd.DataFrame:
    """The timeseries of ``scenario`` on :data:`ENTRY_SEED`."""
    return simulate(scenario, ENTRY_SEED).timeseries


def with_entrant(scenario, at: str):
    """``scenario`` with a what-if entrant like the focal service (free tier, same content and prices) at ``at``."""
    data = scenario.model_dump(mode="json", exclude_none=True)
    data["timeline"].append({"at": at, "enter": {
        "name": "Newcomer", "free_tier": True, "ad_load": 2.5, "content_value": scenario.services.focal.content_value,
        "personalization": 0.6, "plans": {"individual": {"price": 9.99}, "family": {"price": 14.99, "seats": 6}},
        "trial_months": 1, "marketing_budget": 1.8e7, "support_staff": 600}})
    return validate_scenario(data, "what-if entrant")


def first_month_change(**sets) -> float:
    """Relative change of the focal premium count (with trials) in a what-if entrant's first month, 2019-01."""
    plain = entry_baseline(49, **sets)  # to 2019-01
    moved, before = focal_run(entry_run(with_entrant(plain, "2019-01"))).iloc[-1], focal_run(entry_run(plain)).iloc[-1]
    return float((moved.premium_subscribers + moved.trial_users) / (before.premium_subscribers + before.trial_users) - 1)
