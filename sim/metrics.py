"""KPIs of each service per step, in real units (people, EUR per month, monthly rates).

The model hands :func:`service_kpis` the listener arrays before and after a step and
the services' money flows; it returns one array of shape (n_services,) per KPI. Counts
are simulated listeners times the weight (real people per listener).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sim.agents.listeners import State, Tier
from sim.mechanics.loyalty import Stage

#: Where a premium subscriber who left went: reason -> what it means (the ``churn_<reason>_monthly`` columns).
CHURN_REASONS = {
    "voluntary": "voluntary (cancels, uses nothing)",
    "downgrade": "downgrade to free",
    "to_competitor": "to a competitor",
    "lapse": "lapse (payment failed)",
}
LOYALTY_STAGES = tuple(st.name.lower() for st in Stage)  # prospect ... advocate


@dataclass(frozen=True)
class Kpi:
    """One KPI column of timeseries.parquet.

    ``unit`` is a real-world unit (``share`` and ``share/month`` are 0..1, shown as %);
    ``market`` KPIs are market-wide (repeated on every service row of a date);
    ``summary`` KPIs are reported for the focal service in summary.json; ``signed``
    KPIs may be negative.
    """

    name: str
    unit: str
    summary: bool = False
    market: bool = False
    signed: bool = False

    @property
    def bounds(self) -> tuple[float, float]:
        """The values the KPI can take."""
        if self.unit.startswith("share"):
            return 0.0, 1.0
        return (-np.inf, np.inf) if self.signed else (0.0, np.inf)

    @property
    def percent(self) -> bool:
        """Shown in % (shares and monthly rates)."""
        return self.unit.startswith("share")


def _k(names: str, unit: str, summary: bool = False, **kw) -> list[Kpi]:
    return [Kpi(n, unit, summary, **kw) for n in names.split()]


#: Every KPI, in the column order of timeseries.parquet (after replicate, date, step, service, focal);
#: market KPIs are market-wide counts, repeated on every service row of a date.
KPIS: tuple[Kpi, ...] = tuple([
    *_k("mau", "people", True), *_k("free_users trial_users", "people", True),
    *_k("premium_subscribers", "people", True), *_k("premium_individual premium_student premium_duo premium_family", "people"),
    *_k("gross_adds premium_gross_adds trial_starts", "people/month"), *_k("trial_conversion", "share", True),
    *_k("revenue_subscription_eur revenue_ads_eur revenue_total_eur", "EUR/month", True), *_k("ad_revenue_share", "share", True),
    *_k("royalties_eur support_cost_eur personalization_cost_eur trial_cost_eur marketing_spend_eur", "EUR/month"),
    *_k("gross_profit_eur", "EUR/month", True, signed=True), *_k("gross_margin", "share", True, signed=True),
    *_k("churn_premium_monthly", "share/month", True),
    *_k(" ".join(f"churn_{r}_monthly" for r in CHURN_REASONS), "share/month", True),
    *_k("churn_users_monthly", "share/month"),
    *_k("arpu_premium_eur arpu_ad_supported_eur", "EUR/user/month", True), *_k("market_share", "share", True),
    *_k("premium_market_share", "share"),
    *_k("listening_hours_per_free_user listening_hours_per_premium_user", "hours/month", True),
    *_k("cpm_eur", "EUR/1000 impressions", True), *_k("fill_rate", "share", True),
    *_k("impressions", "impressions/month", True), *_k("ad_inventory_impressions", "impressions/month"),
    *_k("support_response_hours", "hours", True), *_k("tickets", "tickets/month"),
    *_k("cac_eur", "EUR/new user", True), *_k("ltv_eur", "EUR/subscriber", True), *_k("satisfaction_mean", "share", True),
    *_k(" ".join(f"loyalty_{st}" for st in LOYALTY_STAGES), "share", True),
    *_k("price_individual_eur", "EUR/user/month"),
    *_k("unaware aware lapsed", "people", market=True),
    *_k("price_headline_eur", "EUR/user/month"),  # added after the market counts: earlier columns keep their place
    *_k("people_in_reach", "people", market=True),  # unaware + aware + lapsed + every service's users
])
KPI_BY_NAME = {k.name: k for k in KPIS}
# Columns of timeseries.parquet per service (besides replicate, date, step, service, focal).
SERVICE_KPIS = tuple(k.name for k in KPIS if not k.market)
# Market-wide people counts, repeated on every service row of a date.
MARKET_KPIS = tuple(k.name for k in KPIS if k.market)
#: KPIs of the focal service at the last date reported in summary.json.
SUMMARY_KPIS = tuple(k.name for k in KPIS if k.summary)
#: Unit of every KPI column (shares are 0..1, shown as %).
KPI_UNITS = {k.name: k.unit for k in KPIS}


def _kpi(name: str) -> Kpi | None:
    """The registry entry of a column; ``cumulative_<flow>`` is the flow summed over the horizon (EUR),
    ``mean_<kpi>`` the KPI's mean over a window."""
    if name.startswith("cumulative_"):
        flow = KPI_BY_NAME.get(name[len("cumulative_"):])
        return Kpi(name, "EUR", signed=flow is not None and flow.signed)
    if name.startswith("mean_"):  # a KPI's mean over a window: its own unit and bounds
        return KPI_BY_NAME.get(name[len("mean_"):])
    return KPI_BY_NAME.get(name)


def kpi_unit(name: str) -> str:
    """Unit of a KPI; ``cumulative_<flow>`` is the flow summed over the horizon (EUR), ``mean_<kpi>``
    the KPI's mean over a window (its own unit)."""
    k = _kpi(name)
    return "" if k is None else k.unit


def kpi_bounds(name: str) -> tuple[float, float]:
    """The values a KPI can take: shares in [0, 1], profit any sign, everything else >= 0."""
    k = _kpi(name)
    return (0.0, np.inf) if k is None else k.bounds


def format_kpi(value: float | None, name: str) -> str:
    """A KPI value for people: shares and rates in %, large numbers in M or bn, 'n/a' if undefined."""
    if value is None or value != value:
        return "n/a"
    k = _kpi(name)
    if k is not None and k.percent:
        return f"{100 * value:.1f}%"
    if abs(value) >= 1e9:
        return f"{value / 1e9:,.2f} bn"
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.1f} M"
    if kpi_unit(name).startswith("people"):  # people are counted in whole persons
        return f"{value:,.0f}"
    return f"{value:,.2f}"


class Records(Mapping):
    """Per-step KPI records as one labelled array: ``values[step, (service,) kpi]``.

    A read-only mapping KPI name -> view of shape (n_steps,) + per-step shape, so
    ``records["mau"][:t]`` is the MAU of every service over the first t steps.
    """

    def __init__(self, names: tuple[str, ...], n_steps: int, *shape: int):
        self.names = names
        self.values = np.full((n_steps, *shape, len(names)), np.nan)
        self._index = {n: i for i, n in enumerate(names)}

    def record(self, t: int, kpis: dict) -> None:
        """Store step ``t``'s values (every name, arrays of the per-step shape or scalars)."""
        for name, i in self._index.items():
            self.values[t, ..., i] = kpis[name]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[..., self._index[name]]

    def __iter__(self):
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    # below a billionth of a person or euro the ratio is undefined, not astronomically large
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 1e-9)


def _count(service: np.ndarray, mask: np.ndarray, n_services: int, weights: np.ndarray | None = None) -> np.ndarray:
    w = None if weights is None else weights[mask]
    return np.bincount(service[mask].astype(np.int64), weights=w, minlength=n_services)[:n_services].astype(float)


def service_kpis(pop, before: dict[str, np.ndarray], accounts, ads, support, prices: dict[str, np.ndarray], table, clock,
                 weight: float, stage: np.ndarray, decisions) -> dict[str, np.ndarray]:
    """KPIs of every service after one step, each an ndarray of shape (n_services,).

    ``before`` holds ``service`` and ``tier`` at the start of the step; ``accounts`` the
    money flows (:class:`sim.mechanics.accounting.Accounts`), ``ads`` the ad market
    (:class:`sim.mechanics.ads.AdMarket`), ``support`` the support queue
    (:class:`sim.mechanics.service_quality.Support`); ``prices`` the individual and headline
    plans' prices (``price_individual_eur``, ``price_headline_eur``), (S,) EUR/month;
    ``decisions`` marks the listeners who lost premium to a failed payment and whose trial
    ended this step (:class:`sim.mechanics.subscriptions.Decisions`).
    """
    s = table.n
    dt = clock.months_per_step
    payment_failed, trial_ended = decisions.payment_failed, decisions.trial_ended
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
    for name, mask in zip(CHURN_REASONS, (vol, down, comp, lapse)):
        k[f"churn_{name}_monthly"] = _ratio(_count(before["service"], mask, s), base) * scale
    users_left = was_user & (svc != before["service"])
    k["churn_users_monthly"] = clock.monthly_rate(_ratio(_count(before["service"], users_left, s), _count(before["service"], was_user, s)))

    ads_rev = accounts.revenue_ads_eur
    subs = accounts.revenue_subscription_eur
    total_rev = accounts.revenue_total_eur
    for name in ("revenue_subscription_eur", "revenue_total_eur", "royalties_eur", "support_cost_eur",
                 "personalization_cost_eur", "marketing_spend_eur", "trial_cost_eur", "gross_profit_eur"):
        k[name] = getattr(accounts, name)
    # a service without a free tier sold no ads: 0 EUR, a 0 share of its revenue (its CPM and fill rate stay undefined)
    k["revenue_ads_eur"] = np.where(table.free_tier, ads_rev, 0.0)
    k["ad_revenue_share"] = _ratio(k["revenue_ads_eur"], total_rev)
    k["gross_margin"] = _ratio(k["gross_profit_eur"], total_rev)

    k["arpu_premium_eur"] = _ratio(subs, k["premium_subscribers"])
    k["arpu_ad_supported_eur"] = np.where(table.free_tier, _ratio(ads_rev, k["free_users"]), np.nan)
    k["market_share"] = _ratio(k["mau"], k["mau"].sum())
    k["premium_market_share"] = _ratio(k["premium_subscribers"], k["premium_subscribers"].sum())
    k["listening_hours_per_free_user"] = np.where(table.free_tier, _ratio(_count(svc, free, s, pop.hours), _count(svc, free, s)), np.nan)
    paid = trial | prem
    k["listening_hours_per_premium_user"] = _ratio(_count(svc, paid, s, pop.hours), _count(svc, paid, s))

    k["cpm_eur"], k["fill_rate"] = ads.cpm_eur, ads.fill_rate
    k["impressions"], k["ad_inventory_impressions"] = ads.impressions, ads.inventory
    k["support_response_hours"], k["tickets"] = support.response_hours, support.tickets
    k["cac_eur"] = _ratio(accounts.marketing_spend_eur, k["gross_adds"])
    k["ltv_eur"] = _ratio(k["arpu_premium_eur"] * (1.0 - table.royalty_share), k["churn_premium_monthly"])
    k["satisfaction_mean"] = _ratio(_count(svc, user, s, pop.satisfaction), _count(svc, user, s))

    prospects = float(np.count_nonzero((pop.state == State.AWARE) | (pop.state == State.LAPSED)))
    users_j = _count(svc, user, s)
    ladder_total = users_j + prospects
    k["loyalty_prospect"] = _ratio(np.full(s, prospects), ladder_total)
    for st in list(Stage)[1:]:  # the users' stages
        k[f"loyalty_{LOYALTY_STAGES[st]}"] = _ratio(_count(svc, user & (stage == st), s), ladder_total)
    k.update(prices)
    return k


def market_counts(pop, weight: float) -> dict[str, float]:
    """Market-wide people counts: unaware, aware (using nothing), lapsed, and everyone in reach."""
    counts = np.bincount(pop.state.astype(np.int64), minlength=len(State)) * weight
    return {"unaware": float(counts[State.UNAWARE]), "aware": float(counts[State.AWARE]),
            "lapsed": float(counts[State.LAPSED]), "people_in_reach": float(counts.sum() - counts[State.OUTSIDE])}
