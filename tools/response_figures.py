"""The model's figure for each evidence-grounded response of docs/validation.md (the tests' set-ups).

Prints them and writes ``docs/numbers/responses.json``, which docs/validation.md quotes
(``sim.docnumbers``), then puts them into the docs. About a minute on 2 idle cores.

    python -m tools.response_figures            # the baseline at 40,000 listeners, 3 seeds
"""

from __future__ import annotations

import numpy as np

from sim import docnumbers
from tests import test_responses as t


def _percents(x: np.ndarray, digits: int) -> str:
    """``[0.0174, -0.0116]`` -> ``'+1.74%, -1.16%'``."""
    return ", ".join(f"{round(100 * v, digits) + 0.0:+.{digits}f}%" for v in x)  # + 0.0: no "-0.0%"


def main() -> None:
    path = t.ROOT / "scenarios" / "baseline.yaml"
    base = t.apply_overrides(t.load_scenario(path), {"market.agents": 40000})
    short = t.apply_overrides(base, {"time.months": 72})
    numbers = {}
    for label, scenario in (("", short), ("  the same with a EUR of price weighing a EUR everywhere (income_elasticity 0): ",
                                          t.apply_overrides(short, {"choice.income_elasticity": 0.0})),
                            ("  the same with one flat logit (plan_nest 1): ", t.apply_overrides(short, {"choice.plan_nest": 1.0}))):
        r = t._price_response(scenario, t.INDIVIDUAL_PLUS_10)
        print(f"{label or '+10% individual price (2019-01), per seed: '}premium subscribers after 24 months "
              f"{np.round(100 * r[:, 0], 1)} %, subscription revenue over 24 months {np.round(100 * r[:, 1], 1)} %, "
              f"churn that month / prior 6 months {np.round(r[:, 2], 2)}")
    ads = t._one_more_ad_minute(short)
    off = t.apply_overrides(short, {"mechanisms.ads.price_elasticity": 1.0, "mechanisms.ads.audience_elasticity": 0.0})
    ads_off = t._one_more_ad_minute(off)
    numbers.update(ad_hours_per_ad=_percents(ads[:, 0], 2), ad_revenue=_percents(ads[:, 1], 1),
                   ad_revenue_without_mechanism=_percents(ads_off[:, 1], 1))
    print(f"+1 ad-minute/hour (2 ads) from 2019-01: hours of the 2019-01 focal free users at 2020-12 per extra ad/hour "
          f"{numbers['ad_hours_per_ad']}; focal ad revenue 2019-2020 {numbers['ad_revenue']}; without elastic demand "
          f"and audience-led budgets {numbers['ad_revenue_without_mechanism']}")
    medians = np.array([t._yearly_median_response(t._run(base, s).records) for s in t.SEEDS]).max(axis=0)
    numbers["response_by_year"] = ", ".join(f"{h:.1f}" for h in medians)
    print(f"median response time by year 2015-{2014 + medians.size} (hours), worst seed: {numbers['response_by_year']}")
    cut, start = t._staff_cut(short, 0.6), t._lever_start(short)
    span = slice(start, start + t.LEVER_MONTHS)
    runs = [(t._run(short, s).records, t._run(cut, s).records) for s in t.SEEDS]
    before = np.array([t._yearly_median_response(a)[start // 12:] for a, _ in runs])
    after = np.array([t._yearly_median_response(b)[start // 12:] for _, b in runs])
    churn = np.array([b["churn_premium_monthly"][span, 0].mean() - a["churn_premium_monthly"][span, 0].mean() for a, b in runs])
    numbers.update(cut_response=f"{after.min():.1f}-{after.max():.1f} h", cut_response_before=f"{before.min():.1f}-{before.max():.1f} h",
                   cut_churn=", ".join(f"{100 * c:+.2f}" for c in churn))
    print(f"staff -40% 2019-2020: median response in 2019 and 2020 {numbers['cut_response']} (without the cut "
          f"{numbers['cut_response_before']}); premium churn {numbers['cut_churn']} points a month")
    docnumbers.write("responses", "python -m tools.response_figures", numbers, inputs=[path])
    docnumbers.refresh_documents()


if __name__ == "__main__":
    main()
