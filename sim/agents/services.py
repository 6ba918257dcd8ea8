"""Services: the focal service and its competitors, one ``mesa.Agent`` class for all.

A service holds its policy (plans and prices, free tier and ad load, personalisation,
trials, support, marketing, Wrapped), reacts to the market with its pricing
``strategy`` (competitors). Each step the model takes a
:class:`ServiceTable`, the services' current offers as arrays, for the listener
mechanisms.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

from typing import get_args

from sim.agents import mesa_ids
from sim.mechanics.ecosystems import service_bonus
from sim.scenario import PlanName, ServicePolicy

mesa_ids.install()  # no model may outlive its run (Mesa 3.3 keeps them all; fixed upstream in 3.4.2)

PLAN_NAMES: tuple[str, ...] = get_args(PlanName)

MIN_MATCHED_LIST_EUR = 0.01  # a match_price competitor with a lower headline list price keeps it


class Service(mesa.Agent):
    """A streaming service competing for listeners.

    Attributes
    ----------
    index : int
        Position in the model's service list (0 is the focal service).
    policy : ServicePolicy
        The offer now, read from the model's running policy (``model.policy``), which the
        timeline and the dashboard change.
    price_multiplier : float
        Adaptive factor on every list price (competitor strategies), 1 = list price.
    """

    def __init__(self, model: mesa.Model, index: int, focal: bool):
        super().__init__(model)
        self.index = index
        self.focal = focal
        self.price_multiplier = 1.0

    @property
    def policy(self) -> ServicePolicy:
        return self.model.policy.of(self.index)

    @property
    def name(self) -> str:
        return self.policy.name

    def price(self, plan: str) -> float:
        """Current price of a plan per account, EUR/month (NaN if not offered)."""
        p = self.policy.plans.get(plan)
        return float("nan") if p is None else p.price * self.price_multiplier

    @property
    def headline_plan(self) -> str:
        return "individual" if "individual" in self.policy.plans else next(iter(self.policy.plans))

    def react(self, focal_prices: list[float], shares: list[float], steps_lag: int, cfg) -> None:
        """Apply the pricing strategy to last steps' market (competitors only).

        ``focal_prices`` is the focal service's headline price (EUR/month) at every step up to
        this one; ``shares`` this service's market share at every past step. A competitor
        sees the market ``steps_lag`` steps late.
        """
        if self.focal or self.policy.strategy == "static" or not cfg.enabled or not focal_prices:
            return
        own_list = self.policy.plans[self.headline_plan].price
        if self.policy.strategy == "match_price":
            seen = focal_prices[max(len(focal_prices) - 1 - steps_lag, 0)]
            if own_list >= MIN_MATCHED_LIST_EUR:  # below a cent the ratio is meaningless (and overflows near 0)
                self.price_multiplier = max(seen / own_list, cfg.price_floor)
        elif self.policy.strategy == "defend_share" and len(shares) > steps_lag:
            now, before = shares[-1], shares[-1 - steps_lag]
            if before - now > cfg.defend_threshold:
                self.price_multiplier = max(self.price_multiplier * (1 - cfg.defend_step), cfg.price_floor)
            elif now >= before:
                self.price_multiplier = min(self.price_multiplier * (1 + cfg.defend_step), 1.0)


@dataclass(frozen=True)
class ListPrices:
    """Each service's list price of its individual and of its headline plan, EUR/month per account, (S,)
    (NaN where not offered): the step's result ``prices``, read by the KPIs of the same names."""

    price_individual_eur: np.ndarray
    price_headline_eur: np.ndarray

    @classmethod
    def of(cls, services: list[Service]) -> "ListPrices":
        return cls(np.array([x.price("individual") for x in services]), np.array([x.price(x.headline_plan) for x in services]))


@dataclass(frozen=True)
class ServiceTable:
    """The services' current offers as arrays of shape (n_services,) (plans: (n_services, n_plans))."""

    n: int
    names: list[str]
    plan_names: tuple[str, ...]
    free_tier: np.ndarray  # bool: a free tier in at least one region
    free_in: np.ndarray  # bool (S, R): the free tier is offered in the region
    ad_load: np.ndarray  # (S, R) ad-min/hour in each region (0 where no free tier there)
    region_price: np.ndarray  # (S, R) local net price as a multiple of the list price (region level x regional multiple)
    restriction_gap: np.ndarray  # EUR/month
    personalization: np.ndarray  # 0..1
    opt_in: np.ndarray  # bool: data policy is opt-in
    content_value: np.ndarray  # EUR/month
    trial_months: np.ndarray  # months
    salience: np.ndarray  # EUR/month, marketing pull on newcomers
    plan_price: np.ndarray  # EUR/month per account, NaN where not offered
    users_per_account: np.ndarray  # people per account
    plan_hassle: np.ndarray  # EUR/month per user, non-price cost of the plan
    royalty_share: np.ndarray  # fraction
    wrapped: np.ndarray  # bool
    ecosystem: np.ndarray  # uint8: the platform ecosystem the service belongs to, 0 none (sim.mechanics.ecosystems)
    ecosystem_bonus: np.ndarray  # EUR/month: its premium plans' bonus to that ecosystem's members (0 with the mechanism off)

    @classmethod
    def of(cls, services: list[Service], salience: np.ndarray, regional, ecosystems_cfg) -> "ServiceTable":
        """The offers of ``services`` now; ``salience`` (S,) their marketing pull, ``regional`` their
        policies by region (:class:`sim.policy.RegionalOffers`), ``ecosystems_cfg`` the scenario's
        ``mechanisms.ecosystems``."""
        pol = [s.policy for s in services]
        ecosystem, bonus = service_bonus([p.ecosystem for p in pol], ecosystems_cfg)
        price = np.array([[s.price(p) for p in PLAN_NAMES] for s in services], dtype=np.float64)
        upa = np.array([[s.policy.users_per_account(p) if p in s.policy.plans else 1.0 for p in PLAN_NAMES] for s in services])
        hassle = np.array([[s.policy.hassle(p) if p in s.policy.plans else 0.0 for p in PLAN_NAMES] for s in services])
        return cls(
            n=len(services), names=[p.name for p in pol], plan_names=PLAN_NAMES,
            free_tier=regional.free_tier.any(axis=1), free_in=regional.free_tier,
            ad_load=regional.ad_load.astype(np.float32), region_price=regional.price_multiplier.astype(np.float32),
            restriction_gap=np.array([p.restriction_gap for p in pol], dtype=np.float32),
            personalization=np.array([p.personalization for p in pol], dtype=np.float32),
            opt_in=np.array([p.data_policy == "opt_in" for p in pol]),
            content_value=np.array([p.content_value for p in pol], dtype=np.float32),
            trial_months=np.array([p.trial_months for p in pol]),
            salience=salience.astype(np.float32),
            plan_price=price, users_per_account=upa, plan_hassle=hassle,
            royalty_share=np.array([p.royalty_share for p in pol]),
            wrapped=np.array([p.wrapped for p in pol]),
            ecosystem=ecosystem, ecosystem_bonus=bonus,
        )
