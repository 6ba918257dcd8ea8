"""Print the model's figures for where churners go and how an entrant grows (issue 23; the set-ups of
``sim.analysis.responses``, which tests/test_switching_entry.py judges): the baseline, and the same run with each
mechanism switched off.

    python -m tools.switching_figures            # 60,000 listeners, one seed, 2015-2020
"""

from __future__ import annotations

import numpy as np

from sim.analysis import validation as v
from sim.analysis import responses as t


def _q4_churn(ts) -> str:
    f = v.focal_run(ts)
    q4 = f[f.index.month >= 10]
    by_year = q4.groupby(q4.index.year)[["churn_premium_monthly", "churn_to_competitor_monthly"]].mean() * 100
    return ", ".join(f"{y}: {r.churn_premium_monthly:.1f} ({r.churn_to_competitor_monthly:.1f} to competitors)"
                     for y, r in by_year.iterrows())


def main() -> None:
    runs = {name: t.entry_run(t.entry_baseline(72, **sets)) for name, sets in
            {"baseline": {}, "switching off": {"mechanisms.switching.enabled": False},
             "entry off": {"mechanisms.entry.enabled": False}}.items()}
    print(f"F-1 Q4 premium churn, % a month: {v.observed_q4('premium_churn_monthly', v.CHURN_YEARS).to_dict()}")
    for name, ts in runs.items():
        print(f"\n{name}:")
        print(f"  Q4 premium churn, % a month: {_q4_churn(ts)}")
        print(f"  mean absolute error 2015-2019: {v.q4_churn_error(ts):.2f} points; share of 2016-2019 churn to competitors: "
              f"{v.competitor_share_of_churn(ts):.2f}")
        errors = v.apple_errors(ts)
        print("  Apple Music paid subscribers vs milestones: " + ", ".join(f"{d} {100 * e:+.0f}%" for d, e in errors.items()))
        share = v.focal_share(ts)
        print("  focal share of world paid subscriptions (x0.89), December: "
              + ", ".join(f"{d.year} {100 * v:.1f}%" for d, v in share.items()))
    print("\nwhat-if entrant like the focal service at 2019-01, focal premium + trials in its first month:")
    for name, sets in {"baseline": {}, "entry off": {"mechanisms.entry.enabled": False},
                       "switching off": {"mechanisms.switching.enabled": False},
                       "both off": {"mechanisms.entry.enabled": False, "mechanisms.switching.enabled": False}}.items():
        print(f"  {name}: {100 * t.first_month_change(**sets):+.2f}%")
    print(f"\n({t.ENTRY_AGENTS} listeners, seed {np.asarray(t.ENTRY_SEED.entropy)})")


if __name__ == "__main__":
    main()
