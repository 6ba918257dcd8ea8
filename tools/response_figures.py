"""Print the model's figure for each evidence-grounded response of docs/validation.md (the tests' set-ups).

    python -m tools.response_figures            # the baseline at 40,000 listeners, 3 seeds
"""

from __future__ import annotations

import numpy as np

from tests import test_responses as t


def main() -> None:
    base = t.apply_overrides(t.load_scenario(t.ROOT / "scenarios" / "baseline.yaml"), {"market.agents": 40000})
    short = t.apply_overrides(base, {"time.months": 72})
    for label, scenario in (("", short), ("  the same with a EUR of price weighing a EUR everywhere (income_elasticity 0): ",
                                          t.apply_overrides(short, {"choice.income_elasticity": 0.0})),
                            ("  the same with one flat logit (plan_nest 1): ", t.apply_overrides(short, {"choice.plan_nest": 1.0}))):
        r = t._price_response(scenario, t.INDIVIDUAL_PLUS_10)
        print(f"{label or '+10% individual price (2019-01), per seed: '}premium subscribers after 24 months "
              f"{np.round(100 * r[:, 0], 1)} %, subscription revenue over 24 months {np.round(100 * r[:, 1], 1)} %, "
              f"churn that month / prior 6 months {np.round(r[:, 2], 2)}")
    ads = t._one_more_ad_minute(short)
    print(f"+1 ad-minute/hour (2 ads) from 2019-01: hours of the 2019-01 focal free users at 2020-12 per extra ad/hour "
          f"{np.round(100 * ads[:, 0], 2)} %, focal ad revenue 2019-2020 {np.round(100 * ads[:, 1], 1)} %")
    off = t.apply_overrides(short, {"mechanisms.ads.price_elasticity": 1.0, "mechanisms.ads.audience_elasticity": 0.0})
    print(f"  the same without elastic demand and audience-led budgets: ad revenue {np.round(100 * t._one_more_ad_minute(off)[:, 1], 1)} %")
    medians = np.array([t._yearly_median_response(t._run(base, s).records) for s in t.SEEDS])
    print(f"median response time by year 2015-{2014 + medians.shape[1]} (hours), worst seed: {np.round(medians.max(axis=0), 1)}")
    cut, start = t._staff_cut(short, 0.6), t._lever_start(short)
    span = slice(start, start + t.LEVER_MONTHS)
    for s in t.SEEDS:
        a, b = t._run(short, s).records, t._run(cut, s).records
        churn = 100 * (b["churn_premium_monthly"][span, 0].mean() - a["churn_premium_monthly"][span, 0].mean())
        print(f"staff -40% 2019-2020, seed {s}: median response 2019, 2020 {np.round(t._yearly_median_response(b)[start // 12:], 1)} h "
              f"(baseline {np.round(t._yearly_median_response(a)[start // 12:], 1)} h), premium churn {churn:+.2f} points a month")

if __name__ == "__main__":
    main()
