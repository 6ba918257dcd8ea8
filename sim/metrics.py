"""KPIs of each service per step, in real units (people, EUR per month, monthly rates).

The model hands :func:`service_kpis` the step's tally (the listeners before and after the step)
and the step's context, whose results (the money flows, the ad market, ...) the registry's
entries with ``of`` read; it returns one array of shape (n_services,) per KPI. Counts
are simulated listeners times the weight (real people per listener).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numba import njit

from sim.agents.listeners import Stage, State, Tier

S_USER = np.int8(State.USER)
N_STATES = len(State)
N_STAGES = len(Stage)
SPREAD = 16  # cells a count that goes nowhere is spread over (:func:`tally`)
T_FREE, T_TRIAL, T_PREMIUM = np.int8(Tier.FREE), np.int8(Tier.TRIAL), np.int8(Tier.PREMIUM)

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
    KPIs may be negative. ``of`` names a mechanism's result whose field of the same name is the KPI
    (``"ads"``), or the result and its field (``"ads.inventory"``), shape (S,): such a KPI is this entry
    and nothing else; the others are computed in :func:`service_kpis`. ``doc`` what it means, for the ODD's table.
    """

    name: str
    unit: str
    summary: bool = False
    market: bool = False
    signed: bool = False
    of: str = ""
    doc: str = ""

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


def _k(name: str, unit: str, doc: str, summary: bool = False, **kw) -> Kpi:
    return Kpi(name, unit, summary, doc=doc, **kw)


#: Every KPI, in the column order of timeseries.parquet (after replicate, date, step, service, focal), with what it
#: means (``doc``: the ODD's table of outputs is generated from it, ``python -m sim.docs``); market KPIs are
#: market-wide counts, repeated on every service row of a date. A new KPI goes last: earlier columns keep their place.
KPIS: tuple[Kpi, ...] = (
    _k("mau", "people", "monthly active users: free, trial and premium", True),
    _k("free_users", "people", "users of the free tier", True),
    _k("trial_users", "people", "users in a free premium trial", True),
    _k("premium_subscribers", "people", "paying premium users, every plan", True),
    *(_k(f"premium_{plan}", "people", f"premium subscribers on the {plan} plan") for plan in ("individual", "student", "duo", "family")),
    _k("gross_adds", "people/month", "users who came to the service this month, from no service or another"),
    _k("premium_gross_adds", "people/month", "users becoming premium subscribers of the service"),
    _k("trial_starts", "people/month", "trials started"),
    _k("trial_conversion", "share", "share of the trials ending this month that stayed premium", True),
    _k("revenue_subscription_eur", "EUR/month", "subscription revenue (plan price x regional multiplier / users per account)", True,
       of="money"),
    _k("revenue_ads_eur", "EUR/month", "ad revenue (0 for a service without a free tier)", True),
    _k("revenue_total_eur", "EUR/month", "subscriptions plus ads", True, of="money"),
    _k("ad_revenue_share", "share", "ad revenue / total revenue", True),
    _k("royalties_eur", "EUR/month", "royalties to rights holders: the royalty share of revenue", of="money"),
    _k("support_cost_eur", "EUR/month", "the support advisors' cost", of="money"),
    _k("personalization_cost_eur", "EUR/month", "the recommendations' cost", of="money"),
    _k("trial_cost_eur", "EUR/month", "royalties and running costs of trial users, who pay nothing", of="money"),
    _k("marketing_spend_eur", "EUR/month", "marketing spend (not deducted from gross profit)", of="money"),
    _k("gross_profit_eur", "EUR/month", "revenue minus royalties, trial, support and personalisation costs", True, signed=True,
       of="money"),
    _k("gross_margin", "share", "gross profit / total revenue", True, signed=True),
    _k("churn_premium_monthly", "share/month", "premium subscribers who left premium with the service, of those at the start", True),
    *(_k(f"churn_{reason}_monthly", "share/month", f"premium churn by destination: {what}", True)
      for reason, what in CHURN_REASONS.items()),
    _k("churn_users_monthly", "share/month", "users of any tier who left the service, of those at the start"),
    _k("arpu_premium_eur", "EUR/user/month", "subscription revenue per premium subscriber", True),
    _k("arpu_ad_supported_eur", "EUR/user/month", "ad revenue per free user (NaN without a free tier)", True),
    _k("market_share", "share", "share of all streaming users", True),
    _k("premium_market_share", "share", "share of all premium subscribers"),
    _k("listening_hours_per_free_user", "hours/month", "mean listening hours of a free user, podcasts included", True),
    _k("listening_hours_per_premium_user", "hours/month", "mean listening hours of a premium or trial user", True),
    _k("cpm_eur", "EUR/1000 impressions", "price of the impressions sold (NaN without a free tier)", True, of="ads"),
    _k("fill_rate", "share", "impressions sold / ad inventory", True, of="ads"),
    _k("impressions", "impressions/month", "ad impressions sold", True, of="ads"),
    _k("ad_inventory_impressions", "impressions/month", "impressions on offer: the free tier's hours x ad load", of="ads.inventory"),
    _k("support_response_hours", "hours", "mean wait for a support answer", True, of="support.response_hours"),
    _k("tickets", "tickets/month", "support tickets filed", of="support"),
    _k("cac_eur", "EUR/new user", "customer acquisition cost: marketing spend / gross adds", True),
    _k("ltv_eur", "EUR/subscriber", "lifetime value: premium ARPU x (1 - royalty share) / premium churn", True),
    _k("satisfaction_mean", "share", "mean satisfaction of the users (0..1)", True),
    _k("loyalty_prospect", "share", "loyalty ladder, of the service's users plus all prospects: aware or lapsed non-users", True),
    *(_k(f"loyalty_{stage}", "share", f"loyalty ladder, of the service's users plus all prospects: {what}", True)
      for stage, what in zip(LOYALTY_STAGES[1:], ("users of short tenure", "users of longer tenure", "satisfied clients",
                                                   "very satisfied supporters who shared in the last year"))),
    _k("price_individual_eur", "EUR/user/month", "current price of the individual plan (NaN without one)", of="prices"),
    _k("unaware", "people", "people in reach who do not know streaming", market=True),
    _k("aware", "people", "people who know streaming and use no service", market=True),
    _k("lapsed", "people", "former users who use no service now", market=True),
    _k("price_headline_eur", "EUR/user/month", "current price of the headline plan (individual if offered, else the first): "
       "what competitors' price rules follow", of="prices"),
    _k("people_in_reach", "people", "everyone in the market's reach: unaware, aware, lapsed and every service's users", market=True),
    _k("support_staff", "agents", "support advisors: the fixed team plus the staffing rule's per thousand paying subscribers",
       of="support.staff"),
    _k("podcast_hours_per_free_user", "hours/month", "the part of a free user's hours that is podcasts (sim/mechanics/podcasts.py)",
       of="podcasts.hours_per_free_user"),
)
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


#: Per-region user counts of regions.parquet, by tier (``mau`` is their sum).
REGION_TIERS = ("free_users", "trial_users", "premium_subscribers")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    # below a billionth of a person or euro the ratio is undefined, not astronomically large
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 1e-9)


# Columns of the per-service tally (see :func:`tally`); the PLAN_0.. columns follow the last.
(USERS, FREE, TRIAL, PREMIUM, GROSS_ADDS, PREMIUM_ADDS, TRIAL_STARTS, HOURS_FREE, HOURS_PAID, SATISFACTION,
 ENDED, CONVERTED, WAS_PREMIUM, LEFT_PREMIUM, DOWN, TO_COMPETITOR, LAPSE, VOLUNTARY, WAS_USER, USERS_LEFT,
 STAGE_1) = range(21)  # STAGE_1..STAGE_4: customer, client, supporter, advocate
PLAN_0 = STAGE_1 + len(Stage) - 1


@njit(cache=True)
def _count_moved(out, cohorts, regions, user, j, jb, t, tb, plan, hours, satisfaction, stage, spell_start, failed, ended,
                 region) -> None:
    """Add a listener whose service or tier changed this step, or who ended a trial or failed a payment, to the
    tally's ``out``, ``cohorts`` and ``regions`` (see :func:`tally`), in place; takes the listener's values, not the arrays."""
    if user:
        if T_FREE <= t <= T_PREMIUM:
            regions[region, j, t - T_FREE] += 1
        out[j, USERS] += 1
        out[j, SATISFACTION] += satisfaction
        if stage > 0:
            out[j, STAGE_1 + stage - 1] += 1
        if j != jb:
            out[j, GROSS_ADDS] += 1
        if t == T_FREE:
            out[j, FREE] += 1
            out[j, HOURS_FREE] += hours
        elif t == T_TRIAL:
            out[j, TRIAL] += 1
            out[j, HOURS_PAID] += hours
            if not (tb == T_TRIAL and jb == j):
                out[j, TRIAL_STARTS] += 1
        elif t == T_PREMIUM:
            out[j, PREMIUM] += 1
            out[j, HOURS_PAID] += hours
            out[j, PLAN_0 + plan] += 1
            if not (tb == T_PREMIUM and jb == j):
                out[j, PREMIUM_ADDS] += 1
        if j == 0 and (t == T_PREMIUM or t == T_FREE) and spell_start >= 0:
            cohorts[0 if t == T_PREMIUM else 1, spell_start] += 1
    if jb < 0:
        return
    out[jb, WAS_USER] += 1
    if j != jb:
        out[jb, USERS_LEFT] += 1
    stays_premium = user and t == T_PREMIUM and j == jb
    if ended:
        out[jb, ENDED] += 1
        if stays_premium:
            out[jb, CONVERTED] += 1
    if tb == T_PREMIUM:
        out[jb, WAS_PREMIUM] += 1
        if not stays_premium:
            out[jb, LEFT_PREMIUM] += 1
            if not user and not failed:
                out[jb, VOLUNTARY] += 1
        if j == jb and t == T_FREE:
            out[jb, DOWN] += 1
        if user and j != jb:
            out[jb, TO_COMPETITOR] += 1
        if failed:
            out[jb, LAPSE] += 1


@njit(cache=True)
def _count_kept(out, regions, kept, states) -> None:
    """Add the listeners who kept their service and tier, ``kept`` (S + 1, 5, stages, plans + 1, R) by service, tier + 1
    (a non-user, in row S: their state), stage, plan + 1 and region (see :func:`tally`), to the counts of ``out``
    (S + 1, ...), ``regions`` (R, S, 3) and ``states``, in place: the users among them were users of the same service
    and tier (so no add, no start, no churn)."""
    states[S_USER] += kept[:-1].sum()
    for st in range(N_STATES):
        states[st] += kept[-1, st].sum()
    for j in range(out.shape[0] - 1):  # the last row: the non-users
        for t in range(kept.shape[1]):
            for st in range(kept.shape[2]):
                for p in range(kept.shape[3]):
                    for r in range(kept.shape[4]):
                        if T_FREE <= t - 1 <= T_PREMIUM:
                            regions[r, j, t - 1 - T_FREE] += kept[j, t, st, p, r]
                    c = kept[j, t, st, p].sum()
                    out[j, USERS] += c
                    out[j, WAS_USER] += c
                    if st > 0:
                        out[j, STAGE_1 + st - 1] += c
                    if t - 1 == T_FREE:
                        out[j, FREE] += c
                    elif t - 1 == T_TRIAL:
                        out[j, TRIAL] += c
                    elif t - 1 == T_PREMIUM:
                        out[j, PREMIUM] += c
                        out[j, WAS_PREMIUM] += c
                        if p > 0:
                            out[j, PLAN_0 + p - 1] += c


@njit(cache=True)
def tally(known, state, service, tier, plan, hours, satisfaction, stage, spell_start, before_service, before_tier,
          payment_failed, trial_ended, region, n_services, n_plans, n_steps, n_regions):
    """Every per-service count and sum of a step in one pass over the listeners who know the market
    (``known``, ascending; the others are no one's users, before or after).

    Inputs are per listener (n,): ``state``, ``service`` (-1 for none), ``tier``, ``plan``,
    ``hours`` (hours/month), ``satisfaction``, ``stage`` (ladder), ``spell_start`` (step), the service and tier
    at the start of the step (``before_service`` -1 for a non-user), ``payment_failed`` and
    ``trial_ended`` (bool), ``region``. Returns ``(table, states, cohorts, regions)``: ``table`` (S, PLAN_0 +
    n_plans) simulated listeners (or their hours and satisfaction summed) per column above,
    counted at the service after the step (users, adds, hours, stages, plans) or before it
    (trial ends and premium churn, by where the listener went); ``states`` (N_STATES,) listeners
    per ``State`` among ``known`` (the caller counts the unaware and the outside); ``cohorts`` (2, n_steps + 1) focal premium (row 0) and free (row 1) users
    by the step their spell began; ``regions`` (R, S, 3) the users of each service by region and tier: free, trial,
    premium (:data:`REGION_TIERS`).

    Most listeners of a mature market kept their service and tier: whether they use a service and which tier are
    coin flips a branch would mispredict, so they add to one count by category (``kept``, with their region; summed
    into the columns after the pass) and to their service's sums, in a spare row (S) and column if they use none; the
    others take the branches of :func:`_count_moved`. Every sum adds in the listeners' order.
    """
    spare_row, spare = n_services, PLAN_0 + n_plans
    out = np.zeros((n_services + 1, spare + 1))
    # by service, tier + 1 (a non-user: their state), stage, plan + 1, region
    kept = np.zeros((n_services + 1, max(N_STATES, 4), N_STAGES, n_plans + 1, n_regions))
    regions = np.zeros((n_regions, n_services, 3))
    states = np.zeros(N_STATES)
    cohorts = np.zeros((3, max(n_steps + 1, SPREAD)))  # row 2: the spare
    for k in range(known.size):
        i = np.uint64(known[k])  # unsigned: an index numba need not wrap around (no sign test per read)
        j, t, user = service[i], tier[i], state[i] == S_USER
        if (j != before_service[i]) | (t != before_tier[i]) | payment_failed[i] | trial_ended[i]:
            states[state[i]] += 1
            _count_moved(out, cohorts, regions, user, j, before_service[i], t, before_tier[i], plan[i], hours[i],
                         satisfaction[i], stage[i], spell_start[i], payment_failed[i], trial_ended[i], region[i])
            continue
        a = j if user else spare_row
        kept[a, t + 1 if user else state[i], stage[i], plan[i] + 1, region[i]] += 1
        out[a, SATISFACTION] += satisfaction[i]
        free, paid = t == T_FREE, (t == T_TRIAL) | (t == T_PREMIUM)
        out[a, HOURS_FREE if free else HOURS_PAID if paid else spare] += hours[i]
        focal = user & (j == 0) & ((t == T_PREMIUM) | free) & (spell_start[i] >= 0)
        # the spare's count goes round SPREAD cells: one cell would make each listener wait for the last one's sum
        cohorts[(0 if t == T_PREMIUM else 1) if focal else 2, spell_start[i] if focal else k % SPREAD] += 1
    _count_kept(out, regions, kept, states)
    return out[:n_services, :spare].copy(), states, cohorts[:2, :n_steps + 1].copy(), regions


@dataclass(frozen=True)
class Tally:
    """A step's per-service counts (:func:`tally`), market state counts, focal cohorts and users by region, simulated listeners."""

    table: np.ndarray  # (S, columns)
    states: np.ndarray  # (N_STATES,) listeners per State (OUTSIDE included)
    cohorts: np.ndarray  # (2, n_steps + 1): focal premium, free by spell start
    regions: np.ndarray  # (R, S, 3): users by region, service and tier (REGION_TIERS)

    @classmethod
    def of(cls, ctx, in_reach: int, n_steps: int) -> "Tally":
        """The tally of a step (``ctx``, :class:`sim.mechanics.context.StepContext`, after its last mechanism),
        ``in_reach`` listeners in the market's reach, known or not, of ``n_steps`` steps."""
        pop, decisions = ctx.pop, ctx.results.decisions
        table, states, cohorts, regions = tally(pop.known, pop.state, pop.service, pop.tier, pop.plan, pop.hours,
                                                pop.satisfaction, ctx.memory.stage, pop.spell_start, ctx.before.service,
                                                ctx.before.tier, decisions.payment_failed, decisions.trial_ended, pop.region,
                                                ctx.table.n, len(ctx.table.plan_names), n_steps, len(pop.region_names))
        states[State.OUTSIDE] = pop.n - in_reach
        states[State.UNAWARE] = in_reach - pop.n_known
        return cls(table, states, cohorts, regions)

    def __getitem__(self, column: int) -> np.ndarray:
        return self.table[:, column]


def result_of(results, path: str, name: str) -> np.ndarray:
    """The KPI ``name`` read from the step's ``results`` at a registry entry's ``of`` (``"ads"`` or ``"ads.inventory"``)."""
    mechanism, _, field = path.partition(".")
    return getattr(results[mechanism], field or name)


def service_kpis(counts: Tally, ctx) -> dict[str, np.ndarray]:
    """KPIs of every service after one step, each an ndarray of shape (n_services,).

    ``counts`` the step's tally (:class:`Tally`, from the listeners before and after the
    step and the decisions); ``ctx`` the step (:class:`sim.mechanics.context.StepContext`) after its
    last mechanism: the registry's entries with ``of`` are read from its results (the money flows
    ``money``, the ad market ``ads``, the support queue ``support``, the list prices ``prices``, ...),
    the others computed here.
    """
    table, clock, weight = ctx.table, ctx.clock, ctx.weight
    k: dict[str, np.ndarray] = {kpi.name: result_of(ctx.results, kpi.of, kpi.name) for kpi in KPIS if kpi.of}
    s = table.n
    dt = clock.months_per_step
    c = counts
    k["mau"] = c[USERS] * weight
    k["free_users"] = c[FREE] * weight
    k["trial_users"] = c[TRIAL] * weight
    k["premium_subscribers"] = c[PREMIUM] * weight
    for p, name in enumerate(table.plan_names):
        k[f"premium_{name}"] = c[PLAN_0 + p] * weight

    k["gross_adds"] = c[GROSS_ADDS] * weight / dt
    k["premium_gross_adds"] = c[PREMIUM_ADDS] * weight / dt
    k["trial_starts"] = c[TRIAL_STARTS] * weight / dt
    k["trial_conversion"] = _ratio(c[CONVERTED], c[ENDED])

    # premium churn split by where the subscriber went (per step, then as a monthly rate)
    base = c[WAS_PREMIUM]
    total = np.nan_to_num(_ratio(c[LEFT_PREMIUM], base))  # share of the step
    monthly = clock.monthly_rate(total)
    # the reasons keep their split of the total when it is converted to a monthly rate
    scale = np.divide(monthly, total, out=np.zeros(s), where=total > 0)
    k["churn_premium_monthly"] = np.where(base > 0, monthly, np.nan)
    for name, col in zip(CHURN_REASONS, (VOLUNTARY, DOWN, TO_COMPETITOR, LAPSE)):
        k[f"churn_{name}_monthly"] = _ratio(c[col], base) * scale
    k["churn_users_monthly"] = clock.monthly_rate(_ratio(c[USERS_LEFT], c[WAS_USER]))

    ads_rev = ctx.results.money.revenue_ads_eur
    subs, total_rev = k["revenue_subscription_eur"], k["revenue_total_eur"]
    # a service without a free tier sold no ads: 0 EUR, a 0 share of its revenue (its CPM and fill rate stay undefined)
    k["revenue_ads_eur"] = np.where(table.free_tier, ads_rev, 0.0)
    k["ad_revenue_share"] = _ratio(k["revenue_ads_eur"], total_rev)
    k["gross_margin"] = _ratio(k["gross_profit_eur"], total_rev)

    k["arpu_premium_eur"] = _ratio(subs, k["premium_subscribers"])
    k["arpu_ad_supported_eur"] = np.where(table.free_tier, _ratio(ads_rev, k["free_users"]), np.nan)
    k["market_share"] = _ratio(k["mau"], k["mau"].sum())
    k["premium_market_share"] = _ratio(k["premium_subscribers"], k["premium_subscribers"].sum())
    k["listening_hours_per_free_user"] = np.where(table.free_tier, _ratio(c[HOURS_FREE], c[FREE]), np.nan)
    k["listening_hours_per_premium_user"] = _ratio(c[HOURS_PAID], c[TRIAL] + c[PREMIUM])

    k["cac_eur"] = _ratio(k["marketing_spend_eur"], k["gross_adds"])
    k["ltv_eur"] = _ratio(k["arpu_premium_eur"] * (1.0 - table.royalty_share), k["churn_premium_monthly"])
    k["satisfaction_mean"] = _ratio(c[SATISFACTION], c[USERS])

    prospects = float(counts.states[State.AWARE] + counts.states[State.LAPSED])
    ladder_total = c[USERS] + prospects
    k["loyalty_prospect"] = _ratio(np.full(s, prospects), ladder_total)
    for st in list(Stage)[1:]:  # the users' stages
        k[f"loyalty_{LOYALTY_STAGES[st]}"] = _ratio(c[STAGE_1 + st - 1], ladder_total)
    return k


def market_counts(counts: Tally, weight: float) -> dict[str, float]:
    """Market-wide people counts: unaware, aware (using nothing), lapsed, and everyone in reach."""
    states = counts.states * weight
    return {"unaware": float(states[State.UNAWARE]), "aware": float(states[State.AWARE]),
            "lapsed": float(states[State.LAPSED]), "people_in_reach": float(states.sum() - states[State.OUTSIDE])}
