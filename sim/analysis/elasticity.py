"""What a price change did, in the strategist's terms: arc elasticities and the
price / volume / mix split of the subscription revenue change.

Both work on the paired replicates of a comparison (replicate r of A against
replicate r of B, common random numbers), so each replicate gives one estimate
and the interval is the 95% t-interval over replicates.

- **Arc elasticity** (midpoint formula, Allen 1934): ``((Q_B - Q_A) / mean(Q)) /
  ((P_B - P_A) / mean(P))`` with P the focal headline plan's price and Q premium
  subscribers or subscription revenue, read at the last month (or averaged over the
  window). An elasticity of -0.5 means a 1% higher price, 0.5% fewer subscribers.
- **Price / volume / mix** (the usual revenue bridge), month by month then summed
  (EUR): *volume* = change in subscribers at A's revenue per subscriber; *mix* = B's
  subscribers re-spread over plans as in B, each plan at A's revenue per subscriber of
  that plan; *price* = B's subscribers of each plan at that revenue scaled by the change of
  the plan's list price (B's over A's); *other* = the rest (regional price multiples, trials,
  who pays where). The four add up to the revenue change exactly; a change that moves no list
  price has a price effect of exactly 0. A's revenue per subscriber of a plan is its
  overall ARPU spread over plans in proportion to list price per user (price /
  users per account), the only per-plan revenue the model does not record.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.agents.services import PLAN_NAMES
from sim.analysis.windows import Window, in_window
from sim.clock import Clock
from sim.runner import ci95
from sim.scenario import Scenario, apply_overrides

PRICE = "price_individual_eur"
ELASTIC = ("premium_subscribers", "revenue_subscription_eur")


def arc_elasticity(q_a: np.ndarray, q_b: np.ndarray, p_a: np.ndarray, p_b: np.ndarray) -> np.ndarray:
    """Midpoint arc elasticity of Q with respect to P, elementwise (arrays of one shape); NaN where P is equal."""
    dq = (q_b - q_a) / ((q_a + q_b) / 2)
    dp = (p_b - p_a) / ((p_a + p_b) / 2)
    return np.divide(dq, dp, out=np.full(np.shape(dq), np.nan), where=np.abs(dp) > 1e-12)


def _per_replicate(focal: pd.DataFrame, column: str, window: Window | None) -> pd.Series:
    """A column's value per replicate: window mean, or the last month without a window."""
    if window is None:
        return focal[focal["date"] == focal["date"].max()].set_index("replicate")[column]
    return focal[in_window(focal["date"], window)].groupby("replicate")[column].mean()


def elasticities(focal_a: pd.DataFrame, focal_b: pd.DataFrame, window: Window | None = None) -> dict | None:
    """Arc elasticities of premium subscribers and subscription revenue w.r.t. the headline price.

    focal_a, focal_b: the focal rows (replicate x date) of two paired arms. Returns None when
    the arms' prices do not differ, else ``{"price_a", "price_b", "kpis": {kpi: {"mean",
    "ci95_low", "ci95_high"}}}`` (dimensionless).
    """
    p_a, p_b = (_per_replicate(f, PRICE, window) for f in (focal_a, focal_b))
    if np.allclose(p_a.to_numpy(), p_b.to_numpy()):
        return None
    out = {"price_a": float(p_a.mean()), "price_b": float(p_b.mean()), "kpis": {}}
    for kpi in ELASTIC:
        q_a, q_b = (_per_replicate(f, kpi, window) for f in (focal_a, focal_b))
        e = arc_elasticity(q_a.to_numpy(), q_b.reindex(q_a.index).to_numpy(), p_a.to_numpy(),
                           p_b.reindex(p_a.index).to_numpy())
        out["kpis"][kpi] = ci95(e)
    return out


def list_prices(scenario: Scenario) -> np.ndarray:
    """The focal service's list price per user of every plan in every month: ndarray (n_months,
    len(PLAN_NAMES)), EUR/month, NaN where the plan is not offered; follows the timeline."""
    clock = Clock.of(scenario)
    events = {}
    for ev in scenario.timeline:
        if ev.set:
            events.setdefault(clock.step_of_month(ev.at), []).append(ev.set)
    out = np.full((clock.n_steps, len(PLAN_NAMES)), np.nan)
    current = scenario
    for t in range(clock.n_steps):
        for changes in events.get(t, []):
            current = apply_overrides(current, changes, source="timeline", check_timeline=False)
        focal = current.services.focal
        out[t] = [focal.plans[p].price / focal.users_per_account(p) if p in focal.plans else np.nan
                  for p in PLAN_NAMES]
    return out


def revenue_bridge(focal_a: pd.DataFrame, focal_b: pd.DataFrame, prices_a: np.ndarray, prices_b: np.ndarray,
                   months_per_step: float, window: Window | None = None) -> dict:
    """Subscription revenue change B - A split into volume, mix, price and other effects (EUR over the window).

    focal_a, focal_b: focal rows (replicate x date) of two paired arms; prices_a, prices_b:
    :func:`list_prices` of each. Returns ``{effect: {"mean", "ci95_low", "ci95_high"}}``
    for ``total, volume, mix, price, other`` (EUR; total = volume + mix + price + other per replicate).
    """
    plans = [f"premium_{p}" for p in PLAN_NAMES]

    def arrays(focal: pd.DataFrame) -> tuple[np.ndarray, ...]:
        f = focal.sort_values(["replicate", "date"])
        r, steps = f["replicate"].nunique(), f["date"].nunique()
        shape = (r, steps)
        mask = in_window(f["date"], window).reshape(shape)[0]
        n_plan = f[plans].to_numpy(float).reshape(r, steps, len(plans))[:, mask]
        rev = f["revenue_subscription_eur"].to_numpy(float).reshape(shape)[:, mask]
        return n_plan, rev, mask

    n_a, rev_a, mask = arrays(focal_a)
    n_b, rev_b, _ = arrays(focal_b)
    pi_a = np.where(np.isnan(prices_a), prices_b, prices_a)[mask]  # (months, plans); a plan only B offers at B's price
    pi_b = np.where(np.isnan(prices_b[mask]), pi_a, prices_b[mask])  # a plan B withdrew: no subscriber, no change
    pi_a = np.nan_to_num(pi_a)
    subs_a, subs_b = n_a.sum(-1), n_b.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        arpu_a = rev_a / subs_a
        weight = (n_a / subs_a[..., None] * pi_a).sum(-1)  # A's mean list price per subscriber
        plan_arpu_a = arpu_a[..., None] * pi_a / weight[..., None]  # (reps, months, plans)
        mix_arpu = (n_b / subs_b[..., None] * plan_arpu_a).sum(-1)
    volume = np.nan_to_num((subs_b - subs_a) * arpu_a)
    mix = np.nan_to_num(subs_b * (mix_arpu - arpu_a))
    with np.errstate(invalid="ignore", divide="ignore"):
        price = np.nan_to_num(n_b * plan_arpu_a * (pi_b / pi_a - 1.0)).sum(-1)  # a plan no one holds adds nothing
    total = rev_b - rev_a
    effects = {"total": total, "volume": volume, "mix": mix, "price": price, "other": total - volume - mix - price}
    return {k: ci95(v.sum(axis=1) * months_per_step) for k, v in effects.items()}
