"""Print the model's figure for each evidence-grounded response of docs/validation.md (the tests' set-ups).

    python tools/response_figures.py            # the baseline at 40,000 listeners, 3 seeds
"""

from __future__ import annotations

import numpy as np

from tests import test_responses as t


def main() -> None:
    base = t.apply_overrides(t.load_scenario(t.ROOT / "scenarios" / "baseline.yaml"), {"market.agents": 40000})
    short = t.apply_overrides(base, {"time.months": 72})
    r = t._price_response(short, {"services.focal.plans.individual.price": 10.99}, "2019-01")
    print(f"+10% individual price (2019-01), per seed: premium subscribers after 24 months {np.round(100 * r[:, 0], 1)} %, "
          f"subscription revenue over 24 months {np.round(100 * r[:, 1], 1)} %, churn that month / prior 6 months "
          f"{np.round(r[:, 2] / r[:, 3], 2)}")
    small = t.small_scenario({"market.agents": 20000, "time.months": 33, "initial.aware": 0.6, "initial.focal_free": 0.4,
                              "initial.focal_premium": 0.05})
    more = t._with_events(small, {"at": "2016-01", "set": {"services.focal.ad_load": small.services.focal.ad_load + 1}})
    per_ad = [(t._free_hours_after(more, s) / t._free_hours_after(small, s) - 1) / 2 for s in t.SEEDS]
    print(f"+1 ad-minute/hour (2 ads): free-tier hours of the month-12 free users after 21 months, per extra ad/hour "
          f"{np.round(100 * np.array(per_ad), 2)} %")


if __name__ == "__main__":
    main()
