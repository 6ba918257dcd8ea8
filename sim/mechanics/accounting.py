"""The services' money: every revenue and cost flow of a step, in one place.

Revenue is subscription fees (the plan's price per account shared over its users, times
the local price multiple of the service in each listener's region) plus what advertisers pay on the free tier.
Costs are royalties (a share of all revenue), trials (a cost per trial user and month:
their streams are paid although they pay nothing), support advisors, personalisation (per
user and unit of investment) and marketing. Gross profit is revenue less every cost but
marketing, which is an acquisition cost (``cac_eur``). All flows are EUR/month of real
people (simulated listeners times the weight), shape (S,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sim.agents.listeners import State, Tier

USER, TRIAL, PREMIUM = np.int8(State.USER), np.int8(Tier.TRIAL), np.int8(Tier.PREMIUM)


@njit(cache=True)
def _per_service(users, state, tier, service, plan, region, price_multiplier, per_user, s):
    """Subscription fees (EUR/month, simulated listeners), users and trial users per service (S,), in one pass
    over ``users`` (ascending; any non-user among them is skipped).

    A premium subscriber pays ``per_user[service, plan]`` (the plan's price per account
    over its users, (S, plans)) times the service's ``price_multiplier`` in their region (S, R).
    """
    subs, mau, trials = np.zeros(s), np.zeros(s), np.zeros(s)
    for k in range(users.size):
        i = np.uint64(users[k])  # unsigned: an index numba need not wrap around (no sign test per read)
        if state[i] != USER:
            continue
        j = service[i]
        mau[j] += 1
        t = tier[i]  # paying or not is a coin flip: selects, not branches (a non-payer's fee, maybe NaN, is not added)
        fee = per_user[j, max(plan[i], 0)] * price_multiplier[j, region[i]]
        subs[j] += fee if t == PREMIUM else 0.0
        trials[j] += t == TRIAL
    return subs, mau, trials


@dataclass(frozen=True)
class Accounts:
    """One step's money flows per service, EUR/month, shape (S,) each."""

    revenue_subscription_eur: np.ndarray
    revenue_ads_eur: np.ndarray
    revenue_total_eur: np.ndarray
    royalties_eur: np.ndarray
    trial_cost_eur: np.ndarray
    support_cost_eur: np.ndarray
    personalization_cost_eur: np.ndarray
    marketing_spend_eur: np.ndarray
    gross_profit_eur: np.ndarray


def step(ctx) -> Accounts:
    """The money flows of every service after a step.

    ``ctx`` the step: the listeners at its end and the users (``results.sharing``), the services' offers,
    the ad revenue (``results.ads``), the support advisors (``results.support``), the marketing of the
    services in the market, the weight (real people per simulated listener).
    """
    table, pop, mech, weight = ctx.table, ctx.pop, ctx.scenario.mechanisms, ctx.weight
    s = table.n
    with np.errstate(invalid="ignore", divide="ignore"):  # plans not offered are NaN and never held
        per_user = table.plan_price / table.users_per_account
    subs, mau, trial_users = _per_service(ctx.results.sharing.users, pop.state, pop.tier, pop.service, pop.plan, pop.region,
                                          table.region_price, per_user, s)
    subs, mau, trial_users = subs * weight, mau * weight, trial_users * weight
    pers = mech.personalization
    personalization = pers.cost_per_user * table.personalization * mau * pers.enabled
    support = (np.asarray(ctx.results.support.staff, dtype=float) * mech.service_quality.staff_cost if mech.service_quality.enabled
               else np.zeros(s))
    ad_revenue = ctx.results.ads.revenue_eur
    total = subs + ad_revenue
    royalties = table.royalty_share * total
    trial = trial_users * mech.campaigns.trial_cost
    return Accounts(
        revenue_subscription_eur=subs, revenue_ads_eur=ad_revenue, revenue_total_eur=total, royalties_eur=royalties,
        trial_cost_eur=trial, support_cost_eur=support, personalization_cost_eur=personalization,
        marketing_spend_eur=np.asarray(ctx.marketing_budget, dtype=float),
        gross_profit_eur=total - royalties - trial - support - personalization,
    )
