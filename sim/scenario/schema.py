"""The scenario schema: every parameter of the market, validated, with its unit and default.

A scenario is validated into a frozen pydantic model (``extra="forbid"``). This package
is the single source of truth for parameter names, defaults, units, ranges and
descriptions: ``params``, the docs, sweeps, calibration and the dashboard all read them
from here.

Rates are per month; money is EUR (per month where it is a flow); time is
calendar months ``YYYY-MM``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

import numpy as np

from pydantic import BaseModel, Field, model_validator

from sim.scenario.fields import (SAFE_NAME, Distribution, P, PeopleSchedule, ShareSchedule, Strict, YearMonth, _month_index, _year_month,
                                 did_you_mean, linear_schedule, schedule_points)
from sim.scenario.mechanisms import Mechanisms


class TimeConfig(Strict):
    start: YearMonth = P("2015-01", "YYYY-MM", "Calendar month of the first step")
    months: int = P(120, "months", "Horizon of the simulation", ge=1, le=600)
    step: Literal["month", "week"] = P("month", "-", "Length of one step; rates are converted exactly")


def _never_falls(schedule: Any, what: str, kind: str = "population") -> None:
    """People leave a market only with a service's exit, never by a falling schedule (listeners are never removed)."""
    _, values = schedule_points(schedule)
    if np.any(np.diff(values) < 0):
        raise ValueError(f"{what}: a {kind} schedule must not decrease over time (people in reach only grow)")


DEFAULT_POPULATION = 2.0e9


class MarketConfig(Strict):
    population: PeopleSchedule | None = P(None, "people", "Real people in the market's reach: a number, or a dated schedule "
                                          "{YYYY-MM: people} (linear in between, flat outside; never decreasing; 1e3 .. 1e10); "
                                          f"default {DEFAULT_POPULATION:.1e}, or the sum of the regions' own populations")
    agents: int = P(200_000, "listeners", "Simulated listeners at the horizon's largest population; each stands for "
                    "population/agents people (people entering the market later are listeners waiting outside)", ge=100, le=50_000_000)

    @model_validator(mode="after")
    def _growing(self) -> "MarketConfig":
        if self.population is not None:
            _never_falls(self.population, "population")
        return self

    @property
    def people(self) -> float | dict[str, float]:
        """The population schedule (the default when not given)."""
        return DEFAULT_POPULATION if self.population is None else self.population


class Segment(Strict):
    name: str = Field(description="Segment name")
    share: float = P(..., "fraction", "Share of the population in this segment", ge=0, le=1)
    age_band: str = P("25-34", "-", "Age band label, for reporting")
    student: bool = P(False, "-", "Eligible for student plans")
    household_share: float = P(0.5, "fraction", "Share living with others who could share a duo/family plan", ge=0, le=1)
    wtp: Distribution = P({"dist": "lognormal", "median": 3.0, "sigma": 0.8}, "EUR/month", "Value of premium over free")
    # 0.012: with listening.ad_elasticity 0.02, +1 ad-minute/hour (2 ads) costs ~4% of free-tier hours after 21
    # months, the Pandora field experiment's ~2% per ad per hour (docs/validation.md)
    ad_sensitivity: Distribution = P({"dist": "lognormal", "median": 0.012, "sigma": 0.6}, "EUR/ad-minute", "Disutility of one minute of ads")
    outside_value: Distribution = P({"dist": "lognormal", "median": 6.0, "sigma": 0.6}, "EUR/month", "Value of the best non-streaming option")
    base_hours: Distribution = P({"dist": "lognormal", "median": 11.0, "sigma": 0.6}, "hours/month", "Listening at neutral engagement")
    privacy_sensitive: float = P(0.3, "fraction", "Share unwilling to share listening data", ge=0, le=1)
    taste_concentration: float = P(0.5, "-", "Dirichlet concentration of taste over genres (small = narrow taste)", gt=0, le=100)


def _default_segments() -> list[dict[str, Any]]:
    # About 43% of users are under 24 (case material); students are their own segment.
    return [
        {"name": "teens", "share": 0.14, "age_band": "<18", "household_share": 0.9,
         "wtp": {"dist": "lognormal", "median": 2.0, "sigma": 0.8}, "base_hours": {"dist": "lognormal", "median": 14.0, "sigma": 0.6},
         "outside_value": {"dist": "lognormal", "median": 4.0, "sigma": 0.6}, "privacy_sensitive": 0.2},
        {"name": "students", "share": 0.16, "age_band": "18-24", "student": True, "household_share": 0.3,
         "wtp": {"dist": "lognormal", "median": 2.5, "sigma": 0.8}, "base_hours": {"dist": "lognormal", "median": 15.0, "sigma": 0.6},
         "outside_value": {"dist": "lognormal", "median": 4.5, "sigma": 0.6}, "privacy_sensitive": 0.25},
        {"name": "young_adults", "share": 0.13, "age_band": "18-24", "household_share": 0.4,
         "wtp": {"dist": "lognormal", "median": 3.0, "sigma": 0.8}, "base_hours": {"dist": "lognormal", "median": 13.0, "sigma": 0.6},
         "outside_value": {"dist": "lognormal", "median": 5.0, "sigma": 0.6}, "privacy_sensitive": 0.25},
        {"name": "adults", "share": 0.22, "age_band": "25-34", "household_share": 0.6,
         "wtp": {"dist": "lognormal", "median": 3.5, "sigma": 0.8}, "base_hours": {"dist": "lognormal", "median": 11.0, "sigma": 0.6},
         "outside_value": {"dist": "lognormal", "median": 6.0, "sigma": 0.6}, "privacy_sensitive": 0.3},
        {"name": "mid_life", "share": 0.22, "age_band": "35-54", "household_share": 0.75,
         "wtp": {"dist": "lognormal", "median": 3.5, "sigma": 0.8}, "base_hours": {"dist": "lognormal", "median": 8.0, "sigma": 0.6},
         "outside_value": {"dist": "lognormal", "median": 7.0, "sigma": 0.6}, "privacy_sensitive": 0.35},
        {"name": "seniors", "share": 0.13, "age_band": "55+", "household_share": 0.6,
         "wtp": {"dist": "lognormal", "median": 3.0, "sigma": 0.8}, "base_hours": {"dist": "lognormal", "median": 6.0, "sigma": 0.6},
         "outside_value": {"dist": "lognormal", "median": 8.0, "sigma": 0.6}, "privacy_sensitive": 0.4},
    ]


class Region(Strict):
    name: str = Field(description="Region name")
    share: float | None = P(None, "fraction", "Share of the market's population in this region (every region has a share, "
                            "or every region has a population)", ge=0, le=1)
    population: PeopleSchedule | None = P(None, "people", "The region's own people (internet users): a number or a dated schedule "
                                          "{YYYY-MM: people}; x addressable_share are in reach (then market.population is "
                                          "their sum and is not given)")
    price_multiplier: float = P(1.0, "-", "Local net price as a multiple of the list price", gt=0, le=5)
    value_multiplier: float = P(1.0, "-", "Scales wtp, outside value and ad sensitivity (local purchasing power)", gt=0, le=5)
    income: float | None = P(None, "USD/person/year", "GDP per capita (World Bank, current USD): a EUR of price weighs "
                             "(choice.reference_income / income) ** choice.income_elasticity EUR here (none: 1)", gt=0, le=1e6)
    inflation_area: str | None = P(None, "-", "Area of `inflation` whose consumer prices this region's listeners and advertisers "
                                   "follow (none: no inflation)")
    addressable_share: ShareSchedule = P(1.0, "fraction", "Share of the region's `population` (internet users) a "
                                         "music-streaming service can reach at all: a smartphone with mobile data they can "
                                         "afford, on-demand music in their habits; the people in reach are population x this. "
                                         "A number or a dated schedule {YYYY-MM: share} (linear in between, flat outside; "
                                         "never decreasing; each 0 < share <= 1; fitted to the regional shares of users "
                                         "2015-2020, docs/validation.md; plausible 0.2-1)")

    @model_validator(mode="after")
    def _one_size(self) -> "Region":
        if (self.share is None) == (self.population is None):
            raise ValueError("a region has either `share` or `population`, not both nor neither")
        if self.population is None and self.addressable_share != 1.0:
            raise ValueError("addressable_share: only with the region's own `population` (a `share` is already of the "
                             "people in reach: lower the share instead)")
        if self.population is not None:
            _never_falls(self.population, "population")
            _never_falls(self.addressable_share, "addressable_share", "share")
        return self


class NetworkConfig(Strict):
    kind: Literal["small_world", "fully_mixed"] = P("small_world", "-", "Social network; fully_mixed = word of mouth from the population share")
    mean_degree: int = P(12, "friends", "Mean number of friends", ge=0, le=200)
    rewire: float = P(0.1, "probability", "Watts-Strogatz rewiring probability of a lattice tie", ge=0, le=1)
    homophily: float = P(0.6, "probability", "Probability that a rewired tie stays within the segment", ge=0, le=1)


class DiffusionConfig(Strict):
    enabled: bool = P(True, "-", "Unaware people become aware (Bass)")
    p: float = P(0.002, "1/month", "Bass innovation hazard (external influence)", ge=0, le=1)
    q: float = P(0.25, "1/month", "Bass imitation hazard at full friend adoption", ge=0, le=5)
    advocate_weight: float = P(2.0, "-", "Word-of-mouth weight of an advocate relative to a plain user", ge=0, le=20)
    friends_in_reach: bool = P(False, "-", "Word of mouth is the weighted share of a listener's friends in reach who use a "
                               "service (else of all their friends: those not yet in reach count as silent, so people "
                               "coming into reach later in the horizon lower the word of mouth of earlier months); read at the start")


class SwitchingCost(Strict):
    base: float = P(0.5, "EUR/month", "Cost of leaving the current option", ge=0, le=100)
    per_tenure_month: float = P(0.05, "EUR/month per month", "Growth of the switching cost with tenure", ge=0, le=10)
    max_tenure_months: int = P(24, "months", "Tenure beyond which the switching cost stops growing", ge=0, le=600)
    data_depth: float = P(1.5, "EUR/month", "Extra switching cost at full personalisation data depth", ge=0, le=100)


class ReferencePrice(Strict):
    enabled: bool = P(False, "-", "Prices are judged against an adapting reference price (else only a rise's trigger)")
    adapt: float = P(0.10, "1/month", "Share of the gap between the real price and the reference closed each month "
                     "(half-life ~7 months; plausible 0.05-0.25)", ge=0, le=1)
    loss_aversion: float = P(1.0, "-", "Extra weight of a real price above the reference, per EUR above it "
                             "(loss aversion; plausible 0.5-2.25)", ge=0, le=10)
    review_per_rise: float = P(0.2, "-", "Payers reconsidering at a rise per unit relative real rise (a +10% real rise: 2%; "
                               "plausible 0.1-1, from pre-2021 evidence: Netflix's +25% in 2016 cost ~0.7% of its US base "
                               "in the quarter, docs/validation.md)", ge=0, le=20)


class ChoiceConfig(Strict):
    noise_scale: float = P(1.5, "EUR/month", "Logit scale of unobserved utility (among a service's offers)", gt=0, le=100)
    plan_nest: float = P(1.0, "-", "Nested choice, a service then its free tier or a plan: the logit scale between services "
                         "and nothing is noise_scale / plan_nest (1 = one flat logit; plausible 0.3-1)", gt=0, le=1)
    service_taste: float = P(0.0, "EUR/month", "Standard deviation of a listener's persistent taste for each service "
                             "(a normal random coefficient held for life: device, bundle, catalogue fit; "
                             "sim.mechanics.tastes; 0 = services differ for a listener only by the month's noise)",
                             ge=0, le=20)
    review_rate: float = P(0.08, "1/month", "Free and trial users and aware non-users reconsidering their option", ge=0, le=1)
    premium_review_rate: float = P(0.12, "1/month", "Paying subscribers reconsidering (each bill is a decision)", ge=0, le=1)
    lapsed_review_rate: float = P(0.03, "1/month", "Lapsed listeners reconsidering", ge=0, le=1)
    price_change_review: float = P(0.25, "probability", "Subscribers whose plan's price rose who reconsider that step", ge=0, le=1)
    trial_salience: float = P(0.15, "fraction", "Share of the price a trial-eligible listener discounts when a trial is offered", ge=0, le=1)
    involuntary_churn: float = P(0.005, "1/month", "Premium payments that fail (the subscriber lapses)", ge=0, le=1)
    price_weight: float = P(1.0, "-", "Utility lost per EUR of price, relative to the EUR of the valuations (the price "
                            "coefficient; below 1 the price response is milder, fit to price-rise evidence; plausible 0.2-1)",
                            gt=0, le=5)
    income_elasticity: float = P(0.0, "-", "How fast the weight of a EUR of price falls with the region's income "
                                 "(regions[].income): 0 = the same everywhere, 1 = log utility of income; plausible 0.3-1",
                                 ge=0, le=2)
    reference_income: float = P(30000.0, "USD/person/year", "Income at which a EUR of price weighs one EUR of valuation "
                                "(with income_elasticity > 0)", gt=0, le=1e6)
    switching_cost: SwitchingCost = SwitchingCost()
    reference_price: ReferencePrice = ReferencePrice()


MAX_SERVICES = 64  # a listener's used trials are a bit mask of services (16, 32 or 64 bits: the fewest that hold them)
PlanName = Literal["individual", "student", "duo", "family"]
DEFAULT_HASSLE = {"individual": 0.0, "student": 0.5, "duo": 1.0, "family": 2.5}
DEFAULT_SEATS = {"individual": 1, "student": 1, "duo": 2, "family": 6}
DEFAULT_USERS_PER_ACCOUNT = {"individual": 1.0, "student": 1.0, "duo": 2.0, "family": 3.2}


class Plan(Strict):
    price: float = P(9.99, "EUR/month", "List price of the plan per account", ge=0, le=200)
    seats: int = P(1, "people", "Maximum people on one account (default: duo 2, family 6, else 1)", ge=1, le=12)
    users_per_account: float | None = P(None, "people", "Mean people on one account (default: 1, duo 2, family 3.2)", ge=1, le=12)
    hassle: float | None = P(None, "EUR/month", "Effort of using the plan: student verification, organising a shared account "
                             "(default: student 0.5, duo 1.0, family 2.5, else 0)", ge=0, le=100)


class RegionalPolicy(Strict):
    """A service's policy in one region: each value set here replaces the service's own there."""

    price_multiplier: float = P(1.0, "-", "Multiple of every plan's list price in this region, on top of the region's "
                                "price level (regions[].price_multiplier): 1.2 is 20% dearer there", gt=0, le=5)
    ad_load: float | None = P(None, "ad-min/hour", "Ad load of the free tier in this region (default: the service's ad_load)",
                              ge=0, le=30)
    free_tier: bool | None = P(None, "-", "Offers the free tier in this region (default: the service's free_tier)")


class ServicePolicy(Strict):
    name: str = Field(description="Service name")
    free_tier: bool = P(True, "-", "Offers an ad-supported free tier")
    ad_load: float = P(2.5, "ad-min/hour", "Ad minutes per listening hour on the free tier", ge=0, le=30)
    restriction_gap: float = P(2.0, "EUR/month", "Value of premium features missing on free (skips, on-demand)", ge=0, le=50)
    personalization: float = P(0.6, "0..1", "Investment in recommendations", ge=0, le=1)
    data_policy: Literal["opt_out", "opt_in"] = P("opt_out", "-", "Listening data collected unless refused (opt_out) or only if agreed (opt_in)")
    content_value: float = P(9.0, "EUR/month", "Catalogue breadth and quality at neutral match", ge=0, le=200)
    plans: dict[PlanName, Plan] = P({"individual": {"price": 9.99}}, "-", "Premium plans offered")
    trial_months: int = P(1, "months", "Free premium months for a first-time subscriber", ge=0, le=12)
    marketing_budget: float = P(0.0, "EUR/month", "Marketing spend", ge=0, le=1e10)
    support_staff: int = P(200, "agents", "Customer-support advisors (a fixed team, on top of support_per_1000)", ge=0, le=1_000_000)
    support_per_1000: float = P(0.0, "agents/1000 subscribers", "Customer-support advisors hired per thousand paying "
                                "subscribers (trials included): the team grows with the subscribers", ge=0, le=100)
    rak_rate: float = P(0.05, "fraction", "Share of resolved tickets that get a small personalised delight (RAK)", ge=0, le=1)
    wrapped: bool = P(False, "-", "Runs a December Wrapped-style sharing campaign")
    royalty_share: float = P(0.78, "fraction", "Share of revenue paid to rights holders (Spotify F-1: premium cost of "
                             "revenue 85%, 84%, 78% of premium revenue 2015-2017; plausible 0.65-0.85)", ge=0, le=1)
    availability: dict[str, dict[YearMonth, Annotated[float, Field(ge=0, le=1)]]] | None = P(
        None, "fraction", "Where the service may be used: region -> {YYYY-MM: share of the region's people it serves from "
        "then on} (0 before the first date; a 0 later is an exit); unlisted regions are fully served")
    regions: dict[str, RegionalPolicy] = P({}, "-", "Policy by region: region -> {price_multiplier, ad_load, free_tier}; "
                                           "unlisted regions and values follow the service's own")
    strategy: Literal["static", "match_price", "defend_share"] = P("static", "-", "Pricing rule (competitors)")
    reaction_lag: int = P(3, "months", "Months before a competitor reacts", ge=0, le=60)
    ecosystem: Literal["none", "apple", "amazon", "google"] = P(
        "none", "-", "The platform ecosystem the service belongs to: its premium plans are worth "
        "mechanisms.ecosystems.bonus more to that ecosystem's members")

    @model_validator(mode="before")
    @classmethod
    def _default_seats(cls, data: Any) -> Any:
        # a duo or family plan without `seats` gets the plan's usual size
        if isinstance(data, dict) and isinstance(data.get("plans"), dict):
            plans = {}
            for name, plan in data["plans"].items():
                if isinstance(plan, dict) and plan.get("seats") is None and name in DEFAULT_SEATS:
                    plan = {**plan, "seats": DEFAULT_SEATS[name]}
                plans[name] = plan
            data = {**data, "plans": plans}
        return data

    @model_validator(mode="after")
    def _plans(self) -> "ServicePolicy":
        if not self.plans:
            raise ValueError("a service needs at least one premium plan")
        for name, plan in self.plans.items():
            upa = plan.users_per_account or min(DEFAULT_USERS_PER_ACCOUNT[name], plan.seats)
            if upa > plan.seats:
                raise ValueError(f"plans.{name}: users_per_account ({upa}) exceeds seats ({plan.seats})")
        return self

    def hassle(self, plan: str) -> float:
        """Non-price cost of a plan per user, EUR/month."""
        h = self.plans[plan].hassle
        return DEFAULT_HASSLE[plan] if h is None else h

    def users_per_account(self, plan: str) -> float:
        p = self.plans[plan]
        return p.users_per_account or min(DEFAULT_USERS_PER_ACCOUNT[plan], float(p.seats))


def _default_focal() -> dict[str, Any]:
    return {"name": "Spotify", "free_tier": True, "ad_load": 2.5, "personalization": 0.6, "content_value": 9.0,
            "plans": {"individual": {"price": 9.99}, "student": {"price": 4.99}, "family": {"price": 14.99, "seats": 6}},
            "wrapped": True, "marketing_budget": 18e6, "support_staff": 300}


class Services(Strict):
    focal: ServicePolicy = Field(default_factory=lambda: ServicePolicy(**_default_focal()))
    competitors: list[ServicePolicy] = Field(default_factory=list, description="Other services", max_length=MAX_SERVICES - 1)

    @model_validator(mode="after")
    def _names(self) -> "Services":
        names = [self.focal.name] + [c.name for c in self.competitors]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"service names must be unique, repeated: {sorted(dup)}")
        return self

    def all(self) -> list[ServicePolicy]:
        """The focal service first, then the competitors in file order."""
        return [self.focal, *self.competitors]


class InitialState(Strict):
    aware: float = P(0.30, "fraction", "Share of the population aware of streaming at the start (users included)", ge=0, le=1)
    focal_free: float = P(0.027, "fraction", "Share of the population on the focal free tier", ge=0, le=1)
    focal_premium: float = P(0.0075, "fraction", "Share of the population on focal premium", ge=0, le=1)
    competitor: float = P(0.0, "fraction", "Share of the population with a competitor (split evenly)", ge=0, le=1)
    tenure_months: int = P(24, "months", "Initial users' tenure is uniform on 0..this", ge=0, le=240)

    @model_validator(mode="after")
    def _nested(self) -> "InitialState":
        users = self.focal_free + self.focal_premium + self.competitor
        if users > self.aware + 1e-12:
            raise ValueError(f"focal_free + focal_premium + competitor ({users:g}) must not exceed aware ({self.aware:g})")
        return self


# ---------------------------------------------------------------- timeline


class Outage(Strict):
    service: str = Field("focal", description="Service name, or 'focal'")
    days: float = P(1.0, "days", "Duration of the outage", gt=0, le=31)
    severity: float = P(0.3, "0..1", "Share of functionality lost", ge=0, le=1)


class TimelineEvent(Strict):
    at: YearMonth = Field(description="Calendar month YYYY-MM the event applies")
    set: dict[str, Any] | None = Field(None, description="Key paths and their new values")
    outage: Outage | None = None
    enter: ServicePolicy | None = Field(None, description="A service entering the market (same keys as services.competitors[])")
    exit: str | None = Field(None, description="Name of a service leaving the market: its users choose again that month")
    note: str | None = Field(None, description="Free text, for reports")

    @model_validator(mode="after")
    def _something(self) -> "TimelineEvent":
        if self.set is None and self.outage is None and self.enter is None and self.exit is None:
            raise ValueError("an event needs `set`, `outage`, `enter` or `exit`")
        return self


# ---------------------------------------------------------------- scenario


class Scenario(Strict):
    name: str = Field("baseline", description="Scenario name (names the output folder)", pattern=SAFE_NAME)
    description: str = Field("", description="What the scenario is for")
    seed: int = P(42, "-", "Root seed; replicate r uses SeedSequence(seed).spawn(R)[r]", ge=0)
    replicates: int = P(8, "runs", "Independent replicates", ge=1, le=1000)
    time: TimeConfig = TimeConfig()
    market: MarketConfig = MarketConfig()
    segments: list[Segment] = Field(default_factory=lambda: [Segment(**s) for s in _default_segments()], min_length=1)
    regions: list[Region] = Field(default_factory=lambda: [Region(name="world", share=1.0)], min_length=1)
    network: NetworkConfig = NetworkConfig()
    diffusion: DiffusionConfig = DiffusionConfig()
    choice: ChoiceConfig = ChoiceConfig()
    services: Services = Services()
    initial: InitialState = InitialState()
    mechanisms: Mechanisms = Mechanisms()
    timeline: list[TimelineEvent] = Field(default_factory=list)
    inflation: dict[str, dict[int, Annotated[float, Field(ge=-50, le=1000)]]] = P(
        {}, "percent/year", "Annual consumer-price inflation by area and year (years after the last keep its rate)")

    @model_validator(mode="before")
    @classmethod
    def _within_horizon(cls, data: Any) -> Any:
        """Timeline events after the horizon's end are left out: the run never reaches them. One rule for a
        file, a shorter ``--set time.months``, a sweep's or an optimisation's horizon and the files they write."""
        if not isinstance(data, dict) or not data.get("timeline"):
            return data
        time = data.get("time") or {}
        if not isinstance(time, dict):
            time = time.model_dump() if isinstance(time, BaseModel) else {}  # a malformed `time` is validation's to report
        try:
            end = _month_index(_year_month(str(time.get("start", "2015-01")))) + int(time.get("months", 120))
            at = [ev["at"] if isinstance(ev, dict) else ev.at for ev in data["timeline"]]
            kept = [ev for ev, month in zip(data["timeline"], at) if _month_index(_year_month(str(month))) < end]
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):  # OverflowError: months .inf
            return data  # validation reports the bad value
        return {**data, "timeline": kept}

    @model_validator(mode="after")
    def _consistent(self) -> "Scenario":
        # within a quarter listener of the market's size, so that the exact allocation of listeners to
        # groups (largest remainder) always adds up to market.agents
        tolerance = min(1e-6, 0.25 / self.market.agents)
        sized = [r.population is not None for r in self.regions]
        if any(sized) and not all(sized):
            raise ValueError("regions: either every region has a `share` or every region has a `population`")
        if all(sized) and self.market.population is not None:
            raise ValueError("market.population: not given when the regions carry their own populations (it is their sum)")
        for field, items in (("segments", self.segments), ("regions", self.regions)):
            if field == "regions" and all(sized):
                continue
            total = sum(s.share for s in items)
            if abs(total - 1.0) > tolerance:
                raise ValueError(f"{field}: shares sum to {total:.10g}; they must sum to 1 "
                                 f"(within {tolerance:.2g} at {self.market.agents:,} listeners)")
            names = [s.name for s in items]
            if len(set(names)) != len(names):
                raise ValueError(f"{field}: names must be unique")
        if self.initial.competitor > 0 and not self.services.competitors:
            raise ValueError(f"initial.competitor: must be 0 when services.competitors is empty (got {self.initial.competitor:g})")
        start = _month_index(self.time.start)
        for k, ev in enumerate(self.timeline):
            offset = _month_index(ev.at) - start
            if offset < 0:  # those after the end were left out (_within_horizon)
                raise ValueError(f"timeline.{k}.at: {ev.at} is before the start {self.time.start}")
            if ev.outage and ev.outage.service != "focal" and ev.outage.service not in [s.name for s in self.all_services()]:
                raise ValueError(f"timeline.{k}.outage.service: unknown service {ev.outage.service!r}")
        self._entries_and_exits()
        for r in self.regions:
            if r.inflation_area is not None and r.inflation_area not in self.inflation:
                raise ValueError(f"regions.{r.name}.inflation_area: {r.inflation_area!r} is not an area of `inflation`"
                                 f"{did_you_mean(r.inflation_area, list(self.inflation))}; areas: {list(self.inflation)}")
        regions = [r.name for r in self.regions]
        for s in self.all_services():
            for key, names in (("availability", s.availability or {}), ("regions", s.regions)):
                for name in names:
                    if name not in regions:
                        raise ValueError(f"services.{s.name}.{key}.{name}: unknown region {name!r}{did_you_mean(name, regions)}; "
                                         f"regions are {regions}")
        for name in self.mechanisms.ecosystems.shares:
            if name not in regions:
                raise ValueError(f"mechanisms.ecosystems.shares.{name}: unknown region {name!r}{did_you_mean(name, regions)}; "
                                 f"regions are {regions}")
        return self

    def _entries_and_exits(self) -> None:
        """Entrants have new names; an exit names a service in the market by then, never the focal one."""
        present = [s.name for s in self.services.all()]
        everyone = present + [ev.enter.name for ev in self.timeline if ev.enter]
        if len(set(everyone)) != len(everyone):
            raise ValueError(f"timeline: an entering service reuses a name: {sorted({n for n in everyone if everyone.count(n) > 1})}")
        if len(everyone) > MAX_SERVICES:
            raise ValueError(f"timeline: {len(everyone)} services in all; at most {MAX_SERVICES} (focal, competitors and entrants)")
        order = sorted(range(len(self.timeline)), key=lambda k: (_month_index(self.timeline[k].at), self.timeline[k].exit is not None))
        for k in order:
            ev = self.timeline[k]
            if ev.enter:
                present.append(ev.enter.name)
            if ev.exit is not None:
                if ev.exit == self.services.focal.name:
                    raise ValueError(f"timeline.{k}.exit: the focal service {ev.exit!r} cannot leave the market")
                if ev.exit not in present:
                    raise ValueError(f"timeline.{k}.exit: {ev.exit!r} is not in the market on {ev.at}"
                                     f"{did_you_mean(ev.exit, present)}; services then: {present}")
                present.remove(ev.exit)

    def all_services(self) -> list[ServicePolicy]:
        """Every service of the run: the focal service, the competitors, then the entrants in timeline order."""
        return [*self.services.all(), *(ev.enter for ev in self.timeline if ev.enter)]

    def region_population(self, months: np.ndarray) -> np.ndarray:
        """People in reach per region at month indices ``months`` (a region's own population x its addressable
        share), shape (R, len(months))."""
        if self.regions[0].population is not None:
            return np.array([linear_schedule(r.population, months) * linear_schedule(r.addressable_share, months)
                             for r in self.regions])
        total = linear_schedule(self.market.people, months)
        return np.array([r.share * total for r in self.regions])

    def horizon_months(self) -> np.ndarray:
        """Month index (year*12 + month-1) of each month of the horizon, shape (time.months,)."""
        return _month_index(self.time.start) + np.arange(self.time.months)

    def region_capacity(self) -> np.ndarray:
        """People per region at the horizon's largest (schedules never fall: the last month), shape (R,)."""
        return self.region_population(self.horizon_months()[-1:])[:, 0]

    @property
    def weight(self) -> float:
        """Real people represented by one simulated listener (the horizon's largest population over the agents)."""
        if self.regions[0].population is not None:
            return float(self.region_capacity().sum()) / self.market.agents
        return float(linear_schedule(self.market.people, self.horizon_months()[-1:])[0]) / self.market.agents



# ---------------------------------------------------------------- navigating the schema


@dataclass(frozen=True)
class _MappingOf:
    """Schema marker: a ``dict[K, item]`` whose keys are ``keys`` (a Literal) or free (None)."""

    item: Any
    keys: tuple[str, ...] | None


_DIST = object()  # schema marker: a distribution, whose fields depend on its `dist`


def _allowed_keys(model: Any, node: dict[str, Any]) -> list[str]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    if isinstance(model, _MappingOf) and model.keys is not None:
        return list(model.keys)
    return list(node)


def _child_model(model: Any, key: str) -> Any:
    """The schema type found under ``key`` of ``model`` (a model class or a marker)."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        ann = model.model_fields[key].annotation
        if get_origin(ann) is dict:
            key_type, item = get_args(ann)
            return _MappingOf(_inner_model(item), get_args(key_type) or None)
        if ann == get_args(Distribution)[0]:  # pydantic keeps the union without its Annotated metadata
            return _DIST
        return _inner_model(ann)
    if isinstance(model, _MappingOf):
        return model.item
    return model


def _inner_model(tp: Any) -> Any:
    """The BaseModel inside list[...]/dict[..., ...]/Optional[...], or the type itself."""
    origin = get_origin(tp)
    if origin is None:
        return tp
    for arg in reversed(get_args(tp)):
        inner = _inner_model(arg)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    return tp
