"""Conservation over generated valid scenarios: one state per listener, the users the KPIs count are the
population's, the accounts add up, finite non-negative money."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.agents.listeners import State, Tier
from sim.metrics import SERVICE_KPIS
from sim.model import MarketModel
from sim.runner import simulate
from sim.scenario import validate_scenario

NON_NEGATIVE = [k for k in SERVICE_KPIS if k not in ("gross_profit_eur", "gross_margin")]


def broken_identities(ts: pd.DataFrame) -> list[str]:
    """The accounting identities a timeseries breaks (rows of every service and date), by name."""
    def off(lhs: str, rhs: pd.Series) -> bool:
        return not np.allclose(ts[lhs], rhs, rtol=1e-9, atol=1e-6, equal_nan=True)

    costs = ts["royalties_eur"] + ts["trial_cost_eur"] + ts["support_cost_eur"] + ts["personalization_cost_eur"]
    sold = ts["impressions"].fillna(0) > 0
    checks = {
        "total revenue = subscriptions + ads": off("revenue_total_eur", ts["revenue_subscription_eur"] + ts["revenue_ads_eur"]),
        "gross profit = revenue - royalties - trials - support - personalisation": off("gross_profit_eur", ts["revenue_total_eur"] - costs),
        "ad revenue = impressions x CPM / 1000": not np.allclose(ts.loc[sold, "revenue_ads_eur"],
                                                                ts.loc[sold, "impressions"] * ts.loc[sold, "cpm_eur"] / 1000, rtol=1e-9),
        "no ad revenue without impressions sold": bool((ts.loc[~sold, "revenue_ads_eur"] != 0).any()),
    }
    return [name for name, broken in checks.items() if broken]


@st.composite
def scenarios(draw):
    n_comp = draw(st.integers(0, 2))
    aware = draw(st.floats(0.0, 0.6))
    free, prem = draw(st.floats(0, 1)) * aware / 3, draw(st.floats(0, 1)) * aware / 3
    comp = draw(st.floats(0, 1)) * aware / 3 if n_comp else 0.0

    def service(name: str) -> dict:
        plans = {"individual": {"price": draw(st.floats(0.0, 30.0))}}
        if draw(st.booleans()):
            plans["family"] = {"price": draw(st.floats(0.0, 40.0)), "seats": 6}
        if draw(st.booleans()):
            plans["student"] = {"price": draw(st.floats(0.0, 10.0))}
        return {"name": name, "free_tier": draw(st.booleans()), "ad_load": draw(st.floats(0.0, 10.0)),
                "personalization": draw(st.floats(0.0, 1.0)), "data_policy": draw(st.sampled_from(["opt_in", "opt_out"])),
                "content_value": draw(st.floats(0.0, 20.0)), "plans": plans, "trial_months": draw(st.integers(0, 3)),
                "marketing_budget": draw(st.floats(0.0, 1e7)), "support_staff": draw(st.integers(0, 500)),
                "rak_rate": draw(st.floats(0, 1)), "wrapped": draw(st.booleans()),
                "strategy": draw(st.sampled_from(["static", "match_price", "defend_share"])),
                "reaction_lag": draw(st.integers(0, 4))}

    months = draw(st.integers(1, 14))
    spec = {
        "name": "generated",
        "time": {"start": "2019-06", "months": months, "step": draw(st.sampled_from(["month", "week"]))},
        "market": {"population": draw(st.floats(1e4, 1e9)), "agents": draw(st.integers(200, 1500))},
        "network": {"kind": draw(st.sampled_from(["small_world", "fully_mixed"])), "mean_degree": draw(st.integers(0, 20))},
        "diffusion": {"p": draw(st.floats(0, 0.2)), "q": draw(st.floats(0, 2))},
        "choice": {"noise_scale": draw(st.floats(0.1, 10)), "review_rate": draw(st.floats(0, 1)),
                   "involuntary_churn": draw(st.floats(0, 0.2))},
        "services": {"focal": service("Focal"), "competitors": [service(f"C{k}") for k in range(n_comp)]},
        "initial": {"aware": aware, "focal_free": free, "focal_premium": prem, "competitor": comp},
        "mechanisms": {name: {"enabled": draw(st.booleans())}
                       for name in ("ads", "personalization", "service_quality", "campaigns", "competition")},
    }
    if draw(st.booleans()):
        spec["timeline"] = [{"at": "2019-06", "outage": {"days": draw(st.floats(0.1, 31)), "severity": draw(st.floats(0, 1))}}]
    return validate_scenario(spec, "generated")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), seed=st.integers(0, 2**32 - 1))
def test_conservation(scenario, seed):
    model = MarketModel(scenario, seed=seed)
    pop = model.population
    counted = []  # users of each service per step, from the population itself
    while model.running:
        model.step()
        user = pop.state == State.USER
        assert set(np.unique(pop.state)) <= {int(s) for s in State}
        assert np.all((pop.service >= 0) == user) and np.all((pop.tier >= 0) == user)
        assert np.all(pop.service < len(model.services))
        assert np.all(np.isin(pop.tier[user], [Tier.FREE, Tier.TRIAL, Tier.PREMIUM]))
        counted.append(np.bincount(pop.service[user], minlength=len(model.services)).astype(float))
    ts = model.timeseries()
    w = scenario.weight
    users_by_service = ts.pivot(index="step", columns="service", values="mau")[[x.name for x in model.services]].to_numpy()
    np.testing.assert_allclose(users_by_service, np.array(counted) * w, rtol=1e-9)
    shares = ts.pivot(index="step", columns="service", values="market_share")[[x.name for x in model.services]].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        np.testing.assert_allclose(shares, np.array(counted) / np.array(counted).sum(axis=1, keepdims=True), rtol=1e-9)
    assert broken_identities(ts) == []
    people = ts[["unaware", "aware", "lapsed"]].iloc[:: len(model.services)].sum(axis=1).to_numpy()
    users = ts.groupby("step")["mau"].sum().to_numpy()
    np.testing.assert_allclose(people + users, pop.n * w, rtol=1e-9)
    for _, row in ts.groupby("step"):
        tiers = row["free_users"] + row["trial_users"] + row["premium_subscribers"]
        np.testing.assert_allclose(tiers, row["mau"])
        ladder = row[[c for c in ts.columns if c.startswith("loyalty_")]].sum(axis=1)
        assert np.all(np.isnan(ladder) | (np.abs(ladder - 1.0) < 1e-9) | (ladder == 0))
    for col in NON_NEGATIVE:
        v = ts[col].to_numpy(dtype=float)
        finite = v[~np.isnan(v)]
        assert np.all(np.isfinite(finite)), col
        assert np.all(finite >= -1e-9), col
    assert np.all(np.isfinite(ts["gross_profit_eur"]))
    for share in ("fill_rate", "churn_premium_monthly", "trial_conversion", "market_share", "satisfaction_mean"):
        v = ts[share].dropna()
        assert np.all((v >= -1e-12) & (v <= 1 + 1e-9)), share


def test_the_accounting_check_catches_ad_revenue_counted_twice():
    """The identities are not true by construction: a total that counts the ads twice breaks one."""
    scenario = validate_scenario({"name": "accounts", "time": {"start": "2019-06", "months": 4},
                                  "market": {"agents": 3000}, "initial": {"aware": 0.6, "focal_free": 0.3, "focal_premium": 0.1}}, "t")
    ts = simulate(scenario, np.random.SeedSequence(3)).timeseries
    assert ts["revenue_ads_eur"].sum() > 0 and broken_identities(ts) == []
    twice = ts.assign(revenue_total_eur=ts["revenue_total_eur"] + ts["revenue_ads_eur"])
    assert "total revenue = subscriptions + ads" in broken_identities(twice)
    both = ts.assign(revenue_ads_eur=2 * ts["revenue_ads_eur"], revenue_total_eur=ts["revenue_total_eur"] + ts["revenue_ads_eur"],
                     gross_profit_eur=ts["gross_profit_eur"] + ts["revenue_ads_eur"])
    assert broken_identities(both) == ["ad revenue = impressions x CPM / 1000"]
