"""The model's figure for each evidence-grounded response of docs/validation.md (the tests' set-ups).

The one place that runs the price, ads and support responses: :func:`measure` runs them with the
set-ups and measures of ``sim.analysis.responses``, which ``tests/test_responses.py`` judges; :func:`write`
writes ``docs/numbers/responses.json`` (the details docs/validation.md quotes, ``sim.docnumbers``) from them.
``tools/validate.py``'s ``responses`` part calls both and builds its table of targets from the same arrays, so
``make validate`` runs each response once. Run alone, it also prints the price response under the two
mutations of its tests, then puts the figures into the docs. About a minute on 2 idle cores.

    python -m tools.response_figures            # the baseline at 40,000 listeners, 3 seeds
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim import docnumbers
from sim.analysis import responses as t
from sim.scenario import apply_overrides, load_scenario

BASELINE = t.BASELINE
LISTENERS = 40000


@dataclass(frozen=True)
class Responses:
    """The responses per seed of :data:`sim.analysis.responses.SEEDS` (rows), each against the same seed unchanged."""

    price: np.ndarray  # (seeds, 3): +10% individual price from 2019-01: premium after 24 months and subscription
    #                    revenue over them (relative), that month's churn / the prior six months' mean
    ads: np.ndarray  # (seeds, 2): +1 ad-minute/hour from 2019-01: cohort hours per extra ad/hour, ad revenue (relative)
    ads_off: np.ndarray  # (seeds, 2): the same with fixed ad spend and budgets (the ads test's mutation)
    medians: np.ndarray  # (seeds, years): the baseline's yearly median response time over its horizon, hours
    cut_before: np.ndarray  # (seeds, years from 2019): yearly median response time without the staff cut, hours
    cut_after: np.ndarray  # (seeds, years from 2019): the same with staff -40% in 2019-2020, hours
    cut_churn: np.ndarray  # (seeds,): premium churn with the cut minus without, 2019-2020 mean, fraction a month


def scenarios():
    """The baseline at :data:`LISTENERS` over its horizon, and the same to 2020-12 (the levers' set-up)."""
    base = apply_overrides(load_scenario(BASELINE), {"market.agents": LISTENERS})
    return base, apply_overrides(base, {"time.months": 72})


def measure() -> Responses:
    """Run every response once (the tests' helpers, their seeds)."""
    base, short = scenarios()
    fixed_spend = apply_overrides(short, {"mechanisms.ads.price_elasticity": 1.0, "mechanisms.ads.audience_elasticity": 0.0})
    cut, start = t.staff_cut(short, 0.6), t.lever_start(short)
    span = slice(start, start + t.LEVER_MONTHS)
    runs = [(t.run(short, s).records, t.run(cut, s).records) for s in t.SEEDS]
    return Responses(
        price=t.price_response(short, t.INDIVIDUAL_PLUS_10),
        ads=t.one_more_ad_minute(short), ads_off=t.one_more_ad_minute(fixed_spend),
        medians=np.array([t.yearly_median_response(t.run(base, s).records) for s in t.SEEDS]),
        cut_before=np.array([t.yearly_median_response(a)[start // 12:] for a, _ in runs]),
        cut_after=np.array([t.yearly_median_response(b)[start // 12:] for _, b in runs]),
        cut_churn=np.array([b["churn_premium_monthly"][span, 0].mean() - a["churn_premium_monthly"][span, 0].mean()
                            for a, b in runs]))


def _percents(x: np.ndarray, digits: int) -> str:
    """``[0.0174, -0.0116]`` -> ``'+1.74%, -1.16%'``."""
    return ", ".join(f"{round(100 * v, digits) + 0.0:+.{digits}f}%" for v in x)  # + 0.0: no "-0.0%"


def numbers(r: Responses) -> dict[str, str]:
    """The texts docs/validation.md quotes from ``docs/numbers/responses.json`` (key -> text)."""
    worst = r.medians.max(axis=0)  # per year, the worst seed
    return {"ad_hours_per_ad": _percents(r.ads[:, 0], 2), "ad_revenue": _percents(r.ads[:, 1], 1),
            "ad_revenue_without_mechanism": _percents(r.ads_off[:, 1], 1),
            "response_by_year": ", ".join(f"{h:.1f}" for h in worst),
            "cut_response": f"{r.cut_after.min():.1f}-{r.cut_after.max():.1f} h",
            "cut_response_before": f"{r.cut_before.min():.1f}-{r.cut_before.max():.1f} h",
            "cut_churn": ", ".join(f"{100 * c:+.2f}" for c in r.cut_churn)}


def write(r: Responses) -> Path:
    """Write ``docs/numbers/responses.json`` from ``r``; its path."""
    return docnumbers.write("responses", "python -m tools.response_figures", numbers(r), inputs=[BASELINE])


def _print_price(label: str, r: np.ndarray) -> None:
    print(f"{label}premium subscribers after 24 months {np.round(100 * r[:, 0], 1)} %, subscription revenue over 24 "
          f"months {np.round(100 * r[:, 1], 1)} %, churn that month / prior 6 months {np.round(r[:, 2], 2)}")


def main() -> None:
    r = measure()
    _, short = scenarios()
    _print_price("+10% individual price (2019-01), per seed: ", r.price)
    for label, sets in (("a EUR of price weighing a EUR everywhere (income_elasticity 0)", {"choice.income_elasticity": 0.0}),
                        ("one flat logit (plan_nest 1)", {"choice.plan_nest": 1.0})):
        _print_price(f"  the same with {label}: ", t.price_response(apply_overrides(short, sets), t.INDIVIDUAL_PLUS_10))
    n = numbers(r)
    print(f"+1 ad-minute/hour (2 ads) from 2019-01: hours of the 2019-01 focal free users at 2020-12 per extra ad/hour "
          f"{n['ad_hours_per_ad']}; focal ad revenue 2019-2020 {n['ad_revenue']}; without elastic demand "
          f"and audience-led budgets {n['ad_revenue_without_mechanism']}")
    print(f"median response time by year 2015-{2014 + r.medians.shape[1]} (hours), worst seed: {n['response_by_year']}")
    print(f"staff -40% 2019-2020: median response in 2019 and 2020 {n['cut_response']} (without the cut "
          f"{n['cut_response_before']}); premium churn {n['cut_churn']} points a month")
    write(r)
    docnumbers.refresh_documents()


if __name__ == "__main__":
    main()
