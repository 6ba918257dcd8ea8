"""KPIs of each service per step, in real units (people, EUR per month, monthly rates).

The model hands :func:`service_kpis` the listener arrays before and after a step and
the services' money flows; it returns one array of shape (n_services,) per KPI. Counts
are simulated listeners times the weight (real people per listener).
"""

from __future__ import annotations

import numpy as np

from sim.agents.listeners import State, Tier
from sim.mechanics.loyalty import Stage

# Columns of timeseries.parquet per service (besides replicate, date, step, service, focal).
SERVICE_KPIS = (
    "mau", "free_users", "trial_users", "premium_subscribers",
    "premium_individual", "premium_student", "premium_duo", "premium_family",
    "gross_adds", "premium_gross_adds", "trial_starts", "trial_conversion",
    "revenue_subscription_eur", "revenue_ads_eur", "revenue_total_eur", "ad_revenue_share",
    "royalties_eur", "support_cost_eur", "personalization_cost_eur", "trial_cost_eur",
    "marketing_spend_eur", "gross_profit_eur", "gross_margin",
    "churn_premium_monthly", "churn_voluntary_monthly", "churn_downgrade_monthly",
    "churn_to_competitor_monthly", "churn_lapse_monthly", "churn_users_monthly",
    "arpu_premium_eur", "arpu_ad_supported_eur", "market_share", "premium_market_share",
    "listening_hours_per_free_user", "listening_hours_per_premium_user",
    "cpm_eur", "fill_rate", "impressions", "ad_inventory_impressions",
    "support_response_hours", "tickets", "cac_eur", "ltv_eur", "satisfaction_mean",
    "loyalty_prospect", "loyalty_customer", "loyalty_client", "loyalty_supporter", "loyalty_advocate",
    "price_individual_eur",
)
# Market-wide people counts, repeated on every service row of a date.
MARKET_KPIS = ("unaware", "aware", "lapsed")

_UNIT_GROUPS = {
    "people": ("mau", "free_users", "trial_users", "premium_subscribers", "premium_individual", "premium_student",
               "premium_duo", "premium_family", *MARKET_KPIS),
    "people/month": ("gross_adds", "premium_gross_adds", "trial_starts"),
    "EUR/month": ("revenue_subscription_eur", "revenue_ads_eur", "revenue_total_eur", "royalties_eur", "support_cost_eur",
                  "personalization_cost_eur", "trial_cost_eur", "marketing_spend_eur", "gross_profit_eur"),
    "share": ("ad_revenue_share", "gross_margin", "trial_conversion", "market_share", "premium_market_share", "fill_rate",
              "satisfaction_mean", "loyalty_prospect", "loyalty_customer", "loyalty_client", "loyalty_supporter",
              "loyalty_advocate"),
    "share/month": ("churn_premium_monthly", "churn_voluntary_monthly", "churn_downgrade_monthly",
                    "churn_to_competitor_monthly", "churn_lapse_monthly", "churn_users_monthly"),
    "EUR/user/month": ("arpu_premium_eur", "arpu_ad_supported_eur", "price_individual_eur"),
    "hours/month": ("listening_hours_per_free_user", "listening_hours_per_premium_user"),
    "EUR/1000 impressions": ("cpm_eur",),
    "impressions/month": ("impressions", "ad_inventory_impressions"),
    "hours": ("support_response_hours",),
    "tickets/month": ("tickets",),
    "EUR/new user": ("cac_eur",),
    "EUR/subscriber": ("ltv_eur",),
}
#: Unit of every KPI column (shares are 0..1, shown as %).
KPI_UNITS = {name: unit for unit, names in _UNIT_GROUPS.items() for name in names}


def kpi_unit(name: str) -> str:
    """Unit of a KPI; ``cumulative_<flow>`` is the flow summed over the horizon (EUR), ``mean_<kpi>``
    the KPI's mean over a window (its own unit)."""
    if name.startswith("cumulative_"):
        return "EUR"
    return KPI_UNITS.get(name.removeprefix("mean_"), "")


def kpi_bounds(name: str) -> tuple[float, float]:
    """The values a KPI can take: shares in [0, 1], profit any sign, everything else >= 0."""
    if kpi_unit(name).startswith("share"):
        return 0.0, 1.0
    if "gross_profit" in name:
        return -np.inf, np.inf
    return 0.0, np.inf


def format_kpi(value: float | None, name: str) -> str:
    """A KPI value for people: shares and rates in %, large numbers in M or bn, 'n/a' if undefined."""
    if value is None or value != value:
        return "n/a"
    if kpi_unit(name).startswith("share"):
        return f"{100 * value:.1f}%"
    if abs(value) >= 1e9:
        return f"{value / 1e9:,.2f} bn"
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.1f} M"
    if kpi_unit(name).startswith("people"):  # people are counted in whole persons
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    # below a billionth of a person or euro the ratio is undefined, not astronomically large
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 1e-9)


def _count(service: np.ndarray, mask: np.ndarray, n_services: int, weights: np.ndarray | None = None) -> np.ndarray:
    w = None if weights is None else weights[mask]
    return np.bincount(service[mask].astype(np.int64), weights=w, minlength=n_services)[:n_services].astype(float)


def service_kpis(pop, before: dict[str, np.ndarray], flows: dict[str, np.ndarray], table, clock, weight: float,
                 stage: np.ndarray, payment_failed: np.ndarray, trial_ended: np.ndarray) -> dict[str, np.ndarray]:
    """KPIs of every service after one step, each an ndarray of shape (n_services,).

    ``before`` holds ``service`` and ``tier`` at the start of the step; ``flows`` the
    services' money and ad-market figures (EUR/month, impressions/month, hours);
    ``payment_failed`` and ``trial_ended`` mark the listeners who lost premium to a failed
    payment and whose trial ended this step.
    """
    s = table.n
    dt = clock.months_per_step
    svc, tier = pop.service, pop.tier
    user = pop.state == State.USER
    was_user = before["service"] >= 0
    free = user & (tier == Tier.FREE)
    trial = user & (tier == Tier.TRIAL)
    prem = user & (tier == Tier.PREMIUM)
    was_prem = was_user & (before["tier"] == Tier.PREMIUM)

    k: dict[str, np.ndarray] = {}
    k["mau"] = _count(svc, user, s) * weight
    k["free_users"] = _count(svc, free, s) * weight
    k["trial_users"] = _count(svc, trial, s) * weight
    k["premium_subscribers"] = _count(svc, prem, s) * weight
    for p, name in enumerate(table.plan_names):
        k[f"premium_{name}"] = _count(svc, prem & (pop.plan == p), s) * weight

    k["gross_adds"] = _count(svc, user & (svc != before["service"]), s) * weight / dt
    k["premium_gross_adds"] = _count(svc, prem & ~(was_prem & (before["service"] == svc)), s) * weight / dt
    k["trial_starts"] = _count(svc, trial & ~((before["tier"] == Tier.TRIAL) & (before["service"] == svc)), s) * weight / dt
    ended = trial_ended & (before["service"] >= 0)
    converted = ended & prem & (svc == before["service"])
    k["trial_conversion"] = _ratio(_count(before["service"], converted, s), _count(before["service"], ended, s))

    # premium churn split by where the subscriber went (per step, then as a monthly rate)
    base = _count(before["service"], was_prem, s)
    left_premium = was_prem & ~(prem & (svc == before["service"]))
    down = was_prem & (svc == before["service"]) & (tier == Tier.FREE)
    comp = was_prem & user & (svc != before["service"])
    lapse = was_prem & payment_failed
    vol = left_premium & ~user & ~payment_failed
    total = np.nan_to_num(_ratio(_count(before["service"], left_premium, s), base))  # share of the step
    monthly = clock.monthly_rate(total)
    # the reasons keep their split of the total when it is converted to a monthly rate
    scale = np.divide(monthly, total, out=np.zeros(s), where=total > 0)
    k["churn_premium_monthly"] = np.where(base > 0, monthly, np.nan)
    for name, mask in (("voluntary", vol), ("downgrade", down), ("to_competitor", comp), ("lapse", lapse)):
        k[f"churn_{name}_monthly"] = _ratio(_count(before["service"], mask, s), base) * scale
    users_left = was_user & (svc != before["service"])
    k["churn_users_monthly"] = clock.monthly_rate(_ratio(_count(before["service"], users_left, s), _count(before["service"], was_user, s)))

    ads = flows["revenue_ads_eur"]
    subs = flows["revenue_subscription_eur"]
    total_rev = subs + ads
    k["revenue_subscription_eur"] = subs
    k["revenue_ads_eur"] = np.where(table.free_tier, ads, np.nan)
    k["revenue_total_eur"] = total_rev
    k["ad_revenue_share"] = np.where(table.free_tier, _ratio(ads, total_rev), np.nan)
    k["royalties_eur"] = table.royalty_share * total_rev
    for name in ("support_cost_eur", "personalization_cost_eur", "marketing_spend_eur"):
        k[name] = flows[name]
    k["trial_cost_eur"] = k["trial_users"] * flows["trial_cost_per_user"]
    k["gross_profit_eur"] = total_rev - k["royalties_eur"] - k["trial_cost_eur"] - k["support_cost_eur"] - k["personalization_cost_eur"]
    k["gross_margin"] = _ratio(k["gross_profit_eur"], total_rev)

    k["arpu_premium_eur"] = _ratio(subs, k["premium_subscribers"])
    k["arpu_ad_supported_eur"] = np.where(table.free_tier, _ratio(ads, k["free_users"]), np.nan)
    k["market_share"] = _ratio(k["mau"], k["mau"].sum())
    k["premium_market_share"] = _ratio(k["premium_subscribers"], k["premium_subscribers"].sum())
    k["listening_hours_per_free_user"] = np.where(table.free_tier, _ratio(_count(svc, free, s, pop.hours), _count(svc, free, s)), np.nan)
    paid = trial | prem
    k["listening_hours_per_premium_user"] = _ratio(_count(svc, paid, s, pop.hours), _count(svc, paid, s))

    for name in ("cpm_eur", "fill_rate", "impressions", "ad_inventory_impressions", "support_response_hours", "tickets"):
        k[name] = flows[name]
    k["cac_eur"] = _ratio(flows["marketing_spend_eur"], k["gross_adds"])
    k["ltv_eur"] = _ratio(k["arpu_premium_eur"] * (1.0 - table.royalty_share), k["churn_premium_monthly"])
    k["satisfaction_mean"] = _ratio(_count(svc, user, s, pop.satisfaction), _count(svc, user, s))

    prospects = float(np.count_nonzero((pop.state == State.AWARE) | (pop.state == State.LAPSED)))
    users_j = _count(svc, user, s)
    ladder_total = users_j + prospects
    k["loyalty_prospect"] = _ratio(np.full(s, prospects), ladder_total)
    for st in (Stage.CUSTOMER, Stage.CLIENT, Stage.SUPPORTER, Stage.ADVOCATE):
        k[f"loyalty_{st.name.lower()}"] = _ratio(_count(svc, user & (stage == st), s), ladder_total)
    k["price_individual_eur"] = flows["price_individual_eur"]
    return k


def market_counts(pop, weight: float) -> dict[str, float]:
    """Market-wide people counts: unaware, aware (using nothing), lapsed."""
    counts = np.bincount(pop.state.astype(np.int64), minlength=4) * weight
    return {"unaware": float(counts[State.UNAWARE]), "aware": float(counts[State.AWARE]),
            "lapsed": float(counts[State.LAPSED])}
